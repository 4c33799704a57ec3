"""The real-data frame interface: image reading errors name the file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ssmp3d.data.frames import MAX_IMAGE_BYTES, DatasetError, image_signature, read_image
from bad_files import huge_png  # noqa: E402


def test_read_image_round_trip_and_errors(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (12, 20, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "ok.png"), image)
    assert np.array_equal(read_image(tmp_path / "ok.png"), image)
    with pytest.raises(DatasetError, match="missing.jpg: no such image"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match="empty.jpg: not a decodable"):
        read_image(tmp_path / "empty.jpg")
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DatasetError, match="junk.jpg"):
        read_image(tmp_path / "junk.jpg")


def test_read_image_turns_every_failure_into_a_dataset_error(tmp_path, monkeypatch):
    """cv2.error (a header claiming 10^10 pixels), PermissionError, a file too large to hold (MemoryError)
    and an allocation failure all become one-line DatasetErrors naming the file."""
    with pytest.raises(DatasetError, match="huge.png: image too large to decode"):
        read_image(huge_png(tmp_path / "huge.png"))
    sparse = tmp_path / "sparse.jpg"
    with open(sparse, "wb") as f:
        f.truncate(MAX_IMAGE_BYTES + 1)  # no disk used
    with pytest.raises(DatasetError, match=rf"sparse.jpg: file of {MAX_IMAGE_BYTES + 1} bytes, larger than"):
        read_image(sparse)
    ok = tmp_path / "ok.png"
    cv2.imwrite(str(ok), np.zeros((4, 4, 3), np.uint8))

    def refuse(error):
        def fromfile(*args, **kwargs):
            raise error
        return fromfile

    monkeypatch.setattr(np, "fromfile", refuse(PermissionError(13, "Permission denied")))
    with pytest.raises(DatasetError, match=r"ok.png: cannot read the file \(Permission denied\)"):
        read_image(ok)
    monkeypatch.setattr(np, "fromfile", refuse(MemoryError()))
    with pytest.raises(DatasetError, match="ok.png: not enough memory to read the file"):
        read_image(ok)


def test_image_signature():
    assert image_signature(__file__) is None
    assert image_signature("/no/such/file") is None

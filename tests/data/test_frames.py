"""The real-data frame interface: image reading errors name the file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ssmp3d.data.frames import DatasetError, read_image


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

"""Inputs of ssmp3d predict: image, folder, video; names of per-image outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssmp3d.data.frames import image_signature
from ssmp3d.predict.sources import Video, describe_input, kept_count, output_names

cv2 = pytest.importorskip("cv2")


def write_video(path: Path, frames: int, size=(96, 64), fourcc: str = "mp4v") -> Path:
    """A small test video (mp4v in .mp4 and MJPG in .avi both work with opencv-python-headless)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))
    writer.release()
    return path


def test_describe_input(tmp_path):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    assert describe_input(image).kind == "image" and describe_input(image).images == (image,)
    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("b.jpg", "a.png", ".hidden", "c.txt"):
        (folder / name).write_bytes(b"x")
    (folder / "sub").mkdir()
    spec = describe_input(folder)
    assert spec.kind == "folder" and [p.name for p in spec.images] == ["a.png", "b.jpg", "c.txt"]
    (tmp_path / "clip.MP4").touch()
    assert describe_input(tmp_path / "clip.MP4").kind == "video"
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="empty folder"):
        describe_input(empty)
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        describe_input(tmp_path / "missing.jpg")


def test_output_names_disambiguate_stems():
    paths = [Path("x/a.jpg"), Path("x/a.png"), Path("x/b.png")]
    assert output_names(paths, ".jpg") == ["a.jpg.jpg", "a.png.jpg", "b.jpg"]


@pytest.mark.parametrize("name,fourcc", [("v.mp4", "mp4v"), ("v.avi", "MJPG")])
def test_video_frames_shard_by_rank(tmp_path, name, fourcc):
    path = write_video(tmp_path / name, 7, fourcc=fourcc)
    with Video(path) as v:
        assert (v.width, v.height, v.fps) == (96, 64, 10.0) and v.frame_count == 7
        assert [f for f, _ in v.frames()] == list(range(7))
    seen = []
    for r in range(3):
        with Video(path) as v:
            frames = list(v.frames(r, 3))
            seen += [f for f, _ in frames]
            assert all(im.shape == (64, 96, 3) for _, im in frames)
            with pytest.raises(ValueError, match="once"):
                next(v.frames())
    assert sorted(seen) == list(range(7))


def test_bad_videos(tmp_path):
    garbage = tmp_path / "bad.mp4"
    garbage.write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match="bad.mp4: cannot open the video|bad.mp4: the video holds no"):
        Video(garbage)


def test_video_frames_every_and_max_frames_by_rank(tmp_path):
    path = write_video(tmp_path / "v.avi", 11, fourcc="MJPG")
    with Video(path) as v:
        assert [f for f, _ in v.frames(every=3)] == [0, 3, 6, 9]
    with Video(path) as v:
        assert [f for f, _ in v.frames(every=2, max_frames=3)] == [0, 2, 4]
    with Video(path) as v:  # kept frame k belongs to rank k % 2
        assert [f for f, _ in v.frames(1, 2, every=3)] == [3, 9]
    with Video(path) as v:
        frames = dict(v.frames(every=5))
    assert sorted(frames) == [0, 5, 10] and abs(float(frames[5].mean()) - 100) < 8  # frame 5 is grey 100
    assert kept_count(11, 3) == 4 and kept_count(11, 2, 3) == 3 and kept_count(0, 4) == 0


def test_an_image_named_like_a_video_is_refused(tmp_path):
    fake = tmp_path / "still.mp4"
    ok, data = cv2.imencode(".png", np.zeros((20, 30, 3), np.uint8))
    fake.write_bytes(data.tobytes())
    with pytest.raises(ValueError, match="still.mp4: a PNG image named like a video"):
        Video(fake)
    assert image_signature(fake) == "PNG" and image_signature(write_video(tmp_path / "v.avi", 1, fourcc="MJPG")) is None

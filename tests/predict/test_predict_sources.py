"""Inputs of ssmp3d predict: image, folder, video; names of per-image outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssmp3d.predict.sources import Video, describe_input, output_names

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

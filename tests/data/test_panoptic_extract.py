"""Frame extraction from Panoptic HD videos: layout, frame numbering, resume, atomic writes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from panoptic_tree import build_sequence

from ssmp3d.data.frames import DatasetError, read_image
from ssmp3d.data.panoptic import PanopticDataset, image_path
from ssmp3d.data.panoptic_extract import (
    extract_frames,
    extract_video,
    is_complete_jpeg,
    plan_extraction,
    video_path,
)

cv2 = pytest.importorskip("cv2")

SIZE = (64, 48)


def _level(i: int) -> int:
    return 10 + 20 * i


def write_video(path, frames: int = 12):
    """An .mp4 (MPEG-4 part 2, 'mp4v': what this OpenCV writes) whose frame i is flat grey 10 + 20 i."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, SIZE)
    if not writer.isOpened():
        pytest.skip("this OpenCV cannot write mp4 videos")
    for i in range(frames):
        writer.write(np.full((SIZE[1], SIZE[0], 3), _level(i), np.uint8))
    writer.release()
    return path


def _frame_numbers(files) -> list[int]:
    """Which video frame each image holds, from its grey level (the codec moves levels by a few units)."""
    return [int(round((read_image(f).mean() - 10) / 20)) for f in files]


def test_every_frame_numbered_from_zero(tmp_path):
    seq = build_sequence(tmp_path, "160422_haggling1", range(3))
    write_video(video_path(tmp_path, seq.name, "00_16"))
    write_video(video_path(tmp_path, seq.name, "00_30"), frames=5)
    ticks = []
    report = extract_frames(tmp_path, [seq.name], progress=ticks.append)
    assert report["written"] == 17 and report["skipped"] == 0 and sum(ticks) == 17
    assert report["videos"]["160422_haggling1/00_30"] == {"written": 5, "skipped": 0, "missing": 0, "video_frames": 5}
    files = [image_path(tmp_path, seq.name, "00_16", i) for i in range(12)]
    assert all(is_complete_jpeg(f) for f in files)
    assert sorted(p.name for p in files[0].parent.iterdir()) == [f"00_16_{i:08d}.jpg" for i in range(12)]
    assert _frame_numbers(files) == list(range(12))
    # The loader finds the images of its frames.
    ds = PanopticDataset(tmp_path, sequences=[seq.name])
    assert all(f.image_path.is_file() for f in ds)


def test_every_and_only_annotated(tmp_path):
    seq = build_sequence(tmp_path, "160906_pizza1", [2, 3, 5, 8, 9, 20])
    write_video(video_path(tmp_path, seq.name, "00_16"))
    out = image_path(tmp_path, seq.name, "00_16", 0).parent
    report = extract_frames(tmp_path, [seq.name], ["00_16"], every=4)
    assert sorted(p.name[-12:-4] for p in out.iterdir()) == ["00000000", "00000004", "00000008"]
    assert report["written"] == 3
    for p in out.iterdir():
        p.unlink()
    # Annotated frames 2, 3, 5, 8, 9, 20; every 2nd of them: 2, 5, 9 (the loader's every=2 list); 20 is past the end.
    report = extract_frames(tmp_path, [seq.name], ["00_16"], only_annotated=True, every=2)
    assert sorted(p.name[-12:-4] for p in out.iterdir()) == ["00000002", "00000005", "00000009"]
    assert report["written"] == 3 and report["missing"] == 0
    loader = PanopticDataset(tmp_path, sequences=[seq.name], cameras=["00_16"], every=2)
    assert [f.key[-8:] for f in loader] == ["00000002", "00000005", "00000009"]
    report = extract_frames(tmp_path, [seq.name], ["00_16"], only_annotated=True)
    assert report["written"] == 2 and report["skipped"] == 3 and report["missing"] == 1  # 3, 8 new; 20 missing
    assert _frame_numbers(sorted(out.iterdir())) == [2, 3, 5, 8, 9]


def test_resume_after_an_interrupted_run(tmp_path):
    seq = build_sequence(tmp_path, "160422_mafia2", range(2))
    video = write_video(video_path(tmp_path, seq.name, "00_30"))
    out = image_path(tmp_path, seq.name, "00_30", 0).parent

    class Crash(Exception):
        pass

    def crash_after(n):
        count = [0]

        def tick(k):
            count[0] += k
            if count[0] >= n:
                raise Crash
        return tick

    with pytest.raises(Crash):
        extract_video(video, out, "00_30", progress=crash_after(5))
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"00_30_{i:08d}.jpg" for i in range(5)]  # whole images only, no temporary left
    # A torn image (as another tool might leave) and a stale temporary from a killed run.
    torn = out / "00_30_00000003.jpg"
    torn.write_bytes(torn.read_bytes()[:50])
    assert not is_complete_jpeg(torn)
    (out / ".partial-00_30_00000006.jpg").write_bytes(b"\xff\xd8 half")
    stats = extract_video(video, out, "00_30")
    assert stats == {"written": 8, "skipped": 4, "missing": 0, "video_frames": 12}
    assert sorted(p.name for p in out.iterdir()) == [f"00_30_{i:08d}.jpg" for i in range(12)]
    assert all(is_complete_jpeg(p) for p in out.iterdir())
    again = extract_video(video, out, "00_30")
    assert again["written"] == 0 and again["skipped"] == 12
    # Asked-for frames all present: the video is not even opened.
    video.write_bytes(b"gone")
    assert extract_video(video, out, "00_30", frames=[1, 2])["skipped"] == 2


def test_missing_and_unreadable_videos_are_named(tmp_path):
    seq = build_sequence(tmp_path, "160422_ultimatum1", range(2))
    with pytest.raises(DatasetError, match="hd_00_16.mp4: no such video file"):
        plan_extraction(tmp_path, [seq.name])
    bad = video_path(tmp_path, seq.name, "00_16")
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"this is not a video")
    with pytest.raises(DatasetError) as info:
        extract_video(bad, tmp_path / "out", "00_16")
    assert str(bad) in str(info.value) and "cannot open" in str(info.value)
    with pytest.raises(DatasetError, match="no such sequence folder"):
        plan_extraction(tmp_path, ["160422_nothing1"])
    with pytest.raises(DatasetError, match="no such dataset folder"):
        plan_extraction(tmp_path / "none")
    with pytest.raises(ValueError, match="every"):
        plan_extraction(tmp_path, [seq.name], every=0)


def test_plan_counts_frames_for_the_progress_bar(tmp_path):
    seq = build_sequence(tmp_path, "160422_haggling1", [1, 4])
    write_video(video_path(tmp_path, seq.name, "00_16"), frames=7)
    write_video(video_path(tmp_path, seq.name, "00_30"), frames=7)
    jobs = plan_extraction(tmp_path, [seq.name])
    assert [(j.camera, j.frames, j.expected_frames) for j in jobs] == [("00_16", None, 7), ("00_30", None, 7)]
    jobs = plan_extraction(tmp_path, [seq.name], ["00_30"], only_annotated=True)
    assert [(j.frames, j.expected_frames) for j in jobs] == [((1, 4), 5)]


def test_an_image_named_like_a_video_is_refused(tmp_path):
    """A PNG renamed .mp4 was 'extracted' as a one-frame video (or reported '0 written'); now an error naming it."""
    seq = build_sequence(tmp_path, "160422_haggling1", range(2))
    fake = video_path(tmp_path, seq.name, "00_16")
    fake.parent.mkdir(parents=True)
    ok, data = cv2.imencode(".png", np.zeros((48, 64, 3), np.uint8))
    fake.write_bytes(data.tobytes())
    write_video(video_path(tmp_path, seq.name, "00_30"), frames=2)
    with pytest.raises(DatasetError, match="hd_00_16.mp4: a PNG image, not a video"):
        plan_extraction(tmp_path, [seq.name])
    with pytest.raises(DatasetError, match="hd_00_16.mp4: a PNG image, not a video"):
        extract_video(fake, tmp_path / "out", "00_16")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_image_folder_under_a_file_names_it(tmp_path):
    seq = build_sequence(tmp_path, "160422_haggling1", range(2))
    video = write_video(video_path(tmp_path, seq.name, "00_16"), frames=2)
    (seq / "hdImgs").write_text("not a folder")
    with pytest.raises(DatasetError, match=r"hdImgs/00_16: cannot make the image folder \(.*hdImgs is a file"):
        extract_video(video, seq / "hdImgs" / "00_16", "00_16")


def test_a_video_without_frames_is_an_error(tmp_path, monkeypatch):
    """A file OpenCV opens but reads no frame from was '0 written', exit 0."""
    video = write_video(tmp_path / "v.mp4", frames=2)

    class Empty:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return True

        def grab(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoCapture", Empty)
    with pytest.raises(DatasetError, match="v.mp4: the video holds no readable frame"):
        extract_video(video, tmp_path / "out", "00_16")

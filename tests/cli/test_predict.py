"""ssmp3d predict: images, folders and videos end to end; bad input exits 2 with one line."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from ssmp3d.cli.main import main
from bad_files import huge_png  # noqa: E402

cv2 = pytest.importorskip("cv2")


def _args(path, out, ckpt, *extra):
    return ["predict", str(path), "--out", str(out), "--checkpoint", str(ckpt), "--device", "cpu", *extra]


def test_image_folder_and_video(tmp_path, tiny_checkpoint, capsys):
    rng = np.random.default_rng(0)
    image = tmp_path / "one.jpg"
    cv2.imwrite(str(image), rng.integers(0, 256, (50, 80, 3), np.uint8))
    assert main(_args(image, tmp_path / "o1", tiny_checkpoint, "--det-threshold", "-1", "--json")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 1 and summary["people"] > 0 and summary["joints"][0] == "neck"
    assert summary["threads"] == "adaptive" and summary["pipeline"] is True
    assert sum(summary["batches_per_thread_count"].values()) == 1
    line = json.loads((tmp_path / "o1" / "predictions.jsonl").read_text())
    assert line["source"] == str(image) and (line["width"], line["height"]) == (80, 50)

    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (40, 40 + 10 * i, 3), np.uint8))
    (folder / "readme.txt").write_text("hello")
    assert main(_args(folder, tmp_path / "o2", tiny_checkpoint, "--overlay", "--batch-size", "2")) == 0
    captured = capsys.readouterr()
    assert "predicted 3 images" in captured.out and "1 bad file not predicted" in captured.out
    assert captured.err.strip().splitlines() == [
        f"ssmp3d predict: skipped {folder / 'readme.txt'}: not a decodable image"]
    assert len(list((tmp_path / "o2" / "overlay").iterdir())) == 3

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for _ in range(4):
        writer.write(rng.integers(0, 256, (48, 64, 3), np.uint8))
    writer.release()
    assert main(_args(video, tmp_path / "o3", tiny_checkpoint, "--overlay", "--json")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "video" and summary["frames"] == 4
    assert (tmp_path / "o3" / "clip_overlay.mp4").stat().st_size > 0


def test_bad_input_exits_2_with_one_line(tmp_path, tiny_checkpoint, checkpoint_factory, capsys):
    def fails(args, *needles):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        for needle in needles:
            assert needle in err, err

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really")
    # A single unreadable image is the job's error: one line (it was reported twice).
    fails(_args(broken, tmp_path / "o", tiny_checkpoint), "ssmp3d predict: error:", "broken.jpg: not a decodable")
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(_args(empty, tmp_path / "o", tiny_checkpoint), "empty folder")
    fails(_args(tmp_path / "nothing.png", tmp_path / "o", tiny_checkpoint), "nothing.png: no such file")
    bad_video = tmp_path / "bad.mp4"
    bad_video.write_bytes(b"\x00" * 64)
    fails(_args(bad_video, tmp_path / "o", tiny_checkpoint), "bad.mp4")
    h36m = checkpoint_factory("h36m.pt", num_joints=17)
    image = tmp_path / "ok.png"
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    fails(_args(image, tmp_path / "o", h36m, "--skeleton", "panoptic19"), "h36m17", "panoptic19")
    fails(_args(image, tmp_path / "o", checkpoint_factory("k5.pt", num_joints=5)), "5 joints")
    fails(_args(image, tmp_path / "o", tmp_path / "none.pt"), "no such checkpoint")
    fails(_args(image, tmp_path / "o", tiny_checkpoint, "--batch-size", "0"), "--batch-size")


def _images(folder, n, size=(32, 48)):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(3)
    for i in range(n):
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (*size, 3), np.uint8))
    return folder


def _video(path, frames):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    rng = np.random.default_rng(4)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (48, 64, 3), np.uint8))
    writer.release()
    return path


def test_bad_files_do_not_end_a_folder_job(tmp_path, tiny_checkpoint, capsys):
    """A header claiming 10^10 pixels and a file larger than memory ended the job with a traceback; now
    each is one stderr line and a line of the summary, and the job exits 0."""
    folder = _images(tmp_path / "in", 2)
    huge_png(folder / "b_huge.png")
    try:
        with open(folder / "c_sparse.png", "wb") as f:
            f.truncate(1 << 40)  # more than memory, no disk used
    except OSError:
        pytest.skip("this file system has no sparse files")
    assert main(_args(folder, tmp_path / "out", tiny_checkpoint)) == 0
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("ssmp3d predict: skipped ") for line in err), err
    assert "b_huge.png: image too large to decode" in err[0] and "c_sparse.png: file of" in err[1]
    assert "predicted 2 images of" in captured.out and "2 bad files not predicted:" in captured.out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames"] == 2 and len(summary["bad"]) == 2


def test_one_image_is_singular(tmp_path, tiny_checkpoint, capsys):
    image = _images(tmp_path / "in", 1) / "0.png"
    assert main(_args(image, tmp_path / "out", tiny_checkpoint)) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"predicted 1 image of {image}: 0 people") and "1 images" not in out


def test_output_and_device_errors_are_one_line(tmp_path, tiny_checkpoint, capsys):
    image = _images(tmp_path / "in", 1) / "0.png"
    (tmp_path / "taken").write_text("x")
    for extra, needle in (((), "--out: "), (("--device", "tpu"), "--device: expected 'cpu', 'cuda' or 'cuda:N'"),
                          (("--every", "0"), "--every: expected an int >= 1, got 0"),
                          (("--max-frames", "-1"), "--max-frames: expected an int >= 1, got -1")):
        out = tmp_path / "taken" if not extra else tmp_path / "o"
        assert main(_args(image, out, tiny_checkpoint, *extra)) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err, err
    assert main(_args(image, tmp_path / "taken" / "sub", tiny_checkpoint)) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"ssmp3d predict: error: --out: {tmp_path / 'taken' / 'sub'}: cannot make the output "
                           f"folder ({tmp_path / 'taken'} is a file)")
    assert not (tmp_path / "o").exists()  # refused before anything was made


def test_every_and_max_frames_flags(tmp_path, tiny_checkpoint, capsys):
    video = _video(tmp_path / "clip.avi", 9)
    assert main(_args(video, tmp_path / "out", tiny_checkpoint, "--every", "2", "--max-frames", "3", "--json")) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 3 and summary["every"] == 2 and summary["max_frames"] == 3
    frames = [json.loads(x)["frame"] for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert frames == [0, 2, 4]
    assert main(_args(video, tmp_path / "o2", tiny_checkpoint, "--every", "4")) == 0
    assert capsys.readouterr().out.startswith(f"predicted 3 frames of {video} (every 4): ")


def test_ctrl_c_leaves_valid_files_and_exits_130(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    from ssmp3d.predict import Predictor

    folder = _images(tmp_path / "in", 5)
    real, calls = Predictor.predict_batch, []

    def predict_batch(self, images, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, images, **kwargs)

    monkeypatch.setattr(Predictor, "predict_batch", predict_batch)
    with pytest.raises(SystemExit) as info:
        main(_args(folder, tmp_path / "out", tiny_checkpoint, "--batch-size", "1"))
    assert info.value.code == 130
    captured = capsys.readouterr()
    assert captured.out.startswith(f"predicted 2 images of {folder}") and "interrupted by SIGINT" in captured.out
    assert captured.err.strip() == (f"ssmp3d predict: stopped by SIGINT after 2 images; {tmp_path / 'out'}/"
                                    f"predictions.jsonl and summary.json hold what was done")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["interrupted"] == "SIGINT" and summary["frames"] == 2
    assert len((tmp_path / "out" / "predictions.jsonl").read_text().splitlines()) == 2


_SELF_TERM = """
import os, signal, sys
from ssmp3d.cli.main import main
from ssmp3d.predict import Predictor
real, calls = Predictor.predict_batch, []
def predict_batch(self, images, **kwargs):
    calls.append(1)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGTERM)
    return real(self, images, **kwargs)
Predictor.predict_batch = predict_batch
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_during_a_video_leaves_valid_files(tmp_path, tiny_checkpoint):
    """SIGTERM (kill, a scheduler) used to leave only a part file; now exit 143 with both files written."""
    import subprocess
    import sys

    video = _video(tmp_path / "clip.avi", 8)
    proc = subprocess.run([sys.executable, "-c", _SELF_TERM, *_args(video, tmp_path / "out", tiny_checkpoint,
                                                                     "--batch-size", "2")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 143, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("ssmp3d predict: stopped by SIGTERM after")
    assert "Traceback" not in proc.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    lines = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert summary["interrupted"] == "SIGTERM" and summary["frames"] == len(lines) >= 4
    assert [x["frame"] for x in lines] == list(range(len(lines)))
    assert not list((tmp_path / "out").glob("*.part-*"))


def test_zero_byte_video_is_one_line_without_ffmpeg_noise(tmp_path, tiny_checkpoint):
    """FFmpeg printed 'moov atom not found' before the error; the package now quiets it (a fresh process:
    OpenCV reads its log level when cv2 is first imported)."""
    import subprocess
    import sys

    (tmp_path / "zero.mp4").write_bytes(b"")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    proc = subprocess.run([sys.executable, "-m", "ssmp3d.cli.main",
                           *_args(tmp_path / "zero.mp4", tmp_path / "out", tiny_checkpoint)],
                          capture_output=True, text=True, timeout=300, env={**env, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"ssmp3d predict: error: {tmp_path / 'zero.mp4'}: cannot open the video"


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    from ssmp3d.cli import progress

    monkeypatch.setattr(progress, "LINE_INTERVAL", 0.0)
    folder = _images(tmp_path / "in", 3)
    assert main(_args(folder, tmp_path / "out", tiny_checkpoint, "--batch-size", "2")) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("predict: 2/3 item (67%), ") and " left" in err[0]
    assert err[1].startswith("predict: 3/3 item (100%), ")
    assert err[-1].startswith("predict: 3/3 item (100%), ") and err[-1].endswith(" in all")

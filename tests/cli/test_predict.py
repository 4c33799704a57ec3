"""ssmp3d predict: images, folders and videos end to end; bad input exits 2 with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssmp3d.cli.main import main

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
    line = json.loads((tmp_path / "o1" / "predictions.jsonl").read_text())
    assert line["source"] == str(image) and (line["width"], line["height"]) == (80, 50)

    folder = tmp_path / "folder"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), rng.integers(0, 256, (40, 40 + 10 * i, 3), np.uint8))
    (folder / "readme.txt").write_text("hello")
    assert main(_args(folder, tmp_path / "o2", tiny_checkpoint, "--overlay", "--batch-size", "2")) == 0
    captured = capsys.readouterr()
    assert "predicted 3 images" in captured.out and "1 bad file(s)" in captured.out
    assert "bad file: " in captured.err and "readme.txt: not a decodable image" in captured.err
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
    # The bad file is reported as such, then the job fails: nothing could be predicted.
    assert main(_args(broken, tmp_path / "o", tiny_checkpoint)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("ssmp3d predict: error:") and "broken.jpg" in err[-1]
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

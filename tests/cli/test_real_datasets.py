"""``ssmp3d oracle`` / ``eval`` with --dataset panoptic --root, and ``ssmp3d panoptic-extract``."""

from __future__ import annotations

import json

import pytest
import torch
from panoptic_tree import build_sequence

from ssmp3d.cli.main import main
from ssmp3d.data.panoptic import PANOPTIC_SEQUENCES, PANOPTIC_SCENARIOS

cv2 = pytest.importorskip("cv2")


def _backend() -> str:
    from ssmp3d.decoding import available_backends

    return "cpu" if "cpu" in available_backends() else "python"


@pytest.fixture
def root(tmp_path):
    for seq in PANOPTIC_SEQUENCES:
        build_sequence(tmp_path / "panoptic", seq, range(4), images=True, people=2)
    return tmp_path / "panoptic"


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_oracle_on_panoptic_json_and_text(root, capsys):
    args = ["oracle", "--dataset", "panoptic", "--root", str(root), "--max-frames", "2", "--backend", _backend()]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("mpjpe_mm", "recall", "precision", "people", "readouts", "readout_rules", "full_over_naive",
                "scenes", "preset", "seed", "skeleton", "groups"):
        assert key in report
    assert report["scenes"] == 4 * 2 * 2 and report["people"] == 32 and report["mpjpe_mm"] < 1.0
    assert report["dataset"] == "panoptic" and report["split"] == "test" and report["input_size"] == 512
    assert report["groups"]["names"] == list(PANOPTIC_SCENARIOS) and len(report["per_joint_mm"]) == 14
    assert main([*args, "--every", "3", "--sequences", "160906_pizza1", "--input-size", "256"]) == 0
    text = capsys.readouterr().out
    assert "panoptic test split" in text and "4 of 4 frames" in text and "pizza" in text and "Mean" in text


def test_eval_on_panoptic_counts_unreadable_images(root, tmp_path, capsys):
    from ssmp3d.model import HourglassConfig, HourglassNet
    from ssmp3d.train.checkpoint import save_checkpoint
    from ssmp3d.train.config import TrainConfig

    torch.manual_seed(0)
    net = HourglassNet(HourglassConfig.tiny())
    ckpt = save_checkpoint(tmp_path / "tiny.pt", config=TrainConfig(model=net.config), model=net.state_dict(), step=3)
    (root / "160422_mafia2" / "hdImgs" / "00_16" / "00_16_00000001.jpg").unlink()
    (root / "160906_pizza1" / "hdImgs" / "00_30" / "00_30_00000002.jpg").write_bytes(b"not a jpeg")
    args = ["eval", "--checkpoint", str(ckpt), "--dataset", "panoptic", "--root", str(root), "--backend", _backend()]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 32 and report["frames_failed"] == 2 and report["scenes"] == 30
    assert [f["key"] for f in report["failed"]] == ["160422_mafia2/00_16/00000001", "160906_pizza1/00_30/00000002"]
    assert report["step"] == 3 and set(report["stacks"]) == {"1", "2"} and report["input_size"] == 64
    for key in ("mpjpe_mm", "recall", "precision", "readouts", "full_over_naive", "backend", "groups"):
        assert key in report
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "2 frames could not be read" in text and "00_16_00000001.jpg: no such image file" in text
    assert "2 stacks, naive read-out" in text and "1 stack" in text


def test_bad_real_dataset_input_exits_2(root, tmp_path, capsys):
    missing = tmp_path / "no-such-root"
    assert main(["oracle", "--dataset", "panoptic", "--root", str(missing)]) == 2
    assert str(missing) in _one_line_error(capsys)
    assert main(["oracle", "--dataset", "panoptic"]) == 2
    assert "--root: required with --dataset panoptic" in _one_line_error(capsys)
    assert main(["oracle", "--dataset", "panoptic", "--root", str(root), "--sequences", "160422_none1"]) == 2
    assert "160422_none1" in _one_line_error(capsys)
    assert main(["oracle", "--dataset", "panoptic", "--root", str(root), "--skeleton", "h36m17"]) == 2
    assert "--skeleton" in _one_line_error(capsys)
    assert main(["oracle", "--dataset", "panoptic", "--root", str(root), "--every", "0"]) == 2
    assert "every" in _one_line_error(capsys)
    assert main(["eval", "--checkpoint", "x.pt", "--dataset", "panoptic", "--root", str(missing)]) == 2
    assert str(missing) in _one_line_error(capsys)


def test_panoptic_extract_command(root, capsys):
    seq = "160422_haggling1"
    video = root / seq / "hdVideos" / "hd_00_16.mp4"
    video.parent.mkdir()
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30, (32, 24))
    for i in range(6):
        writer.write(torch.full((24, 32, 3), 30 * i, dtype=torch.uint8).numpy())
    writer.release()
    out = root / seq / "hdImgs" / "00_16"
    for p in out.iterdir():
        p.unlink()
    args = ["panoptic-extract", "--root", str(root), "--sequences", seq, "--cameras", "00_16"]
    assert main([*args, "--every", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["written"] == 3 and sorted(p.name for p in out.iterdir()) == [
        "00_16_00000000.jpg", "00_16_00000002.jpg", "00_16_00000004.jpg"]
    assert main([*args, "--only-annotated"]) == 0
    assert "2 written, 2 already there" in capsys.readouterr().out  # frames 0-3 annotated; 0 and 2 were there
    assert main([*args[:-2], "--cameras", "00_30"]) == 2
    assert "hd_00_30.mp4: no such video file" in _one_line_error(capsys)
    video.write_bytes(b"garbage")
    for p in out.iterdir():
        p.unlink()
    assert main(args) == 2
    assert "hd_00_16.mp4: cannot open the video" in _one_line_error(capsys)


def test_oracle_on_h36m_reports_per_action(tmp_path, capsys):
    import h36m_tree

    h36m_tree.make_h36m_tree(tmp_path / "h36m")
    assert main(["oracle", "--dataset", "h36m", "--root", str(tmp_path / "h36m"), "--backend", _backend(),
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "h36m" and report["skeleton"] == "h36m17"
    assert report["groups"]["label"] == "action" and report["frames_failed"] == 0
    assert report["mpjpe_mm"] < 1.0 and report["recall"] == 1.0


def test_panoptic_extract_help_shows_the_file_pattern(capsys):
    with pytest.raises(SystemExit) as info:
        main(["panoptic-extract", "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0 and "<cam>_%08d.jpg" in " ".join(out.split()) and "%%" not in out


def test_panoptic_extract_refuses_an_image_named_like_a_video(root, capsys):
    """A PNG renamed .mp4 was extracted as '0 written' (or one frame) with exit 0."""
    seq = "160422_haggling1"
    video = root / seq / "hdVideos" / "hd_00_16.mp4"
    video.parent.mkdir()
    ok, data = cv2.imencode(".png", torch.zeros((24, 32, 3), dtype=torch.uint8).numpy())
    video.write_bytes(data.tobytes())
    assert main(["panoptic-extract", "--root", str(root), "--sequences", seq, "--cameras", "00_16"]) == 2
    assert f"{video}: a PNG image, not a video" in _one_line_error(capsys)


def test_absurd_calibration_resolution_is_named(root, capsys):
    """A resolution of 1e12 failed deep in the oracle ('MapTransform.affine: ...') without the file's name."""
    seq = "160422_mafia2"
    calib = root / seq / f"calibration_{seq}.json"
    doc = json.loads(calib.read_text())
    next(c for c in doc["cameras"] if c["name"] == "00_16")["resolution"] = [1e12, 1080]
    calib.write_text(json.dumps(doc))
    assert main(["oracle", "--dataset", "panoptic", "--root", str(root), "--max-frames", "1",
                 "--backend", _backend()]) == 2
    err = _one_line_error(capsys)
    assert f"{calib}: camera '00_16': resolution" in err and "MapTransform" not in err


def test_dataset_sampling_flags_are_named(root, capsys):
    for flag in ("--every", "--max-frames"):
        assert main(["oracle", "--dataset", "panoptic", "--root", str(root), flag, "0"]) == 2
        assert f"{flag}: expected an int >= 1, got 0" in _one_line_error(capsys)

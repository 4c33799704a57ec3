"""``ssmp3d train`` and ``ssmp3d eval`` end to end on the tiny preset; bad checkpoints exit 2."""

from __future__ import annotations

import json

import pytest

from ssmp3d.cli.main import main

pytest.importorskip("cv2")


def test_train_then_eval_then_refuse_another_run(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--model", "tiny", "--steps", "4", "--batch-size", "2", "--eval-scenes", "2",
            "--lr", "1e-3", "--max-people", "2", "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["steps"] == 4 and first["resumed_from"] == 0 and (out / "last.pt").exists()
    assert "stack_2" in first["evaluation"]
    assert main(["eval", "--checkpoint", str(out / "last.pt"), "--scenes", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("mpjpe_mm", "recall", "precision", "readouts", "full_over_naive", "stacks", "backend"):
        assert key in report
    assert set(report["stacks"]) == {"1", "2"}
    assert main(["eval", "--checkpoint", str(out / "last.pt"), "--scenes", "2"]) == 0
    assert "stacks" in capsys.readouterr().out
    # Same --out, another run length: refused (the schedule would change), nothing overwritten.
    before = (out / "last.pt").read_bytes()
    assert main(args[:6] + ["8"] + args[7:]) == 2
    assert (out / "last.pt").read_bytes() == before
    err = capsys.readouterr().err
    assert "another configuration" in err and "'steps'" in err


def test_train_recipe_flags_and_eval_decompose(tmp_path, capsys):
    """--schedule, --orpm-radius, the loss weights, --head-features and --init-weights reach the run; eval --decompose
    prints which half limits the checkpoint, with the training mean row from the stored mean bones."""
    first = tmp_path / "first"
    base = ["--model", "tiny", "--steps", "2", "--batch-size", "2", "--eval-scenes", "0", "--max-people", "2",
            "--json"]
    assert main(["train", "--out", str(first), *base]) == 0
    capsys.readouterr()
    out = tmp_path / "warm"
    assert main(["train", "--out", str(out), *base, "--schedule", "paper", "--orpm-radius", "1",
                 "--head-features", "8", "--init-weights", str(first / "last.pt"),
                 "--heatmap-weight", "2", "--tag-weight", "0.25", "--orpm-weight", "16"]) == 0
    config = json.loads(capsys.readouterr().out)["config"]
    assert config["schedule"] == "paper" and config["orpm_radius"] == 1
    loss = config["loss"]
    assert (loss["heatmap_weight"], loss["orpm_weight"], loss["pull_weight"], loss["push_weight"]) == (2, 16, 0.25, 0.25)
    assert config["model"]["head_features"] == 8 and config["init_weights"] == str(first / "last.pt")
    assert main(["eval", "--checkpoint", str(out / "last.pt"), "--scenes", "2", "--decompose", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = [(r["heatmaps_tags"], r["orpm"]) for r in report["decomposition"]["rows"]]
    assert rows == [("network", "network"), ("network", "mean pose"), ("network", "training mean"),
                    ("network", "ground truth"), ("ground truth", "network"), ("ground truth", "ground truth")]
    oracle = report["decomposition"]["rows"][-1]["full"]
    assert oracle["recall"] == 1.0 and oracle["mpjpe_mm"] < 50  # ground truth both halves: the decoder alone
    assert report["decomposition"]["rows"][0]["full"]["mpjpe_mm"] == report["mpjpe_mm"]
    assert main(["eval", "--checkpoint", str(out / "last.pt"), "--scenes", "1", "--decompose"]) == 0
    text = capsys.readouterr().out
    assert "which half limits it" in text and "training mean" in text and "PCK3D" in text


def test_bad_checkpoints_exit_2_with_one_line(tmp_path, capsys):
    assert main(["eval", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "none.pt: no such checkpoint" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    assert main(["eval", "--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.pt" in err and len(err.strip().splitlines()) == 1


def test_eval_defaults_to_the_shipped_weights(capsys):
    from ssmp3d.weights import default_checkpoint

    try:
        shipped = default_checkpoint()
    except FileNotFoundError:
        pytest.skip("no shipped weights in this tree")
    assert main(["eval", "--scenes", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["checkpoint"] == str(shipped) and report["scenes"] == 2
    # The shipped weights' recommended decoder settings are used, and said.
    from ssmp3d.train.checkpoint import load_checkpoint, recommended_decode_config

    rec = recommended_decode_config(load_checkpoint(shipped), shipped)
    assert report["decode_config"] == {**rec.to_dict(), "readout": "full"}
    other = 1 if rec.nms_radius != 1 else 2
    assert main(["eval", "--scenes", "1", "--nms-radius", str(other), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["decode_config"]["nms_radius"] == other
    assert report["decode_config"]["min_person_score"] == rec.min_person_score


def test_eval_without_shipped_weights_exits_2(monkeypatch, capsys):
    import ssmp3d.weights as weights

    monkeypatch.setattr(weights, "SHIPPED_NAME", "no_such_weights.pt")
    assert main(["eval", "--scenes", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shipped weights missing" in err[0]


def test_eval_takes_decoder_parameters(tmp_path, capsys):
    from ssmp3d.model import HourglassConfig, HourglassNet
    from ssmp3d.train.checkpoint import save_checkpoint
    from ssmp3d.train.config import TrainConfig

    net = HourglassNet(HourglassConfig.tiny())
    ckpt = save_checkpoint(tmp_path / "t.pt", config=TrainConfig(model=net.config), model=net.state_dict(), step=0)
    assert main(["eval", "--checkpoint", str(ckpt), "--scenes", "2", "--nms-radius", "3", "--det-threshold", "0.2",
                 "--grouping", "paper", "--min-person-score", "0.05", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    used = report["decode_config"]
    assert used["nms_radius"] == 3 and used["det_threshold"] == 0.2 and used["grouping"] == "paper"
    assert used["min_person_score"] == 0.05 and used["readout"] == "full"
    with pytest.raises(SystemExit) as exit_info:  # argparse refuses an unknown strategy
        main(["eval", "--checkpoint", str(ckpt), "--scenes", "1", "--grouping", "greedy"])
    assert exit_info.value.code == 2 and "greedy" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(ckpt), "--scenes", "1", "--nms-radius", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nms_radius" in err[0]

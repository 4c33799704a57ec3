"""ssmp3d demo: synthetic scenes through a checkpoint and every decoder, picture and results."""

from __future__ import annotations

import json

import pytest

from ssmp3d.cli.main import main
from ssmp3d.decoding import available_backends

cv2 = pytest.importorskip("cv2")


def test_demo_with_a_checkpoint(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--scenes", "2", "--repeat", "2",
            "--warmup", "1", "--device", "cpu"]
    assert main([*args, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r == json.loads((out / "demo.json").read_text())
    assert r["backends"] == ["python", *[b for b in available_backends() if b != "python"]]
    assert r["backends_agree"] is True and len(r["frames"]) == 2 and r["scenes"] == 2
    t = r["timings"]
    assert t["model_ms_per_frame"] > 0 and t["decoders"]["python"]["ratio_to_python"] == 1.0
    assert all(row["ms_per_frame"] > 0 for row in t["decoders"].values())
    picture = cv2.imread(r["picture"])
    assert picture.shape == (2 * 256, 2 * 256, 3)  # overlays above 3D views, one column per scene
    assert main([*args, "--threads", "1", "--cell", "100"]) == 0
    text = capsys.readouterr().out
    assert cv2.imread(str(out / "demo.png")).shape == (200, 200, 3)
    assert "python decoder" in text and "vs python" in text and "same people" in text


def test_demo_bad_input(tmp_path, checkpoint_factory, capsys):
    assert main(["demo", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path)]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["demo", "--checkpoint", str(checkpoint_factory("k5.pt", num_joints=5)), "--out",
                 str(tmp_path)]) == 2
    assert "5 joints" in capsys.readouterr().err
    assert main(["demo", "--checkpoint", str(checkpoint_factory("t.pt")), "--scenes", "0", "--out",
                 str(tmp_path)]) == 2
    assert "scenes" in capsys.readouterr().err


def test_demo_with_the_shipped_weights(tmp_path, capsys):
    from ssmp3d.weights import default_checkpoint

    try:
        default_checkpoint()
    except FileNotFoundError:
        pytest.skip("the shipped weights are not in this tree")
    assert main(["demo", "--out", str(tmp_path), "--scenes", "2", "--repeat", "1", "--device", "cpu", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["backends_agree"] is True and r["metrics"]["recall"] is not None
    from ssmp3d.train.checkpoint import load_checkpoint, recommended_decode_config

    shipped = default_checkpoint()
    assert r["decode_config"] == recommended_decode_config(load_checkpoint(shipped), shipped).to_dict()

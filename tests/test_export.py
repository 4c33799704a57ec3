"""Export for deployment: torch.export programs and ONNX models match the eager network."""

from __future__ import annotations

import json

import pytest
import torch

from ssmp3d.cli.main import main
from ssmp3d.export import InferenceNet, export_model, load_program, verify_export
from ssmp3d.train.checkpoint import load_model


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return load_model(tiny_checkpoint)[0]


def test_torch_export_matches_eager_with_a_dynamic_batch(tmp_path, model):
    path = export_model(model, tmp_path / "m.pt2", "torch")
    program = load_program(path)
    for batch in (1, 3, 5):  # traced at batch 2
        images = torch.randn(batch, 3, 64, 64)
        with torch.no_grad():
            want = InferenceNet(model)(images)
            got = program(images)
        assert [tuple(g.shape) for g in got] == [(batch, 19, 16, 16), (batch, 19, 1, 16, 16), (batch, 19, 3, 16, 16)]
        for w, g in zip(want, got):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-6)
    check = verify_export(model, path, "torch")
    assert check["runtime"] == "torch.export" and max(check["max_abs_diff"].values()) < 1e-5


def test_onnx_export_is_valid_and_matches_eager(tmp_path, model):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    path = export_model(model, tmp_path / "m.onnx", "onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [i.name for i in proto.graph.input] == ["images"]
    assert [o.name for o in proto.graph.output] == ["heatmaps", "tags", "orpm"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # the batch is symbolic
    check = verify_export(model, path, "onnx")
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        assert check["runtime"] is None
        return
    assert check["runtime"] == "onnxruntime" and check["batch"] == 3
    assert max(check["max_abs_diff"].values()) < 1e-4


def test_export_command(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "net.pt2"
    assert main(["export", "--checkpoint", str(tiny_checkpoint), "--format", "torch", "--out", str(out), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["out"] == str(out) and out.is_file() and r["skeleton"] == "panoptic19"
    assert r["input"] == ["batch", 3, 64, 64] and r["verification"]["runtime"] == "torch.export"
    assert main(["export", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(out)]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not a torch.export program"):
        load_program(tiny_checkpoint)
    with pytest.raises(ValueError, match="fmt"):
        export_model(load_model(tiny_checkpoint)[0], tmp_path / "x", "tflite")

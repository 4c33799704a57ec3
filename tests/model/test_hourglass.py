"""HourglassConfig and HourglassNet: shapes, presets, errors, formats, stacking."""

import copy
import dataclasses

import pytest
import torch

from ssmp3d.model import (
    OUTPUT_STRIDE,
    HourglassConfig,
    HourglassNet,
    StackOutput,
    count_parameters,
    split_prediction,
)


def _net(seed: int = 0, **overrides) -> HourglassNet:
    torch.manual_seed(seed)
    return HourglassNet(HourglassConfig.tiny(**overrides))


@pytest.mark.parametrize("overrides, hw", [
    ({}, (64, 64)),
    ({"num_stacks": 1, "tag_dim": 2}, (64, 128)),
    ({"num_stacks": 3, "depth": 3, "features": 8, "num_joints": 17}, (32, 96)),
    ({"increase": 8, "tag_dim": 3}, (128, 64)),
])
def test_output_shapes(overrides, hw):
    net = _net(**overrides).eval()
    cfg = net.config
    b, (h, w) = 2, hw
    with torch.no_grad():
        outs = net(torch.randn(b, 3, h, w))
    assert isinstance(outs, list) and len(outs) == cfg.num_stacks
    k, d = cfg.num_joints, cfg.tag_dim
    hh, ww = net.output_size((h, w))
    assert (hh, ww) == (h // OUTPUT_STRIDE, w // OUTPUT_STRIDE)
    for out in outs:
        assert isinstance(out, StackOutput)
        assert out.heatmaps.shape == (b, k, hh, ww)
        assert out.tags.shape == (b, k, d, hh, ww)
        assert out.orpm.shape == (b, k, 3, hh, ww)
        assert out.heatmaps.dtype == out.tags.dtype == out.orpm.dtype == torch.float32


def test_presets():
    paper = HourglassConfig.paper()
    assert (paper.num_stacks, paper.features, paper.input_size, paper.depth) == (4, 256, 512, 4)
    assert paper.output_size == 128 and paper.stride == 4 and paper.input_multiple == 64
    assert paper.num_joints == 19 and paper.tag_dim == 1 and paper.out_channels == 19 * 5
    assert HourglassConfig.paper(num_stacks=2).num_stacks == 2
    small, tiny = HourglassConfig.small(), HourglassConfig.tiny()
    assert (small.num_stacks, small.features, small.input_size) == (2, 64, 256)
    assert (tiny.num_stacks, tiny.features, tiny.input_size) == (2, 16, 64)
    assert HourglassNet().config == paper
    with pytest.raises(dataclasses.FrozenInstanceError):
        tiny.features = 32  # type: ignore[misc]
    assert tiny.with_(tag_dim=2).tag_dim == 2
    # Parameter counts (a change of architecture shows here).
    assert HourglassNet(tiny).num_parameters() == 33_714
    assert HourglassNet(small).num_parameters() == 438_990 + 2 * (64 * 128 + 2 * 128 + 128 * 95 - 64 * 95)
    assert small.head_features == 128 and tiny.head_features == 0


def test_head_hidden_layer():
    """head_features > 0: conv-BN-ReLU to that width, then the output conv (initialised small)."""
    cfg = HourglassConfig.tiny(head_features=24)
    net = HourglassNet(cfg).eval()
    head = net.heads[0]
    assert isinstance(head, torch.nn.Sequential) and head[-1].in_channels == 24
    assert head[-1].out_channels == cfg.out_channels and float(head[-1].weight.std()) < 1e-2
    outs = net(torch.randn(1, 3, 64, 64))
    assert outs[-1].heatmaps.shape == (1, 19, 16, 16)
    with pytest.raises(ValueError, match="head_features"):
        HourglassConfig.tiny(head_features=-1)


def test_parameter_count_helper():
    net = _net()
    total = sum(p.numel() for p in net.parameters())
    assert count_parameters(net) == net.num_parameters() == total
    net.stem.requires_grad_(False)
    frozen = sum(p.numel() for p in net.stem.parameters())
    assert count_parameters(net, trainable_only=True) == total - frozen


@pytest.mark.parametrize("overrides, exc, match", [
    ({"num_stacks": 0}, ValueError, "num_stacks"),
    ({"num_stacks": 9}, ValueError, r"num_stacks: must be in \[1, 8\]"),
    ({"features": 18}, ValueError, "multiple of 4"),
    ({"features": 4}, ValueError, "features"),
    ({"input_size": 96}, ValueError, "multiple of 4 \\* 2\\*\\*depth = 64"),
    ({"tag_dim": 0}, ValueError, "tag_dim"),
    ({"depth": 0}, ValueError, "depth"),
    ({"num_joints": 0}, ValueError, "num_joints"),
    ({"increase": -2}, ValueError, "increase"),
    ({"head_init_std": 0.0}, ValueError, "head_init_std"),
    ({"head_init_std": float("nan")}, ValueError, "head_init_std"),
    ({"num_stacks": 2.0}, TypeError, "num_stacks: expected an int"),
    ({"features": True}, TypeError, "features"),
])
def test_bad_configs(overrides, exc, match):
    with pytest.raises(exc, match=match):
        HourglassConfig.tiny(**overrides)


def test_bad_model_arguments_and_inputs():
    with pytest.raises(TypeError, match="HourglassConfig"):
        HourglassNet({"num_stacks": 2})  # type: ignore[arg-type]
    net = _net()
    with pytest.raises(ValueError, match="multiples of 4 \\* 2\\*\\*depth = 64"):
        net(torch.randn(1, 3, 64, 80))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        net(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        net(torch.randn(3, 64, 64))
    with pytest.raises(TypeError, match="floating-point"):
        net(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="pred"):
        split_prediction(torch.zeros(1, 19 * 5 + 1, 4, 4), 19, 1)


def test_split_prediction_layout():
    k, d = 3, 2
    pred = torch.arange(k * (4 + d), dtype=torch.float32).view(1, -1, 1, 1).expand(1, -1, 2, 2).clone()
    out = split_prediction(pred, k, d)
    assert out.heatmaps[0, :, 0, 0].tolist() == [0, 1, 2]
    assert out.tags[0, :, :, 0, 0].tolist() == [[3, 4], [5, 6], [7, 8]]
    assert out.orpm[0, 1, :, 0, 0].tolist() == [12, 13, 14]
    for view in out:
        assert view.untyped_storage().data_ptr() == pred.untyped_storage().data_ptr()


def test_initial_predictions_are_small_but_tags_differ():
    net = _net()
    outs = net(torch.randn(2, 3, 64, 64))
    for out in outs:
        assert out.heatmaps.abs().max() < 0.1 and out.orpm.abs().max() < 0.1
        assert out.tags.std() > 0


def test_gradients_reach_every_parameter():
    net = _net()
    outs = net(torch.randn(2, 3, 64, 64))
    loss = sum(o.heatmaps.square().mean() + o.tags.square().mean() + o.orpm.square().mean() for o in outs)
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_intermediate_supervision_feeds_the_next_stack():
    net = _net(num_stacks=3).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = net(x)
        net.heads[0].weight.add_(0.05 * torch.randn_like(net.heads[0].weight))
        after = net(x)
    for s in range(3):  # stack 1's prediction changes, and through the merge every later stack
        assert not torch.allclose(before[s].heatmaps, after[s].heatmaps)
    with torch.no_grad():
        net.heads[2].weight.add_(0.05 * torch.randn_like(net.heads[2].weight))
        last = net(x)
    for s in range(2):  # the last head feeds nothing
        torch.testing.assert_close(after[s].tags, last[s].tags, rtol=0, atol=0)


def test_channels_last_matches_contiguous():
    net = _net().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = net(x)
        net_cl = net.to(memory_format=torch.channels_last)
        got = net_cl(x.contiguous(memory_format=torch.channels_last))
    for a, b in zip(ref, got):
        for ta, tb in zip(a, b):
            assert ta.shape == tb.shape
            torch.testing.assert_close(ta, tb, rtol=1e-4, atol=1e-5)


def test_bf16_autocast_runs_and_backpropagates():
    net = _net()
    x = torch.randn(2, 3, 64, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outs = net(x)
        loss = sum(o.heatmaps.float().square().mean() + o.orpm.float().square().mean() for o in outs)
    assert outs[-1].heatmaps.dtype == torch.bfloat16
    assert all(torch.isfinite(t.float()).all() for o in outs for t in o)
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in net.parameters())


def test_torch_compile_matches_eager():
    # The tiny preset compiles (fullgraph, inference) in about 25 s on a 2-core CPU.
    net = _net().eval()
    x = torch.randn(2, 3, 64, 64)
    compiled = torch.compile(net, fullgraph=True)
    with torch.no_grad():
        ref = net(x)
        got = compiled(x)
    assert len(got) == len(ref)
    for a, b in zip(ref, got):
        assert isinstance(b, StackOutput)
        for ta, tb in zip(a, b):
            torch.testing.assert_close(ta, tb, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_torch_compile_trains_the_tiny_preset():
    # Forward and backward graphs: about a minute of compiling on a 2-core CPU.
    net = _net()
    twin = copy.deepcopy(net)
    x = torch.randn(2, 3, 64, 64)

    def loss(outs):
        return sum(o.heatmaps.square().mean() + o.tags.square().mean() + o.orpm.square().mean() for o in outs)

    loss(torch.compile(net)(x)).backward()
    loss(twin(x)).backward()
    for (name, p), q in zip(net.named_parameters(), twin.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-6, msg=name)

"""Fused NMS + gather: compiled op == pure torch twin; errors name the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.ops import _reference, heatmap_nms, nms_gather
from ssmp3d.ops._ext import has_cpu_ext, has_cuda_ext

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

NAMES = ("scores", "indices", "counts", "tags_at", "orpm_at")


def maps(seed: int, b=2, k=5, h=12, w=9, d=1, levels=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    hm = torch.rand((b, k, h, w), generator=gen)
    if levels:
        hm = (hm * levels).floor() / levels  # plateaus and ties
    tg = torch.randn((b, k, d, h, w), generator=gen)
    om = torch.randn((b, k, 3, h, w), generator=gen)
    return hm.to(dtype), (tg[:, :, 0] if d == 1 else tg).to(dtype), om.to(dtype)


def assert_same(got, want):
    for name, g, e in zip(NAMES, got, want):
        g, e = torch.as_tensor(g), torch.as_tensor(e)
        assert g.dtype == e.dtype and g.shape == e.shape, f"{name}: {g.dtype}{tuple(g.shape)} vs {e.dtype}{tuple(e.shape)}"
        assert torch.equal(g, e), name


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("radius", [0, 1, 2])
@pytest.mark.parametrize("m", [1, 4, 30, 70])
def test_equals_reference(d, radius, m):
    for seed in range(4):
        hm, tg, om = maps(seed + 10 * d, d=d, levels=4 * (seed % 2))
        want = _reference.nms_gather(hm, tg, om, 0.2, radius, m)
        got = nms_gather(hm, tg, om, 0.2, radius, m)
        assert_same(got, want)
        # The peaks are those of heatmap_nms on the float32 maps.
        for g, e in zip(got[:3], heatmap_nms(hm, 0.2, radius, m)):
            assert torch.equal(g, e)


def test_gathered_values_by_hand():
    hm, tg, om = maps(3, b=1, k=3, d=2)
    scores, indices, counts, tags_at, orpm_at = nms_gather(hm.numpy(), tg.numpy(), om.numpy(), max_candidates=6)
    assert isinstance(scores, np.ndarray) and tags_at.shape == (1, 3, 6, 2) and orpm_at.shape == (1, 3, 6, 3, 3)
    w = hm.shape[-1]
    for k in range(3):
        for r in range(6):
            if r >= counts[0, k]:
                assert indices[0, k, r] == -1 and not tags_at[0, k, r].any() and not orpm_at[0, k, r].any()
                continue
            y, x = divmod(int(indices[0, k, r]), w)
            np.testing.assert_array_equal(tags_at[0, k, r], tg[0, k, :, y, x].numpy())
            np.testing.assert_array_equal(orpm_at[0, k, r], om[0, :, :, y, x].numpy())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_dtypes_are_converted_to_float32(dtype):
    hm, tg, om = maps(4, dtype=dtype)
    want = _reference.nms_gather(hm, tg, om, 0.1, 1, 30)
    assert want[0].dtype == torch.float32
    assert_same(nms_gather(hm, tg, om), want)
    nc = [x.transpose(-1, -2).contiguous().transpose(-1, -2) for x in (hm, tg, om)]
    assert_same(nms_gather(*nc), want)


def test_threads_do_not_change_results():
    hm, tg, om = maps(5, b=6, k=4, h=40, w=40)
    one = nms_gather(hm, tg, om, num_threads=1)
    for n in (2, 0):
        assert_same(nms_gather(hm, tg, om, num_threads=n), one)


def test_nan_is_an_error_where_read():
    hm, tg, om = maps(6, b=1, k=2)
    _, indices, _, _, _ = nms_gather(hm, tg, om, 0.5, 1, 3)
    y, x = divmod(int(indices[0, 1, 0]), hm.shape[-1])
    free = np.argwhere(~np.isin(np.arange(hm[0, 0].numel()), indices[0].numpy()).reshape(hm.shape[2:]))[0]
    t2, o2 = tg.clone(), om.clone()
    t2[0, 0, free[0], free[1]] = float("nan")
    o2[0, 1, 2, free[0], free[1]] = float("nan")
    assert_same(nms_gather(hm, t2, o2, 0.5, 1, 3), nms_gather(hm, tg, om, 0.5, 1, 3))
    t2[0, 1, y, x] = float("nan")
    with pytest.raises(ValueError, match="tags: contains NaN"):
        nms_gather(hm, t2, om, 0.5, 1, 3)
    o2[0, 0, 1, y, x] = float("nan")  # any map, at a peak of any joint
    with pytest.raises(ValueError, match="orpm: contains NaN"):
        nms_gather(hm, tg, o2, 0.5, 1, 3)
    h2 = hm.clone()
    h2[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="heatmaps: contains NaN"):
        nms_gather(h2, tg, om)


@pytest.mark.parametrize(
    ("change", "exc", "match"),
    [
        (lambda a: {"heatmaps": a["heatmaps"].tolist()}, TypeError, "heatmaps"),
        (lambda a: {"tags": a["tags"].to(torch.int32)}, TypeError, "tags"),
        (lambda a: {"orpm": a["orpm"].numpy().astype(np.int64)}, TypeError, "orpm"),
        (lambda a: {"heatmaps": a["heatmaps"][0]}, ValueError, "heatmaps.*dimensions"),
        (lambda a: {"heatmaps": a["heatmaps"][:, :0]}, ValueError, "heatmaps.*non-empty"),
        (lambda a: {"tags": a["tags"][:, :-1]}, ValueError, "tags"),
        (lambda a: {"tags": a["tags"][:, :, None][:, :, :0]}, ValueError, "tags.*D >= 1"),
        (lambda a: {"orpm": a["orpm"][:, :, :2]}, ValueError, "orpm"),
        (lambda a: {"orpm": a["orpm"][..., :-1]}, ValueError, "orpm"),
        (lambda a: {"threshold": float("nan")}, ValueError, "threshold"),
        (lambda a: {"threshold": "0.1"}, TypeError, "threshold"),
        (lambda a: {"radius": -1}, ValueError, "radius"),
        (lambda a: {"radius": 1.0}, TypeError, "radius"),
        (lambda a: {"max_candidates": 0}, ValueError, "max_candidates"),
        (lambda a: {"max_candidates": 5000}, ValueError, "max_candidates"),
        (lambda a: {"max_candidates": True}, TypeError, "max_candidates"),
        (lambda a: {"num_threads": -2}, ValueError, "num_threads"),
    ],
)
def test_bad_inputs(change, exc, match):
    hm, tg, om = maps(7)
    args = {"heatmaps": hm, "tags": tg, "orpm": om}
    args.update(change(args))
    with pytest.raises(exc, match=match):
        nms_gather(**args)


def test_custom_op_opcheck_and_compile():
    hm, tg, om = maps(8, d=2)
    torch.library.opcheck(torch.ops.ssmp3d.nms_gather.default, (hm, tg, om, 0.1, 1, 7))
    want = nms_gather(hm, tg, om, 0.1, 1, 7)
    assert_same(torch.ops.ssmp3d.nms_gather(hm, tg, om, 0.1, 1, 7), want)

    @torch.compile(fullgraph=True)
    def f(hm, tg, om):
        scores, indices, counts, tags_at, orpm_at = torch.ops.ssmp3d.nms_gather(hm, tg, om, 0.1, 1, 7)
        return counts.sum(), tags_at * 2

    n, t2 = f(hm, tg, om)
    assert int(n) == int(want[2].sum()) and torch.equal(t2, want[3] * 2)


def test_public_function_compiles_whole():
    # The public function, not only torch.ops, must trace without a graph break
    # (it once read torch.get_num_threads() before the compile check).
    hm, tg, om = maps(9, d=2)
    want = nms_gather(hm, tg, om, 0.1, 1, 7)
    compiled = torch.compile(lambda a, b, c: nms_gather(a, b, c, 0.1, 1, 7)[3].sum(), fullgraph=True)
    assert torch.equal(compiled(hm, tg, om), want[3].sum())


@pytest.mark.parametrize("w", [17, 33, 64, 67])
def test_wide_maps_with_plateaus_and_nan_counts(w):
    # r = 1 interior rows take a 4-pixel SSE path for float32 when a 16-pixel chunk
    # has a pixel above threshold; borders, other radii and float64 do not.
    gen = torch.Generator().manual_seed(w)
    for levels in (2, 3, 0):
        hm, tg, om = maps(w, b=2, k=3, h=21, w=w, levels=levels)
        for m in (5, 300):
            assert_same(nms_gather(hm, tg, om, 0.3, 1, m), _reference.nms_gather(hm, tg, om, 0.3, 1, m))
            ref = _reference.heatmap_nms(hm.double(), 0.3, 1, m)
            for g, e in zip(heatmap_nms(hm.double(), 0.3, 1, m), ref):
                assert torch.equal(g, e)
    bad = hm.clone()
    nan_at = torch.rand(bad.shape, generator=gen) < 0.05
    bad[nan_at] = float("nan")
    with pytest.raises(ValueError, match=rf"heatmaps: contains NaN \({int(nan_at.sum())} values\)"):
        nms_gather(bad, tg, om, 0.3)
    with pytest.raises(ValueError, match=rf"heatmaps: contains NaN \({int(nan_at.sum())} values\)"):
        heatmap_nms(bad, 0.3)


@pytest.mark.cuda
@pytest.mark.skipif(not (torch.cuda.is_available() and has_cuda_ext()), reason="needs a GPU and ssmp3d._C_cuda")
class TestCuda:
    @pytest.mark.parametrize("d", [1, 3])
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
    def test_equals_cpu(self, d, dtype):
        for seed in range(6):
            for radius, m in ((0, 70), (1, 30), (2, 4)):
                hm, tg, om = maps(seed + 100 * d, b=3, k=6, h=17, w=23, d=d, levels=4 * (seed % 2), dtype=dtype)
                got = nms_gather(hm.cuda(), tg.cuda(), om.cuda(), 0.2, radius, m)
                assert all(t.device.type == "cuda" for t in got)
                assert_same([t.cpu() for t in got], nms_gather(hm, tg, om, 0.2, radius, m))

    def test_nan_is_an_error_where_read(self):
        hm, tg, om = maps(3, b=2, k=3, h=10, w=10)
        peak = nms_gather(hm, tg, om, 0.2, 1, 5)[1][1, 2, 0].item()
        bad = tg.clone()
        bad[1, 2].view(-1)[peak] = float("nan")
        with pytest.raises(ValueError, match="tags: contains NaN"):
            nms_gather(hm.cuda(), bad.cuda(), om.cuda(), 0.2, 1, 5)
        bad = om.clone()
        bad[1, 0, 2].view(-1)[peak] = float("nan")  # every map is gathered at joint 2's peaks
        with pytest.raises(ValueError, match="orpm: contains NaN"):
            nms_gather(hm.cuda(), tg.cuda(), bad.cuda(), 0.2, 1, 5)
        hm2 = hm.clone()
        hm2[0, 0, 0, 0] = float("nan")
        with pytest.raises(ValueError, match="heatmaps: contains NaN"):
            nms_gather(hm2.cuda(), tg.cuda(), om.cuda(), 0.2, 1, 5)

    def test_devices_must_match(self):
        hm, tg, om = maps(4)
        with pytest.raises(ValueError, match="tags: expected the device of heatmaps"):
            nms_gather(hm.cuda(), tg, om.cuda())

    def test_side_stream_opcheck_compile_and_graph_capture(self):
        hm, tg, om = (x.cuda() for x in maps(5, b=2, k=5, h=16, w=16, d=2))
        want = nms_gather(hm.cpu(), tg.cpu(), om.cpu(), 0.2, 1, 6)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            got = nms_gather(hm, tg, om, 0.2, 1, 6)
        stream.synchronize()
        assert_same([t.cpu() for t in got], want)
        torch.library.opcheck(torch.ops.ssmp3d.nms_gather.default, (hm, tg, om, 0.2, 1, 6))
        # Elementwise after the op (a sum on the GPU adds in another order than on the CPU).
        compiled = torch.compile(lambda a, b, c: nms_gather(a, b, c, 0.2, 1, 6)[3] * 2, fullgraph=True)
        assert torch.equal(compiled(hm, tg, om).cpu(), want[3] * 2)
        graph = torch.cuda.CUDAGraph()
        static = [x.clone() for x in (hm, tg, om)]
        nms_gather(*static, 0.2, 1, 6)
        with torch.cuda.graph(graph):
            out = nms_gather(*static, 0.2, 1, 6)
        nxt = maps(6, b=2, k=5, h=16, w=16, d=2)
        for s, x in zip(static, nxt):
            s.copy_(x.cuda())
        graph.replay()
        torch.cuda.synchronize()
        assert_same([t.cpu() for t in out], nms_gather(*nxt, 0.2, 1, 6))

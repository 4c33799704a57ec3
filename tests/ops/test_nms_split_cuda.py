"""Split NMS of small batches (``src/cuda/nms_split.cuh``): split and unsplit launches agree (GPU only).

When ``B * K`` is below the GPU's SM count the CUDA ops cut each map into
bands of rows (one block each) and merge the bands' top-M lists in a second
kernel. These tests force the number of bands through the private ``splits``
argument of the wrappers' ``_run_cuda`` and check, bit for bit, that every
split count gives the one-block outputs and the C++ CPU op's, on 128 x 128
maps of B = 1, K = 19 (float32, bfloat16), on plateaus and equal peaks
straddling band borders, many-peaks maps, M = 4096 and tiny maps; and that
the split path (scratch from torch's caching allocator) survives CUDA graph
capture. The split rule itself runs without a GPU in
``tests/cuda_host`` (host emulation of the kernels).
"""

from __future__ import annotations

import importlib

import pytest
import torch

from ssmp3d.ops import _cuda, heatmap_nms, nms_gather
from ssmp3d.ops._ext import cuda_unavailable_reason, load_cuda

# The modules, not the functions of the same name that ssmp3d.ops exports.
nms_module = importlib.import_module("ssmp3d.ops.heatmap_nms")
gather_module = importlib.import_module("ssmp3d.ops.nms_gather")

REASON = cuda_unavailable_reason()
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(REASON is not None, reason=str(REASON))]

SPLITS = (1, 2, 5, 14, 16)


def assert_same(got, want):
    for a, b in zip(got, want):
        a, b = a.cpu(), b.cpu()
        assert a.dtype == b.dtype and a.shape == b.shape
        assert torch.equal(a.view(-1).view(torch.uint8) if a.dtype.is_floating_point else a,
                           b.view(-1).view(torch.uint8) if b.dtype.is_floating_point else b)


def nms_split(x: torch.Tensor, thr: float, r: int, m: int, splits: int):
    """``heatmap_nms`` on CUDA ``x [B, K, H, W]`` with ``splits`` bands per map; float32 scores."""
    return nms_module._run_cuda(x.contiguous(), thr, r, m, splits)


def gather_split(hm, tg, om, thr: float, r: int, m: int, splits: int):
    """``nms_gather`` on CUDA ``[B, K, H, W]``, ``[B, K, D, H, W]``, ``[B, K, 3, H, W]`` with ``splits`` bands."""
    return gather_module._run_cuda(*gather_module._check_cuda(hm, tg, om, thr, r, m)[:3], thr, r, m, splits)


def maps(seed: int, b: int, k: int, h: int, w: int, d: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand((b, k, h, w), generator=gen), torch.randn((b, k, d, h, w), generator=gen),
            torch.randn((b, k, 3, h, w), generator=gen))


def border_plateaus(h: int, w: int, band: int) -> torch.Tensor:
    """``[1, 2, H, W]``: 2-row plateaus of 1.0 across every ``band``-row border, equal 0.75 peaks
    in every band, a grid of equal peaks in the second map."""
    x = torch.full((1, 2, h, w), 0.25)
    x[0, 0, 2::4, 2::5] = 0.75
    for border in range(band, h, band):
        x[0, 0, border - 1:border + 1, 1::7] = 1.0
    x[0, 1, 1::3, 1::3] = 0.75
    return x


def test_split_rule_of_this_device():
    ext = load_cuda()
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    want = min(-(-2 * sms // 19), 16, 128 // 8) if 19 < sms else 1
    assert ext.nms_split_count(19, 128, 0) == (want if want >= 2 else 1)
    assert ext.nms_split_count(10 * sms, 128, 0) == 1  # large batches: one block per map
    assert ext.nms_split_count(1, 15, 0) == 1  # fewer than 2 * 8 rows: no split
    splits, scratch = _cuda.nms_scratch(19, 128, 30, torch.device("cuda", 0))
    assert splits == ext.nms_split_count(19, 128, 0)
    assert (scratch is None) == (splits == 1)
    if scratch is not None:
        assert scratch.numel() == 19 * splits * (30 * 8 + 4)
    with pytest.raises(ValueError, match="splits"):
        _cuda.nms_scratch(19, 128, 30, torch.device("cuda", 0), 17)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("m", [30, 1024])
def test_b1_k19_split_equals_unsplit_and_cpu(dtype, m):
    hm, tg, om = maps(1, 1, 19, 128, 128, d=2)
    hm, tg, om = (x.to(dtype) for x in (hm, tg, om))
    dev = [x.cuda() for x in (hm, tg, om)]
    want = heatmap_nms(hm.float(), 0.1, 1, m)  # CPU op (bfloat16 -> float32 is exact)
    for s in SPLITS:
        got = nms_split(dev[0], 0.1, 1, m, s)
        assert_same(got, want)
    want_g = nms_gather(hm.float(), tg.float(), om.float(), 0.1, 1, m)
    base = gather_split(*dev, 0.1, 1, m, 1)
    assert_same(base, want_g)
    for s in SPLITS[1:]:
        assert_same(gather_split(*dev, 0.1, 1, m, s), base)
    assert_same(heatmap_nms(dev[0], 0.1, 1, m), heatmap_nms(hm, 0.1, 1, m))  # the public op, its own rule


@pytest.mark.parametrize("radius", [0, 1, 2, 32])
def test_plateaus_and_equal_peaks_across_band_borders(radius):
    x = border_plateaus(128, 96, 8)
    for m in (1, 7, 30, 500):
        want = heatmap_nms(x, 0.1, radius, m)
        for s in SPLITS:
            assert_same(nms_split(x.cuda(), 0.1, radius, m, s), want)


@pytest.mark.parametrize("m", [1, 30, 4096])
def test_many_peaks_in_one_band(m):
    gen = torch.Generator().manual_seed(5)
    noise = torch.rand((1, 2, 128, 128), generator=gen)  # r = 0: every pixel a peak, 1024+ per band
    for radius in (0, 1):
        want = heatmap_nms(noise, 0.0, radius, m)
        for s in (2, 3, 16):
            assert_same(nms_split(noise.cuda(), 0.0, radius, m, s), want)
    flat = torch.full((1, 1, 64, 64), 0.5)  # equal scores: the band radix select reaches the index bytes
    for s in (2, 16):
        assert_same(nms_split(flat.cuda(), 0.1, 0, m, s), heatmap_nms(flat, 0.1, 0, m))


def test_tiny_maps_and_nan():
    for h, w in ((1, 1), (3, 5), (7, 1), (17, 3)):
        x = maps(h * 10 + w, 2, 3, h, w)[0]
        for s in (1, 2, 16):  # more bands than rows: empty bands
            assert_same(nms_split(x.cuda(), 0.2, 1, 4, s), heatmap_nms(x, 0.2, 1, 4))
    x = maps(7, 1, 3, 64, 32)[0]
    x[0, 1, 40, 3] = float("nan")
    for s in (1, 4):
        with pytest.raises(ValueError, match="NaN"):
            nms_split(x.cuda(), 0.2, 1, 4, s)


def test_split_path_graph_capture():
    static = [x.cuda() for x in maps(8, 1, 19, 128, 128)]
    nms_gather(*static, 0.2, 1, 30)  # warm-up outside the capture (gather lists, SM count)
    heatmap_nms(static[0], 0.2, 1, 30)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        out_g = gather_split(*static, 0.2, 1, 30, 14)
        out_n = nms_split(static[0], 0.2, 1, 30, 14)
    for seed in (9, 10):
        nxt = maps(seed, 1, 19, 128, 128)
        for s, x in zip(static, nxt):
            s.copy_(x.cuda())
        graph.replay()
        torch.cuda.synchronize()
        assert_same(out_g, nms_gather(*nxt, 0.2, 1, 30))
        assert_same(out_n, heatmap_nms(nxt[0], 0.2, 1, 30))

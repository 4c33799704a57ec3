"""CUDA graph capture, cached gather lists and the NMS kernel's load paths (GPU only).

Checks, on a GPU (marked ``cuda``; skipped with the reason elsewhere):

* repeated ``nms_gather`` calls make no host-to-device copy (the gather lists
  come from ``ops/_device_cache.py``), so the op and the decoder's launch can
  be captured in a CUDA graph after one warm-up call and replayed on new data;
* ``heatmap_nms`` equals the CPU op on maps whose 16-bit elements start at
  every alignment (the kernel's 64-bit load path and its scalar head / tail),
  on 128 x 128 maps with more peaks than the kernel's buffer (the bounded
  radix-select path), on equal-score grids (its worst case), with M up to
  4096 and B * K far beyond one wave;
* tensors on a device other than the current one (two GPUs).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.decoding import DecodeConfig
from ssmp3d.decoding.cuda import gather_lists, gather_on_device, launch_gather, table_layout
from ssmp3d.ops import _device_cache, heatmap_nms, nms_gather
from ssmp3d.ops._ext import cuda_unavailable_reason
from ssmp3d.skeleton import PANOPTIC19

REASON = cuda_unavailable_reason()
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(REASON is not None, reason=str(REASON))]

HALVES = (torch.float16, torch.bfloat16)


def gen_maps(seed: int, b: int, k: int, h: int, w: int, d: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand((b, k, h, w), generator=gen), torch.randn((b, k, d, h, w), generator=gen),
            torch.randn((b, k, 3, h, w), generator=gen))


def assert_same(got, want):
    for a, b in zip(got, want):
        a = a.cpu()
        assert a.dtype == b.dtype and a.shape == b.shape
        assert torch.equal(a, b)


def test_repeated_calls_copy_nothing_to_the_device():
    hm, tg, om = (x.cuda() for x in gen_maps(1, 2, 5, 16, 16))
    nms_gather(hm, tg, om, 0.2, 1, 6)  # warm-up: fills the cache
    size = _device_cache.cache_size()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(3):
            nms_gather(hm, tg, om, 0.2, 1, 6)
        torch.cuda.synchronize()
    copies = [e.name for e in prof.events() if "HtoD" in e.name or "Memcpy H" in e.name]
    assert not copies, copies
    assert _device_cache.cache_size() == size


def test_nms_gather_graph_capture_replays_on_new_data():
    static = [x.cuda() for x in gen_maps(2, 3, 7, 20, 24, d=2)]
    nms_gather(*static, 0.25, 1, 8)  # warm-up outside the capture
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, stream=stream):
        out = nms_gather(*static, 0.25, 1, 8)
    for seed in (3, 4):
        nxt = gen_maps(seed, 3, 7, 20, 24, d=2)
        for s, x in zip(static, nxt):
            s.copy_(x.cuda())
        graph.replay()
        torch.cuda.synchronize()
        assert_same(out, nms_gather(*nxt, 0.25, 1, 8))


def test_decoder_launch_graph_capture():
    config = DecodeConfig()
    lists = gather_lists(PANOPTIC19)
    static = [x.cuda() for x in gen_maps(5, 4, 19, 32, 32)]
    gather_on_device(*static, config, lists)  # warm-up: lists cached on this device
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        buf, _ = launch_gather(*static, config, lists)
    nxt = [x.cuda() for x in gen_maps(6, 4, 19, 32, 32)]
    for s, x in zip(static, nxt):
        s.copy_(x)
    graph.replay()
    torch.cuda.synchronize()
    want, d = gather_on_device(*nxt, config, lists)
    got = buf.cpu().numpy()
    _, layout = table_layout(4, 19, config.max_candidates, d, lists.total)
    for name, (shape, dt, off) in layout.items():  # sections only: the padding between them is not written
        assert np.array_equal(np.ndarray(shape, dt, got, off), np.ndarray(shape, dt, want, off)), name


@pytest.mark.parametrize("dtype", HALVES)
@pytest.mark.parametrize("offset", [0, 1, 2, 3])
def test_half_maps_at_every_alignment(dtype, offset):
    b, k, h, w = 3, 4, 37, 29  # odd H * W: each map starts at a different alignment too
    n = b * k * h * w
    gen = torch.Generator().manual_seed(10 + offset)
    flat = (torch.rand(n + 4, generator=gen) ** 2).to(dtype)
    flat[:: 97] = flat.max()  # a few plateaus of the top value
    x = flat[offset:offset + n].view(b, k, h, w)
    xc = flat.cuda()[offset:offset + n].view(b, k, h, w)  # data_ptr misaligned by 2 * offset bytes
    assert xc.data_ptr() % 8 == (2 * offset) % 8  # torch allocations are 512-byte aligned
    for radius, m in ((0, 50), (1, 30), (2, 7)):
        assert_same(heatmap_nms(xc, 0.3, radius, m), heatmap_nms(x, 0.3, radius, m))


@pytest.mark.parametrize("dtype", [torch.float32, *HALVES])
@pytest.mark.parametrize("m", [1, 30, 1024, 4096])
def test_many_peaks_128x128(dtype, m):
    gen = torch.Generator().manual_seed(20 + m)
    noise = torch.rand((2, 3, 128, 128), generator=gen).to(dtype)
    for radius in (0, 1):  # r = 0: ~16000 peaks per map; r = 1: ~1800
        assert_same(heatmap_nms(noise.cuda(), 0.05, radius, m), heatmap_nms(noise, 0.05, radius, m))
    hm, tg, om = gen_maps(21, 2, 3, 128, 128)
    assert_same(nms_gather(hm.cuda(), tg.cuda(), om.cuda(), 0.05, 0, m), nms_gather(hm, tg, om, 0.05, 0, m))


@pytest.mark.parametrize("m", [1, 30, 4096])
def test_equal_score_grids(m):
    # Every pixel a peak of the same score (r = 0), or a grid of equal plateaus
    # (r = 1): the radix select must go down to the index bytes.
    flat = torch.full((2, 2, 128, 128), 0.5)
    grid = torch.zeros((2, 2, 128, 128))
    grid[..., ::2, ::2] = 0.75
    grid[1, 1, 7, 9] = 0.75  # a tie beside a grid point: not a peak at r = 1
    for maps, radius in ((flat, 0), (grid, 1), (grid, 0)):
        for dtype in (torch.float32, torch.bfloat16):
            x = maps.to(dtype)
            assert_same(heatmap_nms(x.cuda(), 0.1, radius, m), heatmap_nms(x, 0.1, radius, m))


@pytest.mark.parametrize("b", [64, 512])
def test_more_blocks_than_one_wave(b):
    hm, tg, om = gen_maps(30 + b, b, 19, 24, 24)
    assert_same(heatmap_nms(hm.cuda(), 0.5, 1, 30), heatmap_nms(hm, 0.5, 1, 30))
    assert_same(nms_gather(hm.cuda(), tg.cuda(), om.cuda(), 0.5, 1, 5), nms_gather(hm, tg, om, 0.5, 1, 5))


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_tensors_on_a_non_current_device():
    torch.cuda.set_device(0)
    hm, tg, om = gen_maps(40, 2, 5, 16, 16)
    got = nms_gather(hm.to("cuda:1"), tg.to("cuda:1"), om.to("cuda:1"), 0.2, 1, 6)
    assert all(t.device == torch.device("cuda:1") for t in got)
    assert_same(got, nms_gather(hm, tg, om, 0.2, 1, 6))
    assert torch.cuda.current_device() == 0
    keys = [key for key in _device_cache._ENTRIES if key[0] == "cuda"]
    assert any(key[1] == 1 for key in keys)
    for key, (tensor, _) in _device_cache._ENTRIES.items():
        assert tensor.device.index == key[1]
    nms_gather(hm.to("cuda:0"), tg.to("cuda:0"), om.to("cuda:0"), 0.2, 1, 6)  # its own copy on device 0
    assert any(key[1] == 0 for key in _device_cache._ENTRIES if key[0] == "cuda")

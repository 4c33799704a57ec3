"""Compiled heatmap NMS beside the pure-torch reference NMS, single thread.

Maps: 19 x 128 x 128 float32, 10 people-like sets of Gaussian peaks (sigma 2,
one peak per joint scattered around a body centre). Run with::

    PYTHONPATH=src/python python -m pytest benchmarks/test_bench_nms.py --benchmark-only

``extra_info`` of each compiled measurement holds the reference median from
the same run and the ratio ``speedup_vs_reference`` (reference / compiled);
CUDA timings synchronise inside the timed call.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
import torch

from ssmp3d.ops import _reference, heatmap_nms
from ssmp3d.ops._ext import has_cuda_ext

K, H, W = 19, 128, 128
PEOPLE = 10
ARGS = (0.1, 1, 30)  # threshold, radius, max_candidates (DecodeConfig defaults)


def people_maps(batch: int, people: int = PEOPLE, seed: int = 0) -> torch.Tensor:
    """``[batch, K, H, W]`` float32 heatmaps with ``people`` Gaussian peaks per joint map."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    out = np.zeros((batch, K, H, W), np.float32)
    for b in range(batch):
        for centre in rng.uniform(16, 112, size=(people, 2)):
            joints = centre + rng.normal(scale=10.0, size=(K, 2))
            heights = rng.uniform(0.4, 1.0, K)
            for k, (x, y) in enumerate(joints):
                g = heights[k] * np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * 2.0**2))
                np.maximum(out[b, k], g, out=out[b, k])
    return torch.from_numpy(out)


def _median_s(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("batch", [1, 64])
def test_bench_heatmap_nms(benchmark, one_thread, batch, device):
    if device == "cuda" and not (torch.cuda.is_available() and has_cuda_ext()):
        pytest.skip("needs a GPU and ssmp3d._C_cuda")
    heat = people_maps(batch)
    expected = _reference.heatmap_nms(heat, *ARGS)
    ref_s = _median_s(lambda: _reference.heatmap_nms(heat, *ARGS), repeat=3 if batch > 1 else 15)

    x = heat.to(device)
    if device == "cuda":
        def run():
            out = heatmap_nms(x, *ARGS)  # includes the NaN-flag read, i.e. a synchronisation
            torch.cuda.synchronize()
            return out
    else:
        def run():
            return heatmap_nms(x, *ARGS, num_threads=1)

    benchmark.group = f"heatmap_nms batch {batch}"
    result = benchmark.pedantic(run, rounds=10 if batch > 1 else 100, warmup_rounds=2)
    for got, exp in zip(result, expected):
        assert torch.equal(got.cpu(), exp)
    fast_s = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "device": device,
        "batch": batch,
        "maps": f"{K}x{H}x{W}",
        "people": PEOPLE,
        "peaks_per_frame": float(expected[2].sum()) / batch,
        "reference_ms": ref_s * 1e3,
        "compiled_ms": fast_s * 1e3,
        "compiled_per_frame_ms": fast_s * 1e3 / batch,
        "speedup_vs_reference": ref_s / fast_s,
    })


@pytest.mark.parametrize("batch", [1, 64])
def test_bench_heatmap_nms_reference(benchmark, one_thread, batch):
    """The reference NMS as its own row of the same group, for the table."""
    heat = people_maps(batch)
    benchmark.group = f"heatmap_nms batch {batch}"
    benchmark.extra_info.update({"device": "cpu", "batch": batch, "implementation": "reference"})
    benchmark.pedantic(lambda: _reference.heatmap_nms(heat, *ARGS), rounds=5 if batch > 1 else 30,
                       warmup_rounds=1)

"""Compiled batched target encoders beside the numpy reference encoders.

A batch of 16 crowded synthetic scenes (up to 20 people, PANOPTIC19, maps
128 x 128: 512 x 512 images at stride 4), encoded into heatmaps, ORPM +
weight and oracle tag maps by :func:`ssmp3d.encode.encode_batch` with
``backend="cpu"`` (one and all threads) and ``backend="python"`` (its own
row of the same group). Run with::

    PYTHONPATH=src/python python -m pytest benchmarks/test_bench_encode.py --benchmark-only

``extra_info`` of each compiled measurement holds per-image milliseconds,
the reference median from the same run and ``speedup_vs_reference``
(reference / compiled). Both backends give identical arrays (checked).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

from ssmp3d.data.synthetic import SceneConfig, sample_scenes
from ssmp3d.encode import TargetConfig, encode_batch
from ssmp3d.skeleton import PANOPTIC19

BATCH = 16
CONFIG = TargetConfig()  # sigma 2, radii 2, stride 4
GROUP = f"encode batch {BATCH} crowded 128x128"


def scenes():
    out = sample_scenes(BATCH, 0, SceneConfig.crowded(max_people=20), PANOPTIC19)
    assert all(s.image_size == (512, 512) for s in out)
    return out


def _median_s(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@pytest.fixture(scope="module")
def reference():
    """The scenes, their reference targets and the reference median (after two warm-up runs)."""
    batch = scenes()
    expected = encode_batch(batch, PANOPTIC19, CONFIG, backend="python")
    encode_batch(batch, PANOPTIC19, CONFIG, backend="cpu")
    ref_s = _median_s(lambda: encode_batch(batch, PANOPTIC19, CONFIG, backend="python"), repeat=7)
    return batch, expected, ref_s


@pytest.mark.parametrize("threads", [1, 0])
def test_bench_encode_batch(benchmark, reference, threads):
    batch, expected, ref_s = reference

    benchmark.group = GROUP
    got = benchmark.pedantic(encode_batch, args=(batch, PANOPTIC19, CONFIG),
                             kwargs={"backend": "cpu", "num_threads": threads}, rounds=20, warmup_rounds=2)
    for f in ("heatmaps", "tag_maps", "orpm", "orpm_weight", "tag_indices"):
        assert np.array_equal(getattr(got, f), getattr(expected, f)), f
    fast_s = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "implementation": "compiled",
        "threads": threads or "all",
        "batch": BATCH,
        "people_per_image": float(got.num_people.mean()),
        "per_image_ms": fast_s * 1e3 / BATCH,
        "reference_per_image_ms": ref_s * 1e3 / BATCH,
        "speedup_vs_reference": ref_s / fast_s,
    })


def test_bench_encode_batch_reference(benchmark):
    """The reference encoders as their own row of the same group."""
    batch = scenes()
    benchmark.group = GROUP
    got = benchmark.pedantic(encode_batch, args=(batch, PANOPTIC19, CONFIG), kwargs={"backend": "python"},
                             rounds=5, warmup_rounds=1)
    benchmark.extra_info.update({
        "implementation": "reference",
        "batch": BATCH,
        "people_per_image": float(got.num_people.mean()),
        "per_image_ms": benchmark.stats.stats.median * 1e3 / BATCH,
    })

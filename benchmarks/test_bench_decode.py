"""Per-frame latency of the reference decoder (``backend="python"``).

Maps are built directly: 19 x 128 x 128, N people-like blobs (one Gaussian
peak per joint around a body centre, a constant tag disc per person), random
ORPM. Run with::

    PYTHONPATH=src/python python -m pytest benchmarks/test_bench_decode.py --benchmark-only

``extra_info`` holds the per-frame milliseconds (median round / batch size)
and the number of people decoded per frame.
"""

from __future__ import annotations

import numpy as np
import pytest

from ssmp3d.decode import DecodeConfig, decode
from ssmp3d.skeleton import PANOPTIC19

K, H, W = PANOPTIC19.num_joints, 128, 128


def people_maps(num_people: int, batch: int, seed: int = 0):
    """``heatmaps [B, K, H, W]``, ``tags [B, K, H, W]``, ``orpm [B, K, 3, H, W]``
    float32 with ``num_people`` blobs per image."""
    rng = np.random.default_rng(seed)
    hm = np.zeros((batch, K, H, W), np.float32)
    tg = np.zeros((batch, K, H, W), np.float32)
    om = rng.normal(scale=0.2, size=(batch, K, 3, H, W)).astype(np.float32)
    sigma, r = 2.0, 4
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    gauss = np.exp(-(ox**2 + oy**2) / (2 * sigma**2)).astype(np.float32)
    disc = ox**2 + oy**2 <= 4
    for b in range(batch):
        centres = rng.uniform(16, 112, size=(num_people, 2))
        for p in range(num_people):
            joints = np.clip(centres[p] + rng.normal(scale=8.0, size=(K, 2)), r, W - 1 - r).astype(int)
            peaks = rng.uniform(0.4, 1.0, K).astype(np.float32)
            for k, (x, y) in enumerate(joints):
                win = (b, k, slice(y - r, y + r + 1), slice(x - r, x + r + 1))
                hm[win] = np.maximum(hm[win], peaks[k] * gauss)
                tg[win][disc] = 2.0 * p
    return hm, tg, om


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("num_people", [1, 5, 10, 20])
def test_decode_python(benchmark, num_people, batch):
    hm, tg, om = people_maps(num_people, batch)
    config = DecodeConfig()
    decode(hm, tg, om, config)  # warm-up
    result = benchmark.pedantic(decode, args=(hm, tg, om, config), kwargs={"backend": "python"},
                                rounds=20 if batch == 1 else 5, warmup_rounds=1)
    benchmark.extra_info["backend"] = "python"
    benchmark.extra_info["batch"] = batch
    benchmark.extra_info["people_rendered"] = num_people
    benchmark.extra_info["people_decoded_per_frame"] = float(result.num_people.mean())
    benchmark.extra_info["per_frame_ms"] = benchmark.stats.stats.median / batch * 1e3
    assert result.num_people.min() >= 1

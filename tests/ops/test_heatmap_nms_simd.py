"""The CPU NMS's vector row scans (AVX2 and SSE2) against the brute-force oracle.

float32 maps at radius 1 take the AVX2 row scan on CPUs that have it
(``src/csrc/nms_row_avx2.h``) and the SSE2 chunk scan otherwise;
``SSMP3D_NO_AVX2=1`` forces the SSE2 one. Both must give the oracle's peaks
for every map width (full vectors, the masked last vector, rows narrower
than a vector), with plateaus across lanes, NaN pixels and NaN neighbours.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ssmp3d.ops._ext import load_cpu

sys.path.insert(0, str(Path(__file__).parent))
from test_heatmap_nms import oracle_nms  # noqa: E402

WIDTHS = list(range(1, 42)) + [63, 64, 65, 128, 511, 520, 521, 522, 1040]  # 513+: blocks of 64 vectors


def _maps(width: int, seed: int) -> np.ndarray:
    """[2, 3, H, width] float32: quantised values (ties across lanes); seed % 3 == 1 adds NaNs."""
    rng = np.random.default_rng(seed)
    h = 3 + seed % 4
    x = (rng.integers(0, 4, (2, 3, h, width)) / 3.0).astype(np.float32)
    if seed % 3 == 0:
        x += (1e-3 * rng.random(x.shape)).astype(np.float32)
    if seed % 3 == 1:
        x[rng.random(x.shape) < 0.05] = np.nan
    return x


def _raw_nms(x: np.ndarray, thr: float, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """The C++ op on contiguous float32 maps, NaN allowed (the public op rejects NaN
    after the scan; the raw binding returns the NaN count and well-defined outputs)."""
    b, k, h, w = x.shape
    t = torch.from_numpy(np.ascontiguousarray(x))
    s, i, c = torch.empty(b, k, m), torch.empty(b, k, m, dtype=torch.int64), torch.empty(b, k, dtype=torch.int32)
    nans = load_cpu().heatmap_nms_cpu(t.data_ptr(), k * h * w, h * w, "float32", b, k, h, w, thr, 1, m,
                                      s.data_ptr(), i.data_ptr(), c.data_ptr(), 1)
    return s, i, c, nans


def check_all_widths() -> int:
    """Compares the C++ NMS with the oracle on every width; returns the number of maps checked."""
    n = 0
    for width in WIDTHS:
        for seed in range(3):
            x = _maps(width, 31 * width + seed)
            m = 40 if width <= 128 else 4096  # wide rows: every peak, the last block's included
            for thr in (0.0, 0.4):
                expected = oracle_nms(x, thr, 1, m)
                *got, nans = _raw_nms(x, thr, m)
                assert nans == int(np.isnan(x).sum()), f"width {width}, seed {seed}: NaN count"
                for name, g, e in zip(("scores", "indices", "counts"), got, expected):
                    assert torch.equal(g, e), f"width {width}, seed {seed}, thr {thr}: {name} differ"
                n += 1
    return n


def test_row_scan_matches_the_oracle_at_every_width():
    assert check_all_widths() == len(WIDTHS) * 6


def test_sse2_path_matches_the_oracle_at_every_width():
    env = dict(os.environ, SSMP3D_NO_AVX2="1")
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "import test_heatmap_nms_simd as t; print(t.check_all_widths())")
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    assert int(out.stdout.split()[-1]) == len(WIDTHS) * 6

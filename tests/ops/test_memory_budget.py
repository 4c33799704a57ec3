"""The per-call memory budget: small inputs with large size parameters are refused before allocating.

Each op bounds its outputs, working memory and input copies from the shapes
and scalars (:mod:`ssmp3d.ops._budget`) and raises ``ValueError`` naming the
arguments beyond :data:`ssmp3d.ops.MEMORY_BUDGET_BYTES`. The refused cases
here would otherwise allocate from 2.5 GB to about 50 GB.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import ssmp3d.ops
from ssmp3d.decoding import DecodeConfig, decode
from ssmp3d.ops import (MEMORY_BUDGET_BYTES, encode_heatmaps, encode_orpm, encode_tag_maps, group_candidates,
                        heatmap_nms, nms_gather, orpm_readout)
from ssmp3d.ops._budget import decode_bytes, max_peaks
from ssmp3d.ops._ext import has_cpu_ext
from ssmp3d.skeleton import PANOPTIC19

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

BUDGET = r"memory budget of 2 GiB \(ssmp3d.ops.MEMORY_BUDGET_BYTES\)"


def test_the_budget_is_a_documented_constant():
    assert MEMORY_BUDGET_BYTES == 2 * 1024**3
    for op in (heatmap_nms, nms_gather, group_candidates, orpm_readout, decode):
        assert "MEMORY_BUDGET_BYTES" in op.__doc__, op.__name__
    for module in (ssmp3d.ops, ssmp3d.ops.encode, ssmp3d.ops.nms_gather, ssmp3d.ops.grouping, ssmp3d.ops.readout):
        assert "MEMORY_BUDGET_BYTES" in module.__doc__, module.__name__


def test_heatmap_nms_many_maps_of_one_pixel():
    """4 MB of maps, 49 GB of [B, K, M] outputs."""
    x = torch.rand(1, 1_000_000, 1, 1)
    with pytest.raises(ValueError, match=f"heatmaps / max_candidates: .*{BUDGET}"):
        heatmap_nms(x, 0.1, 1, 4096)
    with pytest.raises(ValueError, match="heatmaps / max_candidates"):
        heatmap_nms(x.numpy(), 0.1, 1, 4096)


def test_nms_gather_orpm_at_of_every_map():
    """2 x 300 maps of one pixel: ``orpm_at [B, K, M, K, 3]`` would be 8.9 GB."""
    hm = torch.rand(2, 300, 1, 1)
    with pytest.raises(ValueError, match=f"heatmaps / tags / max_candidates: .*{BUDGET}"):
        nms_gather(hm, hm, torch.rand(2, 300, 3, 1, 1), 0.1, 1, 4096)


def test_nms_gather_tag_dimension():
    hm = torch.rand(1, 2, 1, 1)
    with pytest.raises(ValueError, match="heatmaps / tags / max_candidates"):
        nms_gather(hm, torch.rand(1, 2, 100_000, 1, 1), torch.rand(1, 2, 3, 1, 1), 0.1, 1, 4096)


def test_group_candidates_assignment_rows():
    """80 KB of scores: ``assignment [B, K*M, K]`` int64 would be 3.2 GB."""
    scores = np.zeros((1, 20_000, 1), np.float32)
    counts = np.zeros((1, 20_000), np.int64)
    with pytest.raises(ValueError, match=f"scores / tags: .*{BUDGET}"):
        group_candidates(scores, scores, counts, neck=-1)


def test_orpm_readout_crowded_pixel():
    """20 000 detected joints on one pixel: their crowding pairs would take 3.2 GB."""
    q, k = 1053, 19
    args = dict(orpm=np.zeros((1, k, 3, 4, 4), np.float32), positions=np.zeros((1, q, k, 2), np.int64),
                scores=np.ones((1, q, k), np.float32), detected=np.ones((1, q, k), bool),
                num_formed=np.array([q]), people=np.zeros((1, 1), np.int64), num_people=np.array([1]))
    with pytest.raises(ValueError, match=f"positions / readout_min_dist: .*{BUDGET}"):
        orpm_readout(**args, skeleton=PANOPTIC19)
    out = orpm_readout(**args, skeleton=PANOPTIC19, readout="naive")  # no crowding test: fine
    assert out[0].shape == (1, 1, k, 3)


def test_encoders_large_maps():
    """One joint, maps of 2**15 x 2**15 pixels: 4 GiB per output plane."""
    joints, valid = np.zeros((1, 1, 19, 2)), np.zeros((1, 1, 19), bool)
    size = (1 << 15, 1 << 15)
    with pytest.raises(ValueError, match=f"size / joints_map: .*{BUDGET}"):
        encode_heatmaps(joints[:, :, :1], valid[:, :, :1], size)
    with pytest.raises(ValueError, match="size / joints_map"):
        encode_tag_maps(joints[:, :, :1], valid[:, :, :1], np.zeros((1, 1)), size)
    with pytest.raises(ValueError, match="size / joints_map"):
        encode_orpm(joints, np.zeros((1, 1, 19, 3)), valid, np.zeros((1, 1)), skeleton=PANOPTIC19,
                    size=(1 << 13, 1 << 13))


def test_decode_tag_dimension():
    """300 KB of tags, ``D = 4000``: the C++ decoder's ``K x M x D`` float64 scratch would be 2.5 GB."""
    hm = torch.rand(1, 19, 1, 1)
    tags = torch.rand(1, 19, 4000, 1, 1)
    config = DecodeConfig(grouping="paper", max_candidates=4096)
    for backend in ("cpu", "python"):
        with pytest.raises(ValueError, match=f"heatmaps / tags / DecodeConfig.max_candidates: .*{BUDGET}"):
            decode(hm, tags, None, config, backend=backend)


def test_decode_threads_multiply_the_scratch():
    hm, tags = torch.rand(4, 19, 1, 1), torch.rand(4, 19, 2000, 1, 1)
    config = DecodeConfig(grouping="paper", max_candidates=4096)
    assert decode_bytes(4, 19, 1, 1, 2000, config, "cpu", 1, ()) < MEMORY_BUDGET_BYTES
    with pytest.raises(ValueError, match="DecodeConfig.max_candidates"):
        decode(hm, tags, None, config, backend="cpu", num_threads=4)


def test_ordinary_sizes_are_far_below_the_budget():
    for backend in ("python", "cpu"):
        assert decode_bytes(16, 19, 128, 128, 1, DecodeConfig(), backend, 0, ()) < MEMORY_BUDGET_BYTES / 20
    # The worst case of the largest M (every candidate its own person, crowded) still fits.
    config = DecodeConfig(grouping="paper", max_candidates=4096)
    for backend in ("python", "cpu"):
        assert decode_bytes(1, 19, 128, 128, 1, config, backend, 1, ()) < MEMORY_BUDGET_BYTES


def test_max_peaks_is_a_bound():
    gen = torch.Generator().manual_seed(0)
    for r in (0, 1, 2, 5):
        for h, w in ((1, 1), (7, 9), (16, 16)):
            x = torch.rand((64, 1, h, w), generator=gen).round(decimals=1)  # plateaus too
            _, _, counts = heatmap_nms(x, -1.0, r, 4096)
            assert int(counts.max()) <= max_peaks(h, w, r)


_MEASURE = """
import resource, sys, torch
from ssmp3d.decoding import DecodeConfig, decode
from ssmp3d.ops._budget import decode_bytes
hm, tags = torch.rand(1, 19, 1, 1), torch.rand(1, 19, 600, 1, 1)
config = DecodeConfig(grouping="paper", max_candidates=4096)
decode(hm[:, :, :1], tags[:, :, :1], None, config, backend="cpu", num_threads=1)  # warm up
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
decode(hm, tags, None, config, backend="cpu", num_threads=1)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
print(grown, decode_bytes(1, 19, 1, 1, 600, config, "cpu", 1, (hm, tags)))
"""


@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer's allocator makes the resident size meaningless")
def test_the_decoder_estimate_bounds_what_it_uses():
    """The C++ scratch (here ``K x M x D`` float64 = 374 MB) stays within the estimate.

    The resident growth depends on how many zero pages the allocator hands
    out untouched (measured 373 MB on one run, 0 on another), so only the
    upper bound is checked.
    """
    out = subprocess.run([sys.executable, "-c", _MEASURE], capture_output=True, text=True, check=True)
    grown, bound = map(int, out.stdout.split())
    assert 300e6 < bound and grown <= bound, (grown, bound)

"""Tensors with the negative (or conjugate) bit set are read by their values, by every public op.

``torch._neg_view(-x)`` equals ``x`` but its memory holds ``-x``; ``z.conj().imag``
is such a view too. An op that hands the raw buffer (``data_ptr``, ``numpy()``)
to a kernel without resolving the bit reads the negation, or raises.
"""

from __future__ import annotations

import pytest
import torch

from ssmp3d.ops import (encode_heatmaps, encode_orpm, encode_tag_maps, group_candidates, heatmap_nms, nms_gather,
                        orpm_readout)
from ssmp3d.ops._ext import has_cpu_ext
from ssmp3d.skeleton import PANOPTIC19

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")


def neg_view(x: torch.Tensor) -> torch.Tensor:
    """A view equal to ``x`` whose memory holds ``-x`` (negative bit set)."""
    out = torch._neg_view(-x)
    assert out.is_neg() and torch.equal(out, x)
    return out


def conj_imag_view(x: torch.Tensor) -> torch.Tensor:
    """``z.conj().imag`` equal to the float32 ``x``: a strided view with the negative bit set."""
    out = torch.complex(torch.zeros_like(x), -x).conj().imag
    assert out.is_neg() and torch.equal(out, x)
    return out


def assert_same(got, expected):
    for g, e in zip(got, expected):
        g, e = torch.as_tensor(g).cpu(), torch.as_tensor(e).cpu()
        assert g.dtype == e.dtype and g.shape == e.shape
        assert torch.equal(g, e) or (g.is_floating_point() and torch.allclose(g, e, rtol=0, atol=0, equal_nan=True))


def maps(seed=0, b=2, k=19, h=12, w=12, d=1):
    gen = torch.Generator().manual_seed(seed)
    hm = torch.rand((b, k, h, w), generator=gen)
    tg = torch.randn((b, k, d, h, w) if d > 1 else (b, k, h, w), generator=gen)
    om = torch.randn((b, k, 3, h, w), generator=gen) * 0.1
    return hm, tg, om


@pytest.mark.parametrize("view", [neg_view, conj_imag_view])
def test_heatmap_nms(device, view):
    hm, _, _ = maps()
    expected = heatmap_nms(hm.to(device), 0.1, 1, 30)
    assert int(expected[2].sum()) > 0
    assert_same(heatmap_nms(view(hm).to(device), 0.1, 1, 30), expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_heatmap_nms_other_dtypes(device, dtype):
    hm = maps()[0].to(dtype)
    assert_same(heatmap_nms(neg_view(hm).to(device), 0.1, 1, 30), heatmap_nms(hm.to(device), 0.1, 1, 30))


def test_heatmap_nms_conj_imag_of_one_pixel(device):
    """All dims of size 1: the view is contiguous, so no copy would resolve the bit."""
    x = torch.full((1, 1, 1, 1), 0.5)
    v = conj_imag_view(x)
    assert v.is_contiguous()
    scores, indices, counts = heatmap_nms(v.to(device), 0.1, 1, 4)
    assert counts.item() == 1 and scores[0, 0, 0].item() == 0.5 and indices[0, 0, 0].item() == 0


@pytest.mark.parametrize("which", [0, 1, 2])
def test_nms_gather(which):
    args = list(maps(d=2))
    expected = nms_gather(*args, 0.1, 1, 20)
    args[which] = neg_view(args[which])
    assert_same(nms_gather(*args, 0.1, 1, 20), expected)


@pytest.mark.parametrize("grouping", ["paper", "assign"])
@pytest.mark.parametrize("which", ["scores", "tags", "counts", "indices", "mean_bones"])
def test_group_candidates(grouping, which):
    hm, tg, om = maps(d=2)
    scores, indices, counts, tags_at, _ = nms_gather(hm, tg, om, 0.1, 1, 20)
    args = dict(scores=scores, tags=tags_at, counts=counts)
    kwargs = dict(neck=0, tag_threshold=0.5, min_joints=1, grouping=grouping, indices=indices, width=12,
                  skeleton=PANOPTIC19, mean_bones=torch.from_numpy(PANOPTIC19.mean_bones_m()))
    expected = group_candidates(**args, **kwargs)
    assert int(expected[5].sum()) > 0
    if which in args:
        args[which] = neg_view(args[which])
    else:
        kwargs[which] = neg_view(kwargs[which])
    assert_same(group_candidates(**args, **kwargs), expected)


def readout_inputs():
    hm, tg, om = maps()
    scores, indices, counts, tags_at, _ = nms_gather(hm, tg, om, 0.1, 1, 20)
    assignment, _, _, num_formed, kept, num_kept = group_candidates(scores, tags_at, counts, neck=0,
                                                                     tag_threshold=0.5, min_joints=1)
    b, q, k = assignment.shape
    rank = assignment.clamp(min=0)
    flat = torch.gather(indices, 2, rank.permute(0, 2, 1)).permute(0, 2, 1)  # [B, Q, K]
    positions = torch.stack([flat % 12, flat // 12], -1)
    joint_scores = torch.gather(scores, 2, rank.permute(0, 2, 1)).permute(0, 2, 1)
    detected = assignment >= 0
    positions[~detected] = 0
    return dict(orpm=om, positions=positions, scores=joint_scores, detected=detected,
                num_formed=num_formed.long(), people=kept.clamp(min=0), num_people=num_kept.long())


@pytest.mark.parametrize("which", ["orpm", "positions", "scores", "num_formed", "people", "num_people",
                                   "mean_bones"])
def test_orpm_readout(which):
    args = readout_inputs()
    mean_bones = torch.from_numpy(PANOPTIC19.mean_bones_m())
    expected = orpm_readout(**args, skeleton=PANOPTIC19, mean_bones=mean_bones)
    assert (expected[1] >= 0).any()
    if which == "mean_bones":
        mean_bones = neg_view(mean_bones)
    else:
        args[which] = neg_view(args[which])
    assert_same(orpm_readout(**args, skeleton=PANOPTIC19, mean_bones=mean_bones), expected)


def encoder_inputs():
    gen = torch.Generator().manual_seed(3)
    b, n, k = 2, 3, 19
    return dict(joints_map=torch.rand((b, n, k, 2), generator=gen, dtype=torch.float64) * 10,
                valid=torch.rand((b, n, k), generator=gen) < 0.8,
                bones_m=torch.randn((b, n, k, 3), generator=gen, dtype=torch.float64) * 0.1,
                depth=torch.rand((b, n), generator=gen, dtype=torch.float64) * 5,
                tag_values=torch.randn((b, n), generator=gen, dtype=torch.float64))


@pytest.mark.parametrize("which", ["joints_map", "bones_m", "depth", "tag_values"])
def test_encoders(device, which):
    x = {key: v.to(device) for key, v in encoder_inputs().items()}
    calls = {
        "heat": lambda a: encode_heatmaps(a["joints_map"], a["valid"], (10, 12)),
        "orpm": lambda a: encode_orpm(a["joints_map"], a["bones_m"], a["valid"], a["depth"], skeleton=PANOPTIC19,
                                      size=(10, 12)),
        "tags": lambda a: encode_tag_maps(a["joints_map"], a["valid"], a["depth"], (10, 12), a["tag_values"]),
    }
    viewed = {**x, which: neg_view(x[which])}
    for name, call in calls.items():
        expected = call(x)
        got = call(viewed)
        assert_same(got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,))

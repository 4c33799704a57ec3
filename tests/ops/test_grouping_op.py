"""C++ greedy grouper (``ssmp3d.ops.group_candidates``) == the Python specification,
plus structural properties on random candidate tables (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ssmp3d.ops import _reference, group_candidates
from ssmp3d.ops._ext import has_cpu_ext

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

NAMES = ("assignment", "person_scores", "person_tags", "num_formed", "kept", "num_kept")


@st.composite
def tables(draw):
    """Random candidate tables with many ties: scores and tags from small value sets
    (infinities included), any order within a joint, any counts."""
    b = draw(st.integers(1, 3))
    k = draw(st.integers(1, 7))
    m = draw(st.integers(1, 6))
    d = draw(st.integers(1, 3))
    score_values = st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0, -0.0, 0.0, 2.5, np.inf, -np.inf]) | st.floats(-3, 3)
    scores = draw(hnp.arrays(np.float32, (b, k, m), elements=score_values))
    tag_values = st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0, 3.0, -1.0]) | st.floats(-4, 4, width=32)
    tags = draw(hnp.arrays(np.float64, (b, k, m, d), elements=tag_values))
    counts = draw(hnp.arrays(np.int32, (b, k), elements=st.integers(0, m)))
    params = dict(
        neck=draw(st.integers(-1, k - 1)),
        tag_threshold=draw(st.sampled_from([0.5, 1.0, 1.5, 2.0, 10.0])),
        min_joints=draw(st.integers(1, 3)),
        max_people=draw(st.integers(1, 8)),
    )
    return scores, tags, counts, params


def check_structure(out, scores, counts, params):
    assignment, person_scores, person_tags, num_formed, kept, num_kept = out
    b, k, m = scores.shape
    assert assignment.shape == (b, k * m, k) and kept.shape == (b, params["max_people"])
    for i in range(b):
        q = int(num_formed[i])
        assert 0 <= q <= k * m
        rows = assignment[i, :q]
        assert (assignment[i, q:] == -1).all() and (person_scores[i, q:] == 0).all()
        # Every person has >= 1 joint, at most one per type (one column each), ranks < counts.
        assert ((rows >= 0).sum(1) >= 1).all()
        assert ((rows == -1) | ((rows >= 0) & (rows < counts[i][None, :]))).all()
        # Every candidate is used exactly once (each one seeds a person if nobody took it).
        used = [(j, int(r)) for row in rows for j, r in enumerate(row) if r >= 0]
        assert len(used) == len(set(used)) == int(counts[i].sum())
        n = int(num_kept[i])
        assert n <= params["max_people"] and (kept[i, n:] == -1).all()
        sel = kept[i, :n]
        assert len(set(sel.tolist())) == n and ((sel >= 0) & (sel < q)).all()
        assert ((rows[sel] >= 0).sum(1) >= params["min_joints"]).all()
        s = person_scores[i, sel]
        ordered = s[~np.isnan(s)]  # NaN (from inf - inf) sorts last
        assert (ordered[:-1] >= ordered[1:]).all() and not np.isnan(s[: ordered.size]).any()


def assert_same(got, want):
    for name, g, e in zip(NAMES, got, want):
        g, e = np.asarray(g), np.asarray(e)
        assert g.dtype == e.dtype and g.shape == e.shape, name
        np.testing.assert_array_equal(g, e, err_msg=name)


@settings(max_examples=300, deadline=None)
@given(tables())
def test_random_tables_equal_reference_and_are_well_formed(table):
    scores, tags, counts, params = table
    got = group_candidates(scores, tags, counts, **params)
    check_structure(got, scores, counts, params)
    want = _reference.group_candidates(scores, tags, counts, params["neck"], params["tag_threshold"],
                                       params["min_joints"], params["max_people"])
    assert_same(got, want)


@pytest.mark.parametrize("seed", range(6))
def test_larger_tables_equal_reference(seed):
    rng = np.random.default_rng(seed)
    b, k, m, d = 4, 19, 30, 1 + seed % 3
    scores = np.sort(rng.random((b, k, m), dtype=np.float32), axis=-1)[..., ::-1].copy()
    tags = np.round(rng.normal(scale=3, size=(b, k, m, d)), 1)
    counts = rng.integers(0, m + 1, (b, k)).astype(np.int32)
    for params in (dict(neck=0), dict(neck=2, tag_threshold=0.4, min_joints=1, max_people=5)):
        p = {"tag_threshold": 1.0, "min_joints": 2, "max_people": 30, **params}
        got = group_candidates(scores, tags, counts, **p)
        check_structure(got, scores, counts, p)
        assert_same(got, _reference.group_candidates(scores, tags, counts, p["neck"], p["tag_threshold"],
                                                     p["min_joints"], p["max_people"]))
        assert_same(group_candidates(scores, tags, counts, num_threads=2, **p), got)


def test_torch_inputs_give_torch_outputs_and_3d_tags():
    scores = torch.tensor([[[0.9, 0.5], [0.8, 0.0]]])
    tags = torch.tensor([[[0.0, 5.0], [0.2, 0.0]]], dtype=torch.float64)
    counts = torch.tensor([[2, 1]], dtype=torch.int32)
    out = group_candidates(scores, tags, counts, neck=0)
    assert all(isinstance(t, torch.Tensor) for t in out)
    assert out[3].tolist() == [2] and out[5].tolist() == [1]  # two formed, one kept (min_joints 2)
    assert out[0][0, 0].tolist() == [0, 0] and out[0][0, 1].tolist() == [1, -1]


def bad_cases():
    s = np.full((1, 3, 4), 0.5, np.float32)
    t = np.zeros((1, 3, 4, 2))
    c = np.full((1, 3), 2, np.int64)
    return [
        (dict(counts=np.array([[5, 0, 0]])), ValueError, r"counts.*\[0, M = 4\]"),  # count > M
        (dict(counts=np.array([[-1, 0, 0]])), ValueError, "counts"),
        (dict(counts=c.astype(np.float32)), TypeError, "counts"),
        (dict(counts=c[:, :2]), ValueError, "counts"),
        (dict(scores=s.astype(np.int32)), TypeError, "scores"),
        (dict(scores=s[0]), ValueError, "scores.*dimensions"),
        (dict(scores=s[:, :, :0]), ValueError, "scores.*non-empty"),
        (dict(scores=np.where(np.arange(4) == 1, np.nan, s).astype(np.float32)), ValueError, "scores.*NaN"),
        (dict(tags=t[:, :, :3]), ValueError, "tags"),
        (dict(tags=t[..., :0]), ValueError, "tags"),
        (dict(tags=np.where(np.arange(4)[:, None] == 0, np.nan, t)), ValueError, "tags.*NaN"),
        (dict(tags=[[0.0]]), TypeError, "tags"),
        (dict(neck=3), ValueError, "neck"),
        (dict(neck=-2), ValueError, "neck"),
        (dict(neck=0.0), TypeError, "neck"),
        (dict(tag_threshold=0.0), ValueError, "tag_threshold"),
        (dict(tag_threshold=float("inf")), ValueError, "tag_threshold"),
        (dict(min_joints=0), ValueError, "min_joints"),
        (dict(max_people=0), ValueError, "max_people"),
        (dict(num_threads=-1), ValueError, "num_threads"),
        (dict(scores=torch.zeros((1, 3, 4), device="meta")), ValueError, "scores.*CPU"),
    ], (s, t, c)


@pytest.mark.parametrize("case", range(len(bad_cases()[0])))
def test_bad_inputs(case):
    cases, (s, t, c) = bad_cases()
    change, exc, match = cases[case]
    args = {"scores": s, "tags": t, "counts": c, "neck": 0, **change}
    with pytest.raises(exc, match=match):
        group_candidates(**args)


def test_nan_beyond_counts_is_ignored():
    s = np.full((1, 2, 3), 0.5, np.float32)
    t = np.zeros((1, 2, 3))
    s[0, 0, 2] = np.nan
    t[0, 1, 2] = np.nan
    c = np.array([[2, 2]])
    assert_same(group_candidates(s, t, c, neck=0), _reference.group_candidates(s, t, c, 0, 1.0, 2, 30))


def test_custom_op_opcheck_and_compile():
    rng = np.random.default_rng(3)
    scores = torch.from_numpy(rng.random((2, 4, 5), dtype=np.float32))
    tags = torch.from_numpy(np.round(rng.normal(size=(2, 4, 5, 2)), 1))
    counts = torch.from_numpy(rng.integers(0, 6, (2, 4)).astype(np.int32))
    args = (scores, tags, counts, 0, 1.0, 1, 7)
    torch.library.opcheck(torch.ops.ssmp3d.group_candidates.default, args)
    want = group_candidates(scores, tags, counts, neck=0, min_joints=1, max_people=7)
    assert_same(torch.ops.ssmp3d.group_candidates(*args), want)

    @torch.compile(fullgraph=True)
    def f(scores, tags, counts):
        out = torch.ops.ssmp3d.group_candidates(scores, tags, counts, 0, 1.0, 1, 7)
        return out[3] + 1, out[4]

    n, kept = f(scores, tags, counts)
    assert torch.equal(n, want[3] + 1) and torch.equal(kept, want[4])

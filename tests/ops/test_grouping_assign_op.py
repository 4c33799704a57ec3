"""The C++ assignment grouping (``group_candidates(grouping="assign")``) == its Python specification.

Random candidate tables on random skeleton trees (hypothesis): ties in scores
and tags, infinities, repeated pixels, every strategy parameter; then the
structure every grouping must have, threads, the custom op and bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ssmp3d.bones import tree_geometry
from ssmp3d.ops import _reference, group_candidates, skeleton_table
from ssmp3d.ops._ext import has_cpu_ext
from ssmp3d.skeleton import PANOPTIC19

from test_grouping_op import assert_same

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")


@st.composite
def assign_tables(draw):
    """Random tables, pixels and a random tree (joint 0 the root, parents before children)."""
    b = draw(st.integers(1, 3))
    k = draw(st.integers(1, 7))
    m = draw(st.integers(1, 6))
    d = draw(st.integers(1, 3))
    w = draw(st.integers(1, 9))
    h = draw(st.integers(1, 9))
    score_values = st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0, 0.0, 2.5, np.inf]) | st.floats(-3, 3)
    scores = draw(hnp.arrays(np.float32, (b, k, m), elements=score_values))
    tag_values = st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0, -1.0]) | st.floats(-4, 4, width=32)
    tags = draw(hnp.arrays(np.float64, (b, k, m, d), elements=tag_values))
    counts = draw(hnp.arrays(np.int32, (b, k), elements=st.integers(0, m)))
    indices = draw(hnp.arrays(np.int64, (b, k, m), elements=st.integers(0, w * h - 1)))
    parents = [-1] + [draw(st.integers(0, j - 1)) for j in range(1, k)]
    bones = draw(hnp.arrays(np.float64, (k, 3), elements=st.sampled_from([0.0, 0.05, 0.1, 0.3, -0.2])))
    tree = tree_geometry(parents, list(range(k)), bones)
    params = dict(
        neck=draw(st.integers(-1, k - 1)),
        tag_threshold=draw(st.sampled_from([0.5, 1.0, 1.5, 10.0])),
        min_joints=draw(st.integers(1, 3)),
        max_people=draw(st.integers(1, 8)),
        geometry_weight=draw(st.sampled_from([0.0, 0.3, 1.0, 5.0])),
        person_score=draw(st.sampled_from(["all", "detected"])),
        min_person_score=draw(st.sampled_from([0.0, 0.1, 0.5])),
    )
    return scores, tags, counts, indices, w, tree, params


def reference(scores, tags, counts, indices, width, tree, p):
    return _reference.group_candidates(scores, tags, counts, p["neck"], p["tag_threshold"], p["min_joints"],
                                       p["max_people"], "assign", indices, width, tree, p["geometry_weight"],
                                       p["person_score"], p["min_person_score"])


def check_structure(out, counts, params):
    assignment, person_scores, _, num_formed, kept, num_kept = out
    for i in range(counts.shape[0]):
        q = int(num_formed[i])
        rows = assignment[i, :q]
        assert ((rows >= 0).sum(1) >= 1).all() and (assignment[i, q:] == -1).all()
        used = [(j, int(r)) for row in rows for j, r in enumerate(row) if r >= 0]
        assert len(used) == len(set(used)) == int(counts[i].sum())  # every candidate in exactly one person
        sel = kept[i, : int(num_kept[i])]
        assert ((rows[sel] >= 0).sum(1) >= params["min_joints"]).all()
        s = person_scores[i, sel]
        if params["min_person_score"] > 0:  # 0 drops nobody
            assert not (s < params["min_person_score"]).any()
        ordered = s[~np.isnan(s)]
        assert (ordered[:-1] >= ordered[1:]).all()


@settings(max_examples=300, deadline=None)
@given(assign_tables())
def test_random_tables_equal_reference(table):
    scores, tags, counts, indices, width, tree, params = table
    got = group_candidates(scores, tags, counts, grouping="assign", indices=indices, width=width, skeleton=tree,
                           **params)
    check_structure(got, counts, params)
    assert_same(got, reference(scores, tags, counts, indices, width, tree, params))


@pytest.mark.parametrize("seed", range(4))
def test_panoptic_sized_tables_equal_reference_and_threads(seed):
    rng = np.random.default_rng(seed)
    b, k, m, w = 4, 19, 30, 64
    scores = np.sort(rng.random((b, k, m), dtype=np.float32), axis=-1)[..., ::-1].copy()
    tags = np.round(rng.normal(scale=3, size=(b, k, m, 1 + seed % 2)), 1)
    counts = rng.integers(0, m + 1, (b, k)).astype(np.int32)
    indices = rng.integers(0, w * w, (b, k, m))
    tree = tree_geometry(PANOPTIC19.parents, PANOPTIC19.topological_order, PANOPTIC19.mean_bones_m())
    p = dict(neck=0, tag_threshold=1.0, min_joints=2, max_people=30, geometry_weight=0.3, person_score="all",
             min_person_score=0.0)
    got = group_candidates(scores, tags, counts, grouping="assign", indices=indices, width=w, skeleton=PANOPTIC19,
                           num_threads=1, **p)
    check_structure(got, counts, p)
    assert_same(got, reference(scores, tags, counts, indices, w, tree, p))
    assert_same(group_candidates(scores, tags, counts, grouping="assign", indices=indices, width=w,
                                 skeleton=PANOPTIC19, num_threads=3, **p), got)


@pytest.mark.parametrize("people", [1, 2, 5])
def test_many_candidates_left_out_equal_reference(people):
    # 30 candidates of each type near a few people's tags: most rows must take
    # a leave-out column, in turn (the C++ solver searches only the first free
    # one of them; the reference searches them all).
    rng = np.random.default_rng(people)
    b, k, m, w = 2, 19, 30, 64
    scores = np.sort(rng.random((b, k, m), dtype=np.float32), axis=-1)[..., ::-1].copy()
    tags = rng.integers(0, people, (b, k, m, 1)) + np.round(rng.normal(scale=0.2, size=(b, k, m, 1)), 2)
    counts = np.full((b, k), m, np.int32)
    indices = rng.integers(0, w * w, (b, k, m))
    tree = tree_geometry(PANOPTIC19.parents, PANOPTIC19.topological_order, PANOPTIC19.mean_bones_m())
    for weight in (0.0, 0.3):
        p = dict(neck=0, tag_threshold=0.5, min_joints=1, max_people=40, geometry_weight=weight,
                 person_score="detected", min_person_score=0.0)
        got = group_candidates(scores, tags, counts, grouping="assign", indices=indices, width=w,
                               skeleton=PANOPTIC19, num_threads=1, **p)
        check_structure(got, counts, p)
        assert_same(got, reference(scores, tags, counts, indices, w, tree, p))


def base():
    s = np.full((1, 3, 4), 0.5, np.float32)
    t = np.zeros((1, 3, 4))
    c = np.full((1, 3), 2, np.int64)
    idx = np.zeros((1, 3, 4), np.int64)
    tree = tree_geometry([-1, 0, 1], [0, 1, 2], np.full((3, 3), 0.1))
    return dict(scores=s, tags=t, counts=c, neck=0, grouping="assign", indices=idx, width=4, skeleton=tree)


@pytest.mark.parametrize("change, exc, match", [
    (dict(grouping="greedy"), ValueError, "grouping"),
    (dict(indices=None), ValueError, "indices"),
    (dict(width=None), ValueError, "width"),
    (dict(skeleton=None), ValueError, "skeleton"),
    (dict(skeleton="panoptic19"), TypeError, "skeleton"),
    (dict(indices=np.full((1, 3, 4), -1)), ValueError, "indices"),
    (dict(indices=np.zeros((1, 3, 3), np.int64)), ValueError, "indices"),
    (dict(width=0), ValueError, "width"),
    (dict(geometry_weight=-0.1), ValueError, "geometry_weight"),
    (dict(geometry_weight=float("nan")), ValueError, "geometry_weight"),
    (dict(min_person_score=-1.0), ValueError, "min_person_score"),
    (dict(min_person_score=float("nan")), ValueError, "min_person_score"),
    (dict(person_score="max"), ValueError, "person_score"),
    (dict(skeleton=tree_geometry([-1, 0], [0, 1], np.full((2, 3), 0.1))), ValueError, "skeleton"),
    (dict(scores=np.full((1, 3, 257), 0.5, np.float32), tags=np.zeros((1, 3, 257)),
          indices=np.zeros((1, 3, 257), np.int64)), ValueError, "M <= 256"),
])
def test_bad_inputs(change, exc, match):
    with pytest.raises(exc, match=match):
        group_candidates(**{**base(), **change})


def test_custom_op_opcheck_and_compile():
    rng = np.random.default_rng(4)
    k = PANOPTIC19.num_joints
    scores = torch.from_numpy(rng.random((2, k, 5), dtype=np.float32))
    tags = torch.from_numpy(np.round(rng.normal(size=(2, k, 5)), 1))
    counts = torch.from_numpy(rng.integers(0, 6, (2, k)).astype(np.int32))
    indices = torch.from_numpy(rng.integers(0, 256, (2, k, 5)))
    table = torch.from_numpy(skeleton_table(PANOPTIC19).copy())
    mb = torch.from_numpy(PANOPTIC19.mean_bones_m())
    args = (scores, tags, counts, 0, 1.0, 1, 7, "assign", indices, 16, table, mb, 0.3, "all", 0.0)
    torch.library.opcheck(torch.ops.ssmp3d.group_candidates.default, args)
    want = group_candidates(scores, tags, counts, neck=0, min_joints=1, max_people=7, grouping="assign",
                            indices=indices, width=16, skeleton=PANOPTIC19, person_score="all")
    assert_same(torch.ops.ssmp3d.group_candidates(*args), want)

    @torch.compile(fullgraph=True)
    def f(scores, tags, counts, indices):
        out = torch.ops.ssmp3d.group_candidates(scores, tags, counts, 0, 1.0, 1, 7, "assign", indices, 16, table,
                                                mb, 0.3, "all", 0.0)
        return out[3] + 1, out[4]

    n, kept = f(scores, tags, counts, indices)
    assert torch.equal(n, want[3] + 1) and torch.equal(kept, want[4])

"""The paper's greedy grouping (DESIGN.md section 6.3) on hand-built candidate tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmp3d.decoding import DecodeConfig
from ssmp3d.decoding.grouping import group_candidates, tag_distance

K = 19
NECK = 0


def table(cands: dict[int, list[tuple[float, object]]], k: int = K, dim: int = 1):
    """Candidate table from ``{joint: [(score, tag), ...]}`` (rank order).

    Returns ``scores [K, M]`` float32, ``tags [K, M, D]`` float64 (tags
    rounded to float32 first, as the decoder gathers them), ``counts [K]``.
    """
    m = max([len(v) for v in cands.values()] + [1])
    scores = np.zeros((k, m), np.float32)
    tags = np.zeros((k, m, dim), np.float64)
    counts = np.zeros(k, np.int32)
    for j, lst in cands.items():
        counts[j] = len(lst)
        for r, (s, t) in enumerate(lst):
            scores[j, r] = s
            tags[j, r] = np.asarray(t, np.float32).reshape(dim)
    return scores, tags, counts


def paper(**cfg) -> DecodeConfig:
    """The paper's greedy with its person score (this module tests that strategy)."""
    return DecodeConfig(**{"grouping": "paper", "person_score": "detected", **cfg})


def group(cands, dim=1, k=K, neck=NECK, **cfg):
    cfg.setdefault("min_joints", 1)
    return group_candidates(*table(cands, k, dim), neck, paper(**cfg))


def members(g, q):
    """``{joint: rank}`` of person row ``q``."""
    return {int(j): int(r) for j, r in enumerate(g.assignment[q]) if r >= 0}


def test_empty_table_forms_nobody():
    g = group({})
    assert g.num_formed == 0 and g.kept.shape == (0,)
    assert g.assignment.shape == (0, K) and g.tags.shape == (0, 1) and g.seeds.shape == (0, 2)


def test_all_equal_tags_fill_first_person_one_per_joint_type():
    cands = {j: [(0.9 - 0.1 * r, 0.0) for r in range(3)] for j in range(K)}
    g = group(cands)
    # Every person takes the best free candidate of each type: three full people.
    assert g.num_formed == 3
    for q in range(3):
        assert members(g, q) == {j: q for j in range(K)}
    np.testing.assert_array_equal(g.kept, [0, 1, 2])
    np.testing.assert_array_equal(g.seeds, [[NECK, 0], [NECK, 1], [NECK, 2]])


def test_tag_distance_exactly_at_threshold_is_not_joined():
    g = group({NECK: [(0.9, 0.0)], 1: [(0.8, 1.0)]}, tag_threshold=1.0)
    assert g.num_formed == 2 and members(g, 0) == {NECK: 0} and members(g, 1) == {1: 0}
    g = group({NECK: [(0.9, 0.5)], 1: [(0.8, 0.75)]}, tag_threshold=0.25)
    assert g.num_formed == 2


def test_tag_distance_just_below_threshold_is_joined():
    below = float(np.nextafter(np.float32(1.0), np.float32(0.0)))
    g = group({NECK: [(0.9, 0.0)], 1: [(0.8, below)]}, tag_threshold=1.0)
    assert g.num_formed == 1 and members(g, 0) == {NECK: 0, 1: 0}
    g = group({NECK: [(0.9, 0.0)], 1: [(0.8, 1.0)]}, tag_threshold=float(np.nextafter(1.0, 2.0)))
    assert g.num_formed == 1


def test_reference_tag_is_running_mean_in_float64():
    # Joint 3 (tag 1.3) is out of reach of the neck alone (|1.3 - 0| >= 1) but
    # within reach once joint 1 (tag 0.9) moved the reference to 0.45.
    g = group({NECK: [(0.9, 0.0)], 1: [(0.8, 0.9)], 3: [(0.7, 1.3)]}, tag_threshold=1.0)
    assert g.num_formed == 1 and members(g, 0) == {NECK: 0, 1: 0, 3: 0}
    t = [float(np.float32(v)) for v in (0.0, 0.9, 1.3)]
    assert g.tags[0, 0] == ((t[0] + t[1]) + t[2]) / 3
    s = [float(np.float32(v)) for v in (0.9, 0.8, 0.7)]
    assert g.scores[0] == ((s[0] + s[1]) + s[2]) / 3


def test_highest_score_first_changes_the_outcome():
    # Both joint 1 (tag 0.9) and joint 3 (tag -0.9) qualify against the neck,
    # but after taking one the other is too far: the higher score wins.
    g = group({NECK: [(0.9, 0.0)], 1: [(0.5, 0.9)], 3: [(0.6, -0.9)]}, tag_threshold=1.0)
    assert members(g, 0) == {NECK: 0, 3: 0}
    g = group({NECK: [(0.9, 0.0)], 1: [(0.6, 0.9)], 3: [(0.5, -0.9)]}, tag_threshold=1.0)
    assert members(g, 0) == {NECK: 0, 1: 0}


def test_equal_scores_tie_break_by_joint_index():
    g = group({NECK: [(0.9, 0.0)], 3: [(0.5, -0.9)], 1: [(0.5, 0.9)]}, tag_threshold=1.0)
    assert members(g, 0) == {NECK: 0, 1: 0}
    assert members(g, 1) == {3: 0}


def test_equal_scores_tie_break_by_rank():
    g = group({NECK: [(0.9, 0.0)], 1: [(0.5, 0.5), (0.5, 0.25)]}, tag_threshold=1.0)
    assert members(g, 0) == {NECK: 0, 1: 0}
    assert members(g, 1) == {1: 1}


def test_neck_seeds_in_rank_order_and_each_person_grows_fully_first():
    # Neck rank 0 (tag 0) grows first and takes the joint-1 candidate even though
    # it is closer to neck rank 1 (tag 0.5).
    g = group({NECK: [(0.9, 0.0), (0.95, 0.5)], 1: [(0.8, 0.4)]}, tag_threshold=1.0)
    np.testing.assert_array_equal(g.seeds, [[NECK, 0], [NECK, 1]])
    assert members(g, 0) == {NECK: 0, 1: 0}
    assert members(g, 1) == {NECK: 1}
    # Output order is by person score: person 1 (0.95) before person 0 (0.85).
    np.testing.assert_array_equal(g.kept, [1, 0])


def test_leftover_candidates_seed_new_people_by_score():
    cands = {5: [(0.8, 3.0)], 3: [(0.9, 7.0)], 4: [(0.85, 3.2)], 7: [(0.4, 7.5)], 8: [(0.95, 20.0)]}
    g = group(cands, tag_threshold=1.0)
    np.testing.assert_array_equal(g.seeds, [[8, 0], [3, 0], [4, 0]])
    assert members(g, 0) == {8: 0}
    assert members(g, 1) == {3: 0, 7: 0}
    assert members(g, 2) == {4: 0, 5: 0}


def test_leftover_seed_ties_break_by_joint_then_rank():
    cands = {6: [(0.5, 0.0)], 4: [(0.5, 10.0), (0.5, 20.0)]}
    g = group(cands)
    np.testing.assert_array_equal(g.seeds, [[4, 0], [4, 1], [6, 0]])


def test_leftovers_after_necks():
    cands = {NECK: [(0.6, 0.0)], 1: [(0.99, 5.0)], 2: [(0.7, 0.2)]}
    g = group(cands)
    np.testing.assert_array_equal(g.seeds, [[NECK, 0], [1, 0]])
    assert members(g, 0) == {NECK: 0, 2: 0}


def test_counts_limit_the_candidates():
    scores, tags, counts = table({NECK: [(0.9, 0.0), (0.8, 5.0), (0.7, 9.0)]})
    counts[NECK] = 2
    g = group_candidates(scores, tags, counts, NECK, paper(min_joints=1))
    assert g.num_formed == 2


def test_min_joints_and_max_people_filter_and_order():
    cands = {
        NECK: [(0.5, 0.0), (0.9, 10.0), (0.7, 20.0), (0.7, 30.0)],
        1: [(0.5, 0.0), (0.9, 10.0), (0.7, 20.0), (0.7, 30.0)],
        3: [(0.5, 0.0), (0.9, 40.0)],
    }
    g = group(cands, min_joints=2, max_people=30)
    np.testing.assert_array_equal(g.num_joints, [3, 2, 2, 2, 1])
    # Scores 0.5, 0.9, 0.7, 0.7 (tie: creation order); the one-joint person is dropped.
    np.testing.assert_array_equal(g.kept, [1, 2, 3, 0])
    g = group(cands, min_joints=2, max_people=2)
    np.testing.assert_array_equal(g.kept, [1, 2])
    g = group(cands, min_joints=3)
    np.testing.assert_array_equal(g.kept, [0])
    g = group(cands, min_joints=1)
    # The one-joint person (0.9) ties with person 1 (mean of 0.9, 0.9): creation order.
    np.testing.assert_array_equal(g.kept, [1, 4, 2, 3, 0])


def test_one_joint_people():
    cands = {4: [(0.9, 0.0), (0.8, 3.0)], 9: [(0.7, 6.0)]}
    g = group(cands, min_joints=1)
    assert g.num_formed == 3
    np.testing.assert_array_equal(g.kept, [0, 1, 2])
    g = group(cands, min_joints=2)
    assert g.num_formed == 3 and g.kept.shape == (0,)


def test_multidimensional_tags_use_euclidean_distance():
    # |(0.75, 1.0)| = 1.25 exactly: not joined at threshold 1.25, joined just above.
    cands = {NECK: [(0.9, (0.0, 0.0))], 1: [(0.8, (0.75, 1.0))]}
    assert group(cands, dim=2, tag_threshold=1.25).num_formed == 2
    assert group(cands, dim=2, tag_threshold=float(np.nextafter(1.25, 2.0))).num_formed == 1
    # Each coordinate within 1.0 but the norm (sqrt 2) beyond it.
    cands = {NECK: [(0.9, (0.0, 0.0, 0.0))], 1: [(0.8, (1.0, 1.0, 0.0))]}
    assert group(cands, dim=3, tag_threshold=1.4).num_formed == 2
    assert group(cands, dim=3, tag_threshold=1.5).num_formed == 1
    g = group(cands, dim=3, tag_threshold=1.5)
    np.testing.assert_array_equal(g.tags[0], [0.5, 0.5, 0.0])


def test_tag_distance_helper():
    t = np.array([[0.0, 1.0, -2.0]])
    np.testing.assert_array_equal(tag_distance(t, np.array([0.5])), [0.5, 0.5, 2.5])
    t = np.array([[3.0, 0.0], [4.0, 0.0]])
    np.testing.assert_array_equal(tag_distance(t, np.zeros(2)), [5.0, 0.0])


# ----------------------------------------------------------------------------
# Brute force: a literal transcription of the rules, compared on random tables.


def brute_force(cands, dim, neck, thr, min_joints, max_people):
    """Plain-Python greedy grouping; returns ``(people, kept)`` with each person
    a ``{joint: rank}`` dict, in creation order."""
    pool = []
    for k, lst in cands.items():
        for r, (s, t) in enumerate(lst):
            t = [float(v) for v in np.asarray(t, np.float32).reshape(dim)]
            pool.append((k, r, float(np.float32(s)), t))
    key = lambda c: (-c[2], c[0], c[1])  # noqa: E731
    taken: set[tuple[int, int]] = set()
    people, scores = [], []

    def dist(t, ref):
        if dim == 1:
            return abs(t[0] - ref[0])
        acc = 0.0
        for a, b in zip(t, ref):
            acc += (a - b) * (a - b)
        return math.sqrt(acc)

    def grow(seed):
        mem = [seed]
        taken.add(seed[:2])
        while True:
            ref = [sum(m[3][d] for m in mem) / len(mem) for d in range(dim)]
            have = {m[0] for m in mem}
            opts = [c for c in pool if c[:2] not in taken and c[0] not in have and dist(c[3], ref) < thr]
            if not opts:
                break
            best = min(opts, key=key)
            mem.append(best)
            taken.add(best[:2])
        people.append({m[0]: m[1] for m in mem})
        scores.append(sum(m[2] for m in mem) / len(mem))

    for c in sorted((c for c in pool if c[0] == neck), key=lambda c: c[1]):
        grow(c)
    while len(taken) < len(pool):
        grow(min((c for c in pool if c[:2] not in taken), key=key))
    ok = [q for q in range(len(people)) if len(people[q]) >= min_joints]
    ok.sort(key=lambda q: -scores[q])
    return people, ok[:max_people], scores


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    dim=st.sampled_from([1, 2]),
    k=st.integers(2, 6),
    thr=st.sampled_from([0.25, 0.5, 1.0, 1.5]),
    min_joints=st.integers(1, 3),
    max_people=st.integers(1, 6),
)
def test_matches_brute_force(seed, dim, k, thr, min_joints, max_people):
    rng = np.random.default_rng(seed)
    cands = {}
    for j in range(k):
        n = int(rng.integers(0, 5))
        # Coarse scores and tags make ties and exact threshold distances common.
        sc = np.sort(rng.choice([0.3, 0.5, 0.5, 0.7, 0.9], n))[::-1]
        cands[j] = [(float(s), rng.integers(0, 9, dim) * 0.25) for s in sc]
    neck = int(rng.integers(0, k))
    people, kept, scores = brute_force(cands, dim, neck, thr, min_joints, max_people)
    g = group(cands, dim=dim, k=k, neck=neck, tag_threshold=thr, min_joints=min_joints,
              max_people=max_people)
    assert [members(g, q) for q in range(g.num_formed)] == people
    assert g.kept.tolist() == kept
    np.testing.assert_array_equal(g.scores, scores)


@pytest.mark.parametrize("neck", [0, 8])
def test_neck_argument_is_respected(neck):
    g = group({1: [(0.99, 0.0)], neck: [(0.2, 0.0)]}, neck=neck)
    np.testing.assert_array_equal(g.seeds, [[neck, 0]])

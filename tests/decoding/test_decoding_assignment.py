"""The assignment grouping (``DecodeConfig(grouping="assign")``) on hand-built candidate tables."""

from __future__ import annotations

import numpy as np
import pytest

from ssmp3d.bones import tree_geometry
from ssmp3d.decoding import DecodeConfig
from ssmp3d.decoding.assignment import MERGE_LIMIT, scale_prior
from ssmp3d.decoding.grouping import group_candidates

# A chain 0 - 1 - 2 - 3 with 0.1 m bones: path lengths are 0.1 * |i - j|.
K = 4
TREE = tree_geometry([-1, 0, 1, 2], [0, 1, 2, 3], np.tile([0.1, 0.0, 0.0], (K, 1)))


def table(cands: dict[int, list[tuple[float, float, tuple[int, int]]]]):
    """``{joint: [(score, tag, (x, y)), ...]}`` in rank order -> scores, tags, counts, xy."""
    m = max([len(v) for v in cands.values()] + [1])
    scores = np.zeros((K, m), np.float32)
    tags = np.zeros((K, m, 1))
    xy = np.zeros((K, m, 2))
    counts = np.zeros(K, np.int32)
    for j, lst in cands.items():
        counts[j] = len(lst)
        for r, (s, t, p) in enumerate(lst):
            scores[j, r], tags[j, r, 0], xy[j, r] = s, t, p
    return scores, tags, counts, xy


def group(cands, **cfg):
    cfg = {"min_joints": 1, **cfg}
    s, t, c, xy = table(cands)
    return group_candidates(s, t, c, -1, DecodeConfig(**cfg), xy=xy, tree=TREE)


def people(g):
    """Each kept person as ``{joint: rank}``, in creation order."""
    return [{int(j): int(r) for j, r in enumerate(g.assignment[q]) if r >= 0} for q in sorted(g.kept)]


def test_one_to_one_assignment_beats_taking_the_best_score():
    # Joint 0 seeds two people (tags 0 and 1). Joint 1's candidates: rank 0 (tag 0.6) is within
    # the threshold of both; rank 1 (tag 0.1) only fits person 0. The optimal assignment gives
    # rank 0 to person 1 and rank 1 to person 0; the paper's greedy lets person 0 take rank 0.
    cands = {0: [(0.9, 0.0, (0, 0)), (0.8, 1.0, (9, 0))], 1: [(0.9, 0.6, (9, 1)), (0.5, 0.1, (0, 1))]}
    assert people(group(cands, geometry_weight=0.0)) == [{0: 0, 1: 1}, {0: 1, 1: 0}]
    paper = group(cands, grouping="paper", person_score="detected")
    assert {0: 0, 1: 0} in people(paper)


def test_distance_at_the_threshold_does_not_join():
    cands = {0: [(0.9, 0.0, (0, 0))], 1: [(0.9, 1.0, (0, 1))]}
    assert people(group(cands, geometry_weight=0.0)) == [{0: 0}, {1: 0}]
    below = float(np.nextafter(1.0, 0.0))
    cands[1] = [(0.9, below, (0, 1))]
    assert people(group(cands, geometry_weight=0.0)) == [{0: 0, 1: 0}]


def test_leftover_candidates_start_people_in_rank_order():
    cands = {0: [(0.9, 0.0, (0, 0))], 1: [(0.8, 0.1, (0, 1)), (0.7, 0.2, (0, 2)), (0.6, 5.0, (0, 3))]}
    g = group(cands, geometry_weight=0.0)
    assert g.assignment.tolist() == [[0, 0, -1, -1], [-1, 1, -1, -1], [-1, 2, -1, -1]]
    np.testing.assert_array_equal(g.seeds, [[0, 0], [1, 1], [1, 2]])


def test_only_the_first_max_people_take_joints():
    cands = {0: [(0.9, 0.0, (0, 0)), (0.8, 3.0, (5, 0))], 1: [(0.9, 3.0, (5, 1))]}
    assert people(group(cands, geometry_weight=0.0, max_people=2)) == [{0: 0}, {0: 1, 1: 0}]
    g = group(cands, geometry_weight=0.0, max_people=1)
    assert g.assignment.tolist() == [[0, -1, -1, -1], [1, -1, -1, -1], [-1, 0, -1, -1]]


def test_geometry_breaks_a_tag_tie():
    # Two people with equal tags, 20 px apart; joint 1's candidate lies 1 px from person 1's joint 0.
    cands = {0: [(0.9, 0.0, (0, 0)), (0.9, 0.0, (20, 0))], 1: [(0.9, 0.0, (20, 1))],
             2: [(0.9, 0.0, (0, 2)), (0.9, 0.0, (20, 2))]}
    assert people(group(cands, geometry_weight=0.3)) == [{0: 0, 2: 0}, {0: 1, 1: 0, 2: 1}]
    # Without geometry the tie goes to the earlier person.
    assert people(group(cands, geometry_weight=0.0))[0] == {0: 0, 1: 0, 2: 0}


def test_fragments_merge_when_tags_and_positions_agree():
    # One person along the chain, 2 px per joint. Joint 2's tag (1.15) misses the gate of the
    # reference 0.1 (joints 0 and 1), so it starts a fragment; joint 3 (0.75) fits both and goes
    # to the fragment (cheaper). The fragment's mean (0.95) is 0.85 from 0.1 and it continues
    # the body (gap 2 px over 0.1 m at 20 px per metre: 1.0 <= MERGE_LIMIT): they merge.
    cands = {0: [(0.9, 0.0, (0, 0))], 1: [(0.9, 0.2, (0, 2))], 2: [(0.9, 1.15, (0, 4))], 3: [(0.9, 0.75, (0, 6))]}
    g = group(cands, geometry_weight=0.3)
    assert people(g) == [{0: 0, 1: 0, 2: 0, 3: 0}]
    assert g.tags[g.kept[0], 0] == pytest.approx(0.525) and g.num_joints.tolist() == [4]
    # Without geometry there is no merging.
    assert people(group(cands, geometry_weight=0.0)) == [{0: 0, 1: 0}, {2: 0, 3: 0}]
    # Tags too far apart (1.15 and 5.0 -> mean far from 0.1): no merge.
    cands[3] = [(0.9, 5.0, (0, 6))]
    assert len(people(group(cands, geometry_weight=0.3))) == 3


def test_fragments_far_apart_do_not_merge():
    cands = {0: [(0.9, 0.0, (0, 0))], 1: [(0.9, 0.2, (0, 2))], 2: [(0.9, 1.15, (40, 40))], 3: [(0.9, 0.75, (40, 42))]}
    g = group(cands, geometry_weight=0.3)
    assert len(people(g)) == 2
    # The gap relative to the scale (pixels per metre of the joint-0/1 pair: 20) is far above the limit.
    assert 40 / (0.1 * 20) > MERGE_LIMIT


def test_person_score_rules_and_min_person_score():
    cands = {0: [(0.8, 0.0, (0, 0)), (0.4, 5.0, (9, 0))], 1: [(0.6, 0.0, (0, 1))]}
    g = group(cands, geometry_weight=0.0, person_score="all")
    np.testing.assert_allclose(g.scores, [(0.8 + 0.6) / K, 0.4 / K], rtol=1e-6)
    g = group(cands, geometry_weight=0.0, person_score="detected")
    np.testing.assert_allclose(g.scores, [0.7, 0.4], rtol=1e-6)
    g = group(cands, geometry_weight=0.0, person_score="all", min_person_score=0.2)
    assert g.kept.tolist() == [0]


def test_scale_prior_is_the_median_ratio():
    xy = np.zeros((K, 2, 2))
    xy[0, 0], xy[1, 0], xy[1, 1] = (0, 0), (0, 2), (0, 6)  # joint 1 to its parent: 2 and 6 px
    counts = np.array([1, 2, 0, 0])
    assert scale_prior(xy, counts, TREE) == pytest.approx((20.0 + 60.0) / 2)
    assert scale_prior(xy, np.array([1, 0, 0, 0]), TREE) == 0.0


@pytest.mark.parametrize("change, match", [
    (dict(grouping="greedy"), "grouping"),
    (dict(geometry_weight=-1.0), "geometry_weight"),
    (dict(person_score="max"), "person_score"),
    (dict(min_person_score=-0.1), "min_person_score"),
    (dict(min_person_score=float("nan")), "min_person_score"),
    (dict(max_candidates=257), "max_candidates"),
])
def test_config_rejects_bad_values(change, match):
    with pytest.raises(ValueError, match=f"DecodeConfig.{match}"):
        DecodeConfig(**change)
    DecodeConfig(grouping="paper", max_candidates=4096)  # the paper's greedy takes any M


def test_config_round_trips_through_a_dict():
    cfg = DecodeConfig(nms_radius=3, min_person_score=0.125, mean_bones=((0.1, 0.2, 0.3),) * 19)
    assert DecodeConfig.from_dict(cfg.to_dict()) == cfg
    assert DecodeConfig.from_dict({"nms_radius": 2}, base=cfg).min_person_score == 0.125
    with pytest.raises(ValueError, match="unknown field"):
        DecodeConfig.from_dict({"radius": 2})
    with pytest.raises(TypeError, match="mapping"):
        DecodeConfig.from_dict([("nms_radius", 2)])

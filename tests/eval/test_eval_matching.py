"""Tests of the one-to-one 2D root-distance matching (ssmp3d.eval.matching)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ssmp3d.eval.matching import match_people, pairwise_root_distance

K = 19
PELVIS = 2


def body(x: float, y: float) -> np.ndarray:
    """[K, 2] a person whose pelvis is at (x, y); joint k at pelvis + (3(k-2), -5(k-2))."""
    k = np.arange(K, dtype=np.float64) - PELVIS
    return np.stack([x + 3.0 * k, y - 5.0 * k], axis=-1)


def stack(*people: np.ndarray) -> np.ndarray:
    return np.stack(people) if people else np.zeros((0, K, 2))


def all_true(n: int) -> np.ndarray:
    return np.ones((n, K), dtype=bool)


def match(pred, gt, pred_det=None, gt_in=None, threshold=50.0):
    pred_det = all_true(len(pred)) if pred_det is None else pred_det
    gt_in = all_true(len(gt)) if gt_in is None else gt_in
    return match_people(pred, pred_det, gt, gt_in, pelvis=PELVIS, threshold=threshold)


def test_swapped_order_matches_correctly():
    gt = stack(body(100, 300), body(400, 300))
    pred = stack(body(403, 298), body(98, 301))
    assert match(pred, gt) == [(0, 1), (1, 0)]


def test_pelvis_distance_when_shared():
    gt = stack(body(100, 300))
    pred = stack(body(103, 304))
    d = pairwise_root_distance(pred, all_true(1), gt, all_true(1), pelvis=PELVIS)
    assert d.shape == (1, 1) and d[0, 0] == pytest.approx(5.0)


def test_beyond_threshold_is_not_matched_and_threshold_is_exclusive():
    gt = stack(body(100, 300))
    assert match(stack(body(160, 300)), gt) == []
    assert match(stack(body(130, 340)), gt) == []          # distance exactly 50
    assert match(stack(body(130, 339)), gt) == [(0, 0)]


def test_pelvis_missing_in_prediction_uses_mean_gt_relative_offset():
    gt = stack(body(100, 300))
    pred = body(100, 300)
    pred[:, 0] += 8.0
    pred[3, 1] += 12.0                 # offsets (8, 0) everywhere, (8, 12) on joint 3
    pred[PELVIS] = np.nan
    det = all_true(1)
    det[0, PELVIS] = False
    shared = [k for k in range(K) if k != PELVIS]
    expected = math.hypot(8.0, 12.0 / len(shared))
    d = pairwise_root_distance(stack(pred), det, gt, all_true(1), pelvis=PELVIS)
    assert d[0, 0] == pytest.approx(expected)
    assert match(stack(pred), gt, pred_det=det) == [(0, 0)]


def test_gt_pelvis_out_of_image_uses_shared_joints_only():
    gt = stack(body(100, 300))
    gt_in = all_true(1)
    gt_in[0, PELVIS] = False
    gt_in[0, 10:] = False
    pred = body(100, 300)
    pred[PELVIS] += 40.0               # would be the root distance if the GT pelvis counted
    pred[:10] += np.array([3.0, 4.0])  # shared joints 0, 1, 3..9 move by (3, 4)
    d = pairwise_root_distance(stack(pred), all_true(1), gt, gt_in, pelvis=PELVIS)
    assert d[0, 0] == pytest.approx(5.0)


def test_no_shared_joint_cannot_match():
    gt = stack(body(100, 300))
    gt_in = np.zeros((1, K), dtype=bool)
    gt_in[0, 10:] = True
    det = np.zeros((1, K), dtype=bool)
    det[0, :10] = True
    pred = stack(body(100, 300))
    assert np.isinf(pairwise_root_distance(pred, det, gt, gt_in, pelvis=PELVIS)[0, 0])
    assert match(pred, gt, pred_det=det, gt_in=gt_in) == []


def test_detected_joint_with_nan_coordinates_is_not_shared():
    gt = stack(body(100, 300))
    pred = np.full((1, K, 2), np.nan)
    assert match(pred, gt) == []


def test_optimal_assignment_beats_greedy():
    # Points on a line: GT pelvises at x=0 and x=30; preds at x=14 and x=-20.
    # Costs: A(14)-1 14, A-2 16, B(-20)-1 20, B-2 50 (forbidden at threshold 50).
    # Greedy: A-1 (14), then B has only B-2 (forbidden) -> one match.
    # Optimal (max matches, then min cost): A-2 16 + B-1 20 -> two matches.
    gt = stack(body(0, 0), body(30, 0))
    pred = stack(body(14, 0), body(-20, 0))
    d = pairwise_root_distance(pred, all_true(2), gt, all_true(2), pelvis=PELVIS)
    np.testing.assert_allclose(d, [[14, 16], [20, 50]])
    assert match(pred, gt) == [(0, 1), (1, 0)]


def test_minimum_total_cost_among_full_matchings():
    # A-1 10, A-2 20, B-1 15, B-2 40: both full matchings allowed;
    # greedy gives 10 + 40 = 50, the optimum 20 + 15 = 35.
    gt = stack(body(0, 0), body(0, 0))
    gt[1, PELVIS] = (30, 0)
    pred = stack(body(0, 0), body(0, 0))
    pred[0, PELVIS] = (10, 0)          # to GT1 (0,0): 10, to GT2 (30,0): 20
    pred[1, PELVIS] = (-15, 0)         # 15, 45
    d = pairwise_root_distance(pred, all_true(2), gt, all_true(2), pelvis=PELVIS)
    np.testing.assert_allclose(d, [[10, 20], [15, 45]])
    assert match(pred, gt) == [(0, 1), (1, 0)]


def test_more_predictions_than_gt_and_empty_sides():
    gt = stack(body(100, 300))
    pred = stack(body(300, 300), body(101, 300), body(120, 300))
    assert match(pred, gt) == [(1, 0)]
    assert match(stack(), gt) == []
    assert match(pred, stack()) == []
    assert pairwise_root_distance(stack(), np.zeros((0, K), bool), gt, all_true(1), pelvis=PELVIS).shape == (0, 1)


def test_deterministic():
    rng = np.random.default_rng(0)
    gt = stack(*[body(*rng.uniform(0, 500, 2)) for _ in range(6)])
    pred = stack(*[body(*rng.uniform(0, 500, 2)) for _ in range(7)])
    first = match(pred, gt, threshold=200.0)
    for _ in range(3):
        assert match(pred, gt, threshold=200.0) == first


@pytest.mark.parametrize("threshold", [0, -1.0, float("nan"), float("inf"), True, "50"])
def test_bad_threshold(threshold):
    with pytest.raises(ValueError, match="threshold"):
        match(stack(body(0, 0)), stack(body(0, 0)), threshold=threshold)


def test_bad_shapes_and_pelvis():
    gt = stack(body(0, 0))
    with pytest.raises(ValueError, match="pred_joints2d"):
        match_people(np.zeros((1, K, 3)), all_true(1), gt, all_true(1), pelvis=PELVIS, threshold=50.0)
    with pytest.raises(ValueError, match="pred_detected"):
        match_people(gt, np.ones((1, K - 1), bool), gt, all_true(1), pelvis=PELVIS, threshold=50.0)
    with pytest.raises(ValueError, match="gt_joints2d"):
        match_people(gt, all_true(1), np.zeros((1, K - 2, 2)), all_true(1), pelvis=PELVIS, threshold=50.0)
    with pytest.raises(ValueError, match="gt_in_image"):
        match_people(gt, all_true(1), gt, all_true(2), pelvis=PELVIS, threshold=50.0)
    with pytest.raises(ValueError, match="pelvis"):
        match_people(gt, all_true(1), gt, all_true(1), pelvis=K, threshold=50.0)
    with pytest.raises(TypeError, match="pred_joints2d"):
        match_people([["a", "b"]], all_true(1), gt, all_true(1), pelvis=PELVIS, threshold=50.0)

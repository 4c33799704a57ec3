"""Tests of the evaluation metrics and reports (ssmp3d.eval.metrics, ssmp3d.eval.report)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ssmp3d.data.scene import Scene
from ssmp3d.decoding.types import DecodeResult, Person, ReadoutRule
from ssmp3d.eval import (
    PANOPTIC_PROTOCOL_JOINTS, RULE_NAMES, EvalConfig, EvalReport, Evaluator, combine_reports, evaluate,
    format_table1, json_safe,
)
from ssmp3d.geometry import Camera
from ssmp3d.skeleton import H36M17, PANOPTIC19

K = PANOPTIC19.num_joints
PELVIS, NECK = PANOPTIC19.pelvis, PANOPTIC19.neck
POSE = np.asarray(PANOPTIC19.mean_pose_mm, dtype=np.float64)   # pelvis-relative, pelvis at 0
CAMERA = Camera(K=np.array([[1000.0, 0, 320], [0, 1000.0, 240], [0, 0, 1]]), R=np.eye(3),
                t=np.zeros(3), dist=np.zeros(5), width=640, height=480)


def body2d(x: float, y: float = 240.0) -> np.ndarray:
    """[K, 2] image joints with the pelvis at (x, y)."""
    k = np.arange(K, dtype=np.float64) - PELVIS
    return np.stack([x + 2.0 * k, y - 4.0 * k], axis=-1)


def make_scene(xs, in_image=None, valid3d=None) -> Scene:
    """One GT person per pelvis x position; 3D = mean pose 3 m in front, shifted by x mm."""
    n = len(xs)
    j3 = np.stack([POSE + np.array([float(x), 0.0, 3000.0]) for x in xs]) if n else np.zeros((0, K, 3))
    j2 = np.stack([body2d(x) for x in xs]) if n else np.zeros((0, K, 2))
    ii = np.ones((n, K), bool) if in_image is None else np.asarray(in_image, bool)
    v3 = np.ones((n, K), bool) if valid3d is None else np.asarray(valid3d, bool)
    return Scene(camera=CAMERA, joints3d=j3, joints2d=j2, in_image=ii, visible=ii.copy(), valid3d=v3)


def make_person(x: float, offsets_mm=None, detected=None, rules=None, shift_px=(0.0, 0.0)) -> Person:
    """A prediction of the GT person at x: exact 2D (+ shift) and 3D (+ offsets_mm [K, 3])."""
    det = np.ones(K, bool) if detected is None else np.asarray(detected, bool)
    j2 = body2d(x) + np.asarray(shift_px)
    j2[~det] = np.nan
    j3 = POSE.copy() if offsets_mm is None else POSE + np.asarray(offsets_mm, dtype=np.float64)
    rr = np.zeros(K, np.int8) if rules is None else np.asarray(rules, np.int8)
    return Person(joints2d=j2.astype(np.float32), scores=det.astype(np.float32), detected=det,
                  joints3d=j3.astype(np.float32), readout_rule=rr, readout_joint=np.full(K, -1, np.int16),
                  score=1.0, tag=np.zeros(1))


def one_joint_offset(joint: int, mm: float) -> np.ndarray:
    off = np.zeros((K, 3))
    off[joint, 0] = mm
    return off


def pack(frames: list[list[Person]], max_people: int = 4) -> DecodeResult:
    """Builds a padded DecodeResult from per-image lists of Person."""
    b = len(frames)
    out = dict(joints2d=np.full((b, max_people, K, 2), np.nan, np.float32),
               scores=np.zeros((b, max_people, K), np.float32), detected=np.zeros((b, max_people, K), bool),
               peaks=np.full((b, max_people, K), -1, np.int64),
               joints3d=np.zeros((b, max_people, K, 3), np.float32),
               readout_rule=np.full((b, max_people, K), -1, np.int8),
               readout_joint=np.full((b, max_people, K), -1, np.int16),
               person_scores=np.zeros((b, max_people), np.float32), tags=np.zeros((b, max_people, 1)),
               num_people=np.array([len(f) for f in frames], np.int32))
    for i, people in enumerate(frames):
        for p, person in enumerate(people):
            out["joints2d"][i, p] = person.joints2d
            out["scores"][i, p] = person.scores
            out["detected"][i, p] = person.detected
            out["joints3d"][i, p] = person.joints3d
            out["readout_rule"][i, p] = person.readout_rule
            out["person_scores"][i, p] = person.score
    return DecodeResult(**out)


# ---------------------------------------------------------------- headline metrics

def test_perfect_prediction():
    r = evaluate([[make_person(100)]], [make_scene([100])])
    assert r.mpjpe_mm == pytest.approx(0.0, abs=1e-3)
    assert (r.pck3d, r.recall, r.precision, r.miss_rate) == (1.0, 1.0, 1.0, 0.0)
    assert (r.people, r.predictions, r.tp, r.fp, r.misses, r.ignored, r.frames) == (1, 1, 1, 0, 0, 0, 1)
    assert r.joints == K and r.scored_people == 1


def test_one_joint_offset_all_joints():
    r = evaluate([[make_person(100, one_joint_offset(5, 30.0))]], [make_scene([100])])
    assert r.mpjpe_mm == pytest.approx(30.0 / 19, rel=1e-5)
    assert r.mpjpe_per_person_mm == pytest.approx(30.0 / 19, rel=1e-5)
    assert r.per_joint_mm["l_wrist"] == pytest.approx(30.0, rel=1e-5)
    assert r.per_joint_mm["neck"] == pytest.approx(0.0, abs=1e-3)
    assert list(r.per_joint_mm) == list(PANOPTIC19.joints)


def test_protocol_joint_subset():
    cfg = EvalConfig(joints=PANOPTIC_PROTOCOL_JOINTS)
    assert PANOPTIC_PROTOCOL_JOINTS == (0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
    r = evaluate([[make_person(100, one_joint_offset(5, 30.0))]], [make_scene([100])], config=cfg)
    assert r.mpjpe_mm == pytest.approx(30.0 / 14, rel=1e-5)
    assert r.joints == 14
    assert "nose" not in r.per_joint_mm and "l_eye" not in r.per_joint_mm and len(r.per_joint_mm) == 14
    r = evaluate([[make_person(100, one_joint_offset(1, 30.0))]], [make_scene([100])], config=cfg)
    assert r.mpjpe_mm == pytest.approx(0.0, abs=1e-3)


def test_swapped_predictions_mean_over_joints_vs_people():
    off_a = np.zeros((K, 3)); off_a[:, 2] = 10.0            # 10 mm everywhere
    off_b = np.zeros((K, 3)); off_b[:, 1] = 40.0            # 40 mm everywhere
    valid = np.ones((2, K), bool); valid[1, 10:] = False     # person B: 10 valid joints (0..9)
    scene = make_scene([100, 400], valid3d=valid)
    r = evaluate([[make_person(400, off_b), make_person(100, off_a)]], [scene])
    assert r.tp == 2 and r.joints == K + 10
    assert r.mpjpe_mm == pytest.approx((10.0 * K + 40.0 * 10) / (K + 10), rel=1e-5)
    assert r.mpjpe_per_person_mm == pytest.approx(25.0, rel=1e-5)
    assert r.per_joint_mm["l_ear"] == pytest.approx(10.0, rel=1e-5)   # only person A
    assert r.per_joint_mm["neck"] == pytest.approx(25.0, rel=1e-5)


def test_pred_beyond_threshold_is_fp_and_miss():
    r = evaluate([[make_person(100, shift_px=(60.0, 0.0))]], [make_scene([100])])
    assert (r.tp, r.fp, r.misses, r.people) == (0, 1, 1, 1)
    assert (r.recall, r.precision, r.miss_rate) == (0.0, 0.0, 1.0)
    assert math.isnan(r.mpjpe_mm) and math.isnan(r.pck3d) and math.isnan(r.mpjpe_per_person_mm)


def test_pred_matched_to_out_of_view_gt_is_ignored():
    ii = np.ones((2, K), bool); ii[1, [NECK, PELVIS]] = False   # GT 1 not in view
    scene = make_scene([100, 400], in_image=ii)
    r = evaluate([[make_person(400, one_joint_offset(3, 500.0)), make_person(100)]], [scene])
    assert (r.people, r.predictions, r.tp, r.fp, r.ignored, r.misses) == (1, 2, 1, 0, 1, 0)
    assert r.precision == 1.0 and r.recall == 1.0
    assert r.mpjpe_mm == pytest.approx(0.0, abs=1e-3)           # the ignored pair is not scored
    # Only an out-of-view GT and its prediction: nothing is defined.
    r = evaluate([[make_person(400)]], [make_scene([400], in_image=ii[1:])])
    assert (r.people, r.tp, r.fp, r.ignored) == (0, 0, 0, 1)
    assert math.isnan(r.recall) and math.isnan(r.precision) and math.isnan(r.miss_rate)


def test_in_view_needs_neck_or_pelvis():
    ii = np.ones((3, K), bool)
    ii[0, NECK] = False             # pelvis only: in view
    ii[1, PELVIS] = False           # neck only: in view
    ii[2, [NECK, PELVIS]] = False   # neither: not in view
    r = evaluate([[]], [make_scene([0, 200, 400], in_image=ii)])
    assert (r.people, r.misses, r.recall) == (2, 2, 0.0)


def test_pelvis_missing_in_prediction_is_matched_and_scored():
    det = np.ones(K, bool); det[PELVIS] = False
    p = make_person(100, one_joint_offset(7, 19.0), detected=det, shift_px=(5.0, 0.0))
    r = evaluate([[p]], [make_scene([100])])
    assert r.tp == 1 and r.mpjpe_mm == pytest.approx(1.0, rel=1e-5)


def test_gt_pelvis_not_valid_counts_for_recall_only():
    valid = np.ones((1, K), bool); valid[0, PELVIS] = False
    r = evaluate([[make_person(100)]], [make_scene([100], valid3d=valid)])
    assert r.tp == 1 and r.recall == 1.0 and r.joints == 0 and math.isnan(r.mpjpe_mm)


def test_pck3d_threshold_inclusive():
    off = np.zeros((K, 3))
    off[:4, 0] = 150.0      # exactly at the threshold: correct
    off[4:9, 0] = 151.0     # 5 wrong
    r = evaluate([[make_person(100, off)]], [make_scene([100])])
    assert r.pck3d == pytest.approx((K - 5) / K)
    r = evaluate([[make_person(100, off)]], [make_scene([100])], config=EvalConfig(pck_threshold_mm=100.0))
    assert r.pck3d == pytest.approx((K - 9) / K)


def test_readout_rule_breakdown():
    rules = np.full(K, ReadoutRule.OWN, np.int8)
    rules[PELVIS] = ReadoutRule.ROOT
    rules[[5, 11]] = ReadoutRule.LIMB
    rules[8] = ReadoutRule.NECK
    rules[14] = ReadoutRule.MEAN
    off = np.zeros((K, 3))
    off[5, 0], off[11, 0], off[8, 1], off[14, 2], off[3, 0] = 20.0, 40.0, 70.0, 100.0, 19.0
    r = evaluate([[make_person(100, off, rules=rules)]], [make_scene([100])])
    rr = r.readout_rules
    assert list(rr) == list(RULE_NAMES) == ["own", "limb", "neck", "pelvis", "mean", "root"]
    assert rr["own"]["joints"] == K - 5 and rr["own"]["mpjpe_mm"] == pytest.approx(19.0 / (K - 5), rel=1e-5)
    assert rr["limb"] == {"joints": 2, "mpjpe_mm": pytest.approx(30.0, rel=1e-5)}
    assert rr["neck"] == {"joints": 1, "mpjpe_mm": pytest.approx(70.0, rel=1e-5)}
    assert rr["mean"] == {"joints": 1, "mpjpe_mm": pytest.approx(100.0, rel=1e-5)}
    assert rr["root"]["joints"] == 1 and rr["root"]["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)
    assert rr["pelvis"]["joints"] == 0 and math.isnan(rr["pelvis"]["mpjpe_mm"])
    assert sum(v["joints"] for v in rr.values()) == r.joints
    assert "none" not in rr


# ---------------------------------------------------------------- degenerate cases

def test_empty_cases_give_nan_not_exceptions():
    for report in (evaluate([], []), Evaluator().report(), evaluate([[]], [make_scene([])])):
        assert report.people == report.predictions == report.tp == report.fp == 0
        for name in ("mpjpe_mm", "mpjpe_per_person_mm", "pck3d", "recall", "precision", "miss_rate"):
            assert math.isnan(getattr(report, name))
        d = report.to_dict()
        assert d["mpjpe_mm"] is None and d["recall"] is None
        json.dumps(d, allow_nan=False)
    r = evaluate([[make_person(100)]], [make_scene([])])             # predictions, no GT
    assert (r.fp, r.people, r.precision) == (1, 0, 0.0) and math.isnan(r.recall)
    r = evaluate([[]], [make_scene([100])])                           # GT, no predictions
    assert (r.misses, r.recall, r.miss_rate) == (1, 0.0, 1.0) and math.isnan(r.precision)


def test_to_dict_keys_and_json():
    r = evaluate([[make_person(100, one_joint_offset(5, 30.0))]], [make_scene([100])])
    d = r.to_dict()
    for key in ("mpjpe_mm", "recall", "precision", "people", "mpjpe_per_person_mm", "pck3d", "miss_rate",
                "predictions", "tp", "fp", "misses", "per_joint_mm", "readout_rules"):
        assert key in d
    assert d["readout_rules"]["pelvis"]["mpjpe_mm"] is None
    assert isinstance(d["people"], int) and isinstance(d["mpjpe_mm"], float)
    json.dumps(d, allow_nan=False)
    text = r.format_table(title="test")
    assert "MPJPE" in text and "l_wrist" in text and "limb" in text


# ---------------------------------------------------------------- incremental == batch

def test_incremental_equals_batch_and_decode_result_input():
    rng = np.random.default_rng(3)
    frames, scenes = [], []
    for _ in range(5):
        xs = list(rng.choice([60, 200, 340, 480], size=rng.integers(0, 4), replace=False))
        ii = rng.random((len(xs), K)) > 0.2
        scenes.append(make_scene(xs, in_image=ii, valid3d=rng.random((len(xs), K)) > 0.1))
        people = []
        for x in xs + [float(rng.uniform(0, 600))]:
            if rng.random() < 0.8:
                rules = rng.integers(0, 6, K).astype(np.int8)
                people.append(make_person(x, rng.normal(0, 50, (K, 3)), detected=rng.random(K) > 0.3,
                                          rules=rules, shift_px=rng.normal(0, 10, 2)))
        frames.append(people)
    ev = Evaluator()
    for people, scene in zip(frames, scenes):
        ev.add(people, scene)
    inc = ev.report()
    assert inc.to_dict() == evaluate(frames, scenes).to_dict() == evaluate(pack(frames), scenes).to_dict()
    assert inc.tp > 0 and inc.joints > 0


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, field", [
    (dict(joints=()), "joints"), (dict(joints=(0, 0)), "joints"), (dict(joints=(-1,)), "joints"),
    (dict(joints=(True,)), "joints"), (dict(joints="01"), "joints"),
    (dict(match_threshold_px=0.0), "match_threshold_px"), (dict(match_threshold_px=math.nan), "match_threshold_px"),
    (dict(pck_threshold_mm=-1.0), "pck_threshold_mm"), (dict(pck_threshold_mm=math.inf), "pck_threshold_mm"),
])
def test_config_validation(kwargs, field):
    with pytest.raises(ValueError, match=f"EvalConfig.{field}"):
        EvalConfig(**kwargs)


def test_config_normalises_joints():
    assert EvalConfig(joints=[3, 0, np.int64(2)]).joints == (0, 2, 3)
    with pytest.raises(ValueError, match="EvalConfig.joints"):
        Evaluator(H36M17, EvalConfig(joints=(0, 17)))


def test_bad_inputs():
    scene = make_scene([100])
    with pytest.raises(ValueError, match="results"):
        evaluate([[], []], [scene])
    with pytest.raises(ValueError, match="results"):
        evaluate(pack([[], []]), [scene])
    with pytest.raises(TypeError, match="results"):
        evaluate("nope", [scene])
    with pytest.raises(TypeError, match="scenes"):
        evaluate([[]], [object()])
    with pytest.raises(TypeError, match="people"):
        Evaluator().add([object()], scene)
    with pytest.raises(TypeError, match="scene"):
        Evaluator().add([], None)
    with pytest.raises(ValueError, match="scene.joints3d"):
        Evaluator(H36M17).add([], scene)                              # K = 19 scene, 17-joint skeleton
    with pytest.raises(ValueError, match=r"people\[0\].joints2d"):
        Evaluator(H36M17).add([make_person(100)], make_scene([]))
    bad = make_person(100)
    bad.joints3d[4] = np.nan
    with pytest.raises(ValueError, match=r"people\[0\].joints3d"):
        Evaluator().add([bad], scene)
    with pytest.raises(TypeError, match="skeleton"):
        Evaluator("panoptic19")
    with pytest.raises(TypeError, match="config"):
        Evaluator(PANOPTIC19, {"joints": None})


# ---------------------------------------------------------------- reports

def _report_with(xs, offset_mm) -> EvalReport:
    off = np.zeros((K, 3)); off[:, 0] = offset_mm
    return evaluate([[make_person(x, off) for x in xs]], [make_scene(xs)])


def test_combine_reports_scenarios_vs_people():
    reports = {"haggling": _report_with([100], 10.0), "mafia": _report_with([100, 400], 40.0)}
    out = combine_reports(reports)
    assert out["scenarios"]["mafia"]["mpjpe_mm"] == pytest.approx(40.0, rel=1e-5)
    assert out["mean_over_scenarios"]["mpjpe_mm"] == pytest.approx(25.0, rel=1e-5)
    assert out["mean_over_people"]["mpjpe_mm"] == pytest.approx(30.0, rel=1e-5)
    assert out["mean_over_people"]["mpjpe_per_person_mm"] == pytest.approx(30.0, rel=1e-5)
    assert out["mean_over_people"]["people"] == 3 and out["mean_over_people"]["recall"] == 1.0
    json.dumps(json_safe(out), allow_nan=False)
    with_empty = combine_reports({**reports, "pizza": Evaluator().report()})
    assert math.isnan(with_empty["mean_over_scenarios"]["mpjpe_mm"])
    assert with_empty["mean_over_people"]["mpjpe_mm"] == pytest.approx(30.0, rel=1e-5)
    assert math.isnan(combine_reports({})["mean_over_people"]["mpjpe_mm"])
    with pytest.raises(TypeError, match="reports"):
        combine_reports({"a": {"mpjpe_mm": 1.0}})


def test_format_table1():
    rows = {"Ours, full": {"Haggling": 70.1, "Mafia": 66.6, "Ultimatum": 55.6, "Pizza": 78.4},
            "Ours, NR": {"Haggling": 101.5, "Mafia": math.nan}}
    text = format_table1(rows, ["Haggling", "Mafia", "Ultimatum", "Pizza"], add_mean=True)
    lines = text.splitlines()
    assert lines[0].split() == ["Method", "Haggling", "Mafia", "Ultimatum", "Pizza", "Mean"]
    assert lines[2].split()[-5:] == ["70.1", "66.6", "55.6", "78.4", "67.7"]
    assert lines[3].split()[-5:] == ["101.5", "nan", "-", "-", "nan"]
    assert format_table1(rows).splitlines()[0].split()[1:] == ["Haggling", "Mafia", "Ultimatum", "Pizza"]
    with pytest.raises(TypeError, match="rows"):
        format_table1([1, 2])
    with pytest.raises(ValueError, match="digits"):
        format_table1(rows, digits=-1)


def test_json_safe():
    assert json_safe({"a": np.float32(np.nan), 1: (np.int64(2), np.inf, True), "b": np.arange(2)}) == \
        {"a": None, "1": [2, None, True], "b": [0, 1]}

"""Multi-person 3D pose metrics: MPJPE, PCK3D, recall, precision (DESIGN.md section 7).

Per frame, predictions are matched one-to-one to *all* GT people on the 2D
root distance (:mod:`ssmp3d.eval.matching`, threshold
``EvalConfig.match_threshold_px``). Then:

* A GT person is *in view* when its neck or its pelvis is ``in_image``. In-view
  people are the recall denominator (``people``); those left unmatched are
  ``misses``.
* A prediction matched to an in-view person is a true positive (``tp``); one
  matched to a person not in view is ``ignored`` (neither a true nor a false
  positive: the GT barely shows, so finding it is not required, nor wrong);
  an unmatched prediction is a false positive (``fp``).
* 3D errors are computed on true-positive pairs only, pelvis-relative: the
  predicted ``joints3d`` (already pelvis-relative) against
  ``gt.joints3d - gt.joints3d[pelvis]``, Euclidean, millimetres, over the
  scored joints (``EvalConfig.joints``) whose GT ``valid3d`` is set (and whose
  GT coordinates are finite). A pair whose GT pelvis is not valid has no
  defined pelvis-relative pose and contributes no joint (it still counts for
  recall). Predicted ``joints3d`` of scored joints must be finite (the
  decoder always reads a value, falling back to the mean bone vector); a NaN
  there is an input error, not a miss.
* ``mpjpe_mm`` averages over all such joints; ``mpjpe_per_person_mm`` averages
  the per-person means over the people with at least one such joint;
  ``pck3d`` is the fraction of joints with error ``<= pck_threshold_mm``;
  ``per_joint_mm`` the mean per scored joint; ``readout_rules`` the count and
  MPJPE of the joints read out by each :class:`ReadoutRule` (where the
  remaining error comes from).

Undefined ratios (no people, no predictions, no joints) are NaN, never an
exception; :meth:`EvalReport.to_dict` maps NaN to ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data.scene import Scene
from ..decoding.types import DecodeResult, Person, ReadoutRule
from ..skeleton import PANOPTIC19, Skeleton
from .matching import match_people
from .report import format_report, json_safe

PANOPTIC_PROTOCOL_JOINTS: tuple[int, ...] = (0, *range(2, 15))
"""Panoptic protocol joints of :data:`PANOPTIC19`: neck and 2-14 (pelvis, arms,
legs). Joint 1 (nose) and the face joints 15-18 are left out: joint 1 differs
between Panoptic's 19- and 15-joint files."""

RULE_NAMES: tuple[str, ...] = tuple(r.name.lower() for r in ReadoutRule if r is not ReadoutRule.NONE)
"""Read-out rule names reported by :attr:`EvalReport.readout_rules`, in code order."""


def _finite_positive(value: object) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))
            and math.isfinite(value) and value > 0)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation settings.

    Attributes:
        joints: Joint indices scored in 3D (any sequence, stored as a sorted
            tuple of distinct ints); ``None`` scores every joint. Use
            :data:`PANOPTIC_PROTOCOL_JOINTS` for the Panoptic protocol.
        match_threshold_px: A prediction matches a GT person only when their
            2D root distance is below this (image pixels).
        pck_threshold_mm: A joint counts as correct for PCK3D when its error is
            ``<=`` this (millimetres).
    """

    joints: tuple[int, ...] | None = None
    match_threshold_px: float = 50.0
    pck_threshold_mm: float = 150.0

    def __post_init__(self) -> None:
        if self.joints is not None:
            ok = (isinstance(self.joints, Sequence) and not isinstance(self.joints, str) and len(self.joints) > 0
                  and all(isinstance(j, (int, np.integer)) and not isinstance(j, bool) and j >= 0
                          for j in self.joints)
                  and len(set(int(j) for j in self.joints)) == len(self.joints))
            if not ok:
                raise ValueError(f"EvalConfig.joints: expected None or a non-empty sequence of distinct "
                                 f"joint indices >= 0, got {self.joints!r}")
            object.__setattr__(self, "joints", tuple(sorted(int(j) for j in self.joints)))
        for name in ("match_threshold_px", "pck_threshold_mm"):
            if not _finite_positive(getattr(self, name)):
                raise ValueError(f"EvalConfig.{name}: expected a finite number > 0, got {getattr(self, name)!r}")

    def scored_joints(self, skeleton: Skeleton) -> tuple[int, ...]:
        """The scored joint indices for ``skeleton``.

        Raises:
            ValueError: if an index of :attr:`joints` is out of range.
        """
        k = skeleton.num_joints
        if self.joints is None:
            return tuple(range(k))
        if self.joints[-1] >= k:
            raise ValueError(f"EvalConfig.joints: index {self.joints[-1]} out of range for skeleton "
                             f"{skeleton.name!r} with {k} joints")
        return self.joints


@dataclass(frozen=True)
class EvalReport:
    """Metrics of one evaluation (see the module docstring). NaN where undefined.

    Attributes:
        mpjpe_mm: Mean per-joint position error over all scored joints, mm.
        mpjpe_per_person_mm: Mean over scored people of their per-person MPJPE, mm.
        pck3d: Fraction of scored joints with error ``<= pck_threshold_mm``.
        recall: ``tp / people``.
        precision: ``tp / (tp + fp)``.
        miss_rate: ``1 - recall``.
        people: In-view GT people.
        predictions: Predicted people (all, including ignored ones).
        tp: Predictions matched to in-view GT people.
        fp: Unmatched predictions.
        misses: In-view GT people left unmatched (``people - tp``).
        ignored: Predictions matched to GT people not in view.
        frames: Frames (scenes) evaluated.
        joints: Joint errors averaged in ``mpjpe_mm``.
        scored_people: People averaged in ``mpjpe_per_person_mm``.
        per_joint_mm: ``{joint name: MPJPE mm}`` for each scored joint, index order.
        readout_rules: ``{rule name: {"joints": int, "mpjpe_mm": float}}`` for
            every rule of :data:`RULE_NAMES` (plus ``"none"`` if a matched
            prediction carried the padding code).
        pck_threshold_mm: The PCK3D threshold used.
        match_threshold_px: The matching threshold used.
    """

    mpjpe_mm: float
    mpjpe_per_person_mm: float
    pck3d: float
    recall: float
    precision: float
    miss_rate: float
    people: int
    predictions: int
    tp: int
    fp: int
    misses: int
    ignored: int
    frames: int
    joints: int
    scored_people: int
    per_joint_mm: dict[str, float] = field(default_factory=dict)
    readout_rules: dict[str, dict[str, float]] = field(default_factory=dict)
    pck_threshold_mm: float = 150.0
    match_threshold_px: float = 50.0

    def to_dict(self) -> dict:
        """JSON-ready dict of every field (NaN -> ``None``), keys as the field names."""
        return json_safe({name: getattr(self, name) for name in self.__dataclass_fields__})

    def format_table(self, *, title: str | None = None, digits: int = 1) -> str:
        """Human-readable text (headline metrics, counts, per rule, per joint)."""
        return format_report(self, title=title, digits=digits)


def _check_shape(arr: np.ndarray, name: str, shape: tuple[int, ...]) -> None:
    if arr.shape != shape:
        raise ValueError(f"{name}: expected shape {list(shape)}, got {list(arr.shape)}")


class Evaluator:
    """Streams frames into running sums; :meth:`report` at any time.

    Args:
        skeleton: Joint set of predictions and GT.
        config: Evaluation settings.

    Raises:
        TypeError: on wrong argument types.
        ValueError: if ``config.joints`` does not fit ``skeleton``.
    """

    def __init__(self, skeleton: Skeleton = PANOPTIC19, config: EvalConfig = EvalConfig()) -> None:
        if not isinstance(skeleton, Skeleton):
            raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
        if not isinstance(config, EvalConfig):
            raise TypeError(f"config: expected an EvalConfig, got {type(config).__name__}")
        self.skeleton = skeleton
        self.config = config
        self._scored = np.asarray(config.scored_joints(skeleton), dtype=np.int64)
        k = skeleton.num_joints
        self._counts = dict(people=0, predictions=0, tp=0, fp=0, ignored=0, frames=0, scored_people=0)
        self._joint_sum, self._joint_n = np.zeros(k), np.zeros(k, dtype=np.int64)
        self._person_sum = 0.0
        self._pck_hits = 0
        self._rule_sum, self._rule_n = np.zeros(len(ReadoutRule)), np.zeros(len(ReadoutRule), dtype=np.int64)

    def _check_scene(self, scene: Scene) -> None:
        if not isinstance(scene, Scene):
            raise TypeError(f"scene: expected a Scene, got {type(scene).__name__}")
        k = self.skeleton.num_joints
        j3 = np.asarray(scene.joints3d)
        n = j3.shape[0] if j3.ndim == 3 else -1
        for name, tail in (("joints3d", (k, 3)), ("joints2d", (k, 2)), ("in_image", (k,)),
                           ("visible", (k,)), ("valid3d", (k,))):
            _check_shape(np.asarray(getattr(scene, name)), f"scene.{name}", (n, *tail))

    def _check_people(self, people: Sequence[Person]) -> list[Person]:
        if not isinstance(people, (list, tuple)) or not all(isinstance(p, Person) for p in people):
            raise TypeError("people: expected a list of decode.types.Person")
        k = self.skeleton.num_joints
        for i, p in enumerate(people):
            for name, shape in (("joints2d", (k, 2)), ("detected", (k,)), ("joints3d", (k, 3)),
                                ("readout_rule", (k,))):
                _check_shape(np.asarray(getattr(p, name)), f"people[{i}].{name}", shape)
            if not np.all(np.isfinite(np.asarray(p.joints3d, dtype=np.float64)[self._scored])):
                raise ValueError(f"people[{i}].joints3d: scored joints must be finite")
        return list(people)

    def add(self, people: Sequence[Person], scene: Scene) -> list[tuple[int, int]]:
        """Adds one frame.

        Args:
            people: The frame's predicted people (``DecodeResult.people(b)``).
            scene: The frame's ground truth.

        Returns:
            The frame's matches ``[(pred_idx, gt_idx), ...]`` (all, including
            ignored ones).

        Raises:
            TypeError / ValueError: naming the argument, on wrong types or shapes.
        """
        people = self._check_people(people)
        self._check_scene(scene)
        sk, k = self.skeleton, self.skeleton.num_joints
        gt_in = np.asarray(scene.in_image, dtype=bool)
        in_view = gt_in[:, sk.neck] | gt_in[:, sk.pelvis]
        pred2d = np.stack([np.asarray(p.joints2d, dtype=np.float64) for p in people]) if people \
            else np.zeros((0, k, 2))
        pred_det = np.stack([np.asarray(p.detected, dtype=bool) for p in people]) if people \
            else np.zeros((0, k), dtype=bool)
        matches = match_people(pred2d, pred_det, scene.joints2d, gt_in,
                               pelvis=sk.pelvis, threshold=self.config.match_threshold_px)

        c = self._counts
        c["frames"] += 1
        c["people"] += int(in_view.sum())
        c["predictions"] += len(people)
        c["fp"] += len(people) - len(matches)
        gt_rel = scene.pelvis_relative(sk.pelvis)
        valid = np.asarray(scene.valid3d, dtype=bool) & np.all(np.isfinite(gt_rel), axis=-1)
        for pi, gi in matches:
            if not in_view[gi]:
                c["ignored"] += 1
                continue
            c["tp"] += 1
            if not valid[gi, sk.pelvis]:
                continue
            joints = self._scored[valid[gi, self._scored]]
            if joints.size == 0:
                continue
            pred3d = np.asarray(people[pi].joints3d, dtype=np.float64)[joints]
            err = np.linalg.norm(pred3d - gt_rel[gi, joints], axis=-1)
            np.add.at(self._joint_sum, joints, err)
            np.add.at(self._joint_n, joints, 1)
            self._person_sum += float(err.mean())
            c["scored_people"] += 1
            self._pck_hits += int((err <= self.config.pck_threshold_mm).sum())
            rules = np.asarray(people[pi].readout_rule, dtype=np.int64)[joints]
            slots = np.where((rules >= 0) & (rules < len(RULE_NAMES)), rules, len(RULE_NAMES))
            np.add.at(self._rule_sum, slots, err)
            np.add.at(self._rule_n, slots, 1)
        return matches

    def report(self) -> EvalReport:
        """The metrics of every frame added so far."""
        c = self._counts

        def ratio(num: float, den: float) -> float:
            return float(num) / float(den) if den > 0 else math.nan

        n_joints = int(self._joint_n.sum())
        recall = ratio(c["tp"], c["people"])
        rules = {name: {"joints": int(self._rule_n[i]), "mpjpe_mm": ratio(self._rule_sum[i], self._rule_n[i])}
                 for i, name in enumerate(RULE_NAMES)}
        if self._rule_n[-1]:
            rules["none"] = {"joints": int(self._rule_n[-1]), "mpjpe_mm": ratio(self._rule_sum[-1], self._rule_n[-1])}
        return EvalReport(
            mpjpe_mm=ratio(self._joint_sum.sum(), n_joints),
            mpjpe_per_person_mm=ratio(self._person_sum, c["scored_people"]),
            pck3d=ratio(self._pck_hits, n_joints),
            recall=recall,
            precision=ratio(c["tp"], c["tp"] + c["fp"]),
            miss_rate=1.0 - recall,
            people=c["people"], predictions=c["predictions"], tp=c["tp"], fp=c["fp"],
            misses=c["people"] - c["tp"], ignored=c["ignored"], frames=c["frames"],
            joints=n_joints, scored_people=c["scored_people"],
            per_joint_mm={self.skeleton.joints[j]: ratio(self._joint_sum[j], self._joint_n[j])
                          for j in self._scored},
            readout_rules=rules,
            pck_threshold_mm=float(self.config.pck_threshold_mm),
            match_threshold_px=float(self.config.match_threshold_px),
        )


def evaluate(
    results: DecodeResult | Sequence[Sequence[Person]],
    scenes: Sequence[Scene],
    skeleton: Skeleton = PANOPTIC19,
    config: EvalConfig = EvalConfig(),
) -> EvalReport:
    """Evaluates predictions of a whole dataset (wraps :class:`Evaluator`).

    Args:
        results: A :class:`DecodeResult` with batch size ``len(scenes)``, or one
            list of :class:`Person` per scene.
        scenes: The ground truth, one :class:`Scene` per image.
        skeleton: Joint set.
        config: Evaluation settings.

    Returns:
        The :class:`EvalReport`.

    Raises:
        TypeError / ValueError: naming the argument, on wrong types, shapes or lengths.
    """
    if isinstance(results, DecodeResult):
        frames = results.to_list()
    elif isinstance(results, (list, tuple)):
        frames = list(results)
    else:
        raise TypeError(f"results: expected a DecodeResult or a list of lists of Person, "
                        f"got {type(results).__name__}")
    if not isinstance(scenes, (list, tuple)):
        raise TypeError(f"scenes: expected a list of Scene, got {type(scenes).__name__}")
    if len(frames) != len(scenes):
        raise ValueError(f"results: {len(frames)} images but scenes has {len(scenes)}")
    ev = Evaluator(skeleton, config)
    for i, (people, scene) in enumerate(zip(frames, scenes)):
        if not isinstance(scene, Scene):
            raise TypeError(f"scenes[{i}]: expected a Scene, got {type(scene).__name__}")
        if not isinstance(people, (list, tuple)):
            raise TypeError(f"results[{i}]: expected a list of Person, got {type(people).__name__}")
        ev.add(people, scene)
    return ev.report()

"""Decoder configuration and output types (DESIGN.md sections 6.3-6.5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import IntEnum

import numpy as np

from ..ops import _args
from ..skeleton import Skeleton

BACKENDS = ("python", "cpu", "cuda")
READOUTS = ("full", "naive")
GROUPINGS = ("assign", "paper")
PERSON_SCORES = ("all", "detected")
#: Most candidates per joint type of grouping ``"assign"``: each assignment costs
#: up to ``M^2 (max_people + M)`` (``ssmp3d.ops.group_candidates`` has the same bound).
ASSIGN_MAX_CANDIDATES = 256


class ReadoutRule(IntEnum):
    """Where a joint's 3D bone vector was read (``DecodeResult.readout_rule``).

    ``OWN``: at the joint's own position; ``LIMB``: at another joint of its
    limb; ``NECK`` / ``PELVIS``: at the torso; ``MEAN``: the mean bone vector
    (no valid location); ``ROOT``: the pelvis itself, whose pelvis-relative
    position is zero by definition. ``NONE`` pads empty person slots.
    """

    NONE = -1
    OWN = 0
    LIMB = 1
    NECK = 2
    PELVIS = 3
    MEAN = 4
    ROOT = 5


def _bone_rows(value: object) -> tuple[tuple[float, float, float], ...]:
    """``DecodeConfig.mean_bones`` as a tuple of finite float triples (``[K][3]`` metres)."""
    field_name = "DecodeConfig.mean_bones"
    try:
        mb = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged rows
        raise ValueError(f"{field_name}: expected finite [K][3] bone vectors in metres ({exc})") from None
    if mb.dtype.kind not in "iuf":
        raise TypeError(f"{field_name}: expected finite [K][3] bone vectors in metres (real numbers), "
                        f"got dtype {mb.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        mb = mb.astype(np.float64)
    if mb.ndim != 2 or mb.shape[1] != 3 or not np.all(np.isfinite(mb)):
        raise ValueError(f"{field_name}: expected finite [K][3] bone vectors in metres, got "
                         f"{'shape ' + str(list(mb.shape)) if mb.ndim != 2 or mb.shape[1] != 3 else 'NaN or inf'}")
    return tuple((float(x), float(y), float(z)) for x, y, z in mb.tolist())


@dataclass(frozen=True)
class DecodeConfig:
    """Every decoding parameter, passed explicitly to each backend.

    Attributes:
        det_threshold: A peak needs ``h > det_threshold``.
        nms_radius: NMS window radius ``r`` (window ``(2r+1)^2``).
        max_candidates: Peaks kept per (image, joint), ``M``.
        tag_threshold: A candidate joins a person only when its tag distance
            to the person's reference tag is ``< tag_threshold``.
        grouping: ``"assign"`` (per joint type, an optimal assignment of the
            candidates to the people by tag distance plus a geometric cue,
            then fragments merged: :mod:`ssmp3d.decoding.assignment`) or
            ``"paper"`` (the paper's greedy, section 3.5:
            :mod:`ssmp3d.decoding.grouping`).
        geometry_weight: ``"assign"`` only: weight of the geometric cue (how
            far a candidate lies from the person's nearest grouped joint,
            relative to the person's size) beside the tag distance; 0 uses
            tags alone and does not merge fragments.
        min_joints: People with fewer joints are dropped.
        person_score: ``"all"``: the sum of the person's joint scores over
            ``K`` (missing joints count 0, so fragments score low);
            ``"detected"``: the mean over its detected joints (the paper's).
        min_person_score: People whose score is below this are dropped; 0
            (the default) drops nobody.
        max_people: At most this many people per image (``P``), by score.
        readout: ``"full"`` (paper section 3.2) or ``"naive"`` (NR ablation).
        readout_threshold: A read-out location needs ``score > readout_threshold``.
        readout_min_dist: A location is invalid for map ``m`` when another
            person's read-out location for ``m`` is at distance ``<`` this
            (map pixels). Default: ORPM disc radius (2) + 1.
        refine: Quarter-pixel shift toward the larger neighbour (2D output
            only); a bool (any other type is refused, so no backend reads
            ``"no"`` as true).
        mean_bones: ``[K][3]`` finite mean bone vectors in metres (last
            fallback), stored as a tuple of float triples; ``None`` uses the
            skeleton's mean pose.

    Ints (``nms_radius``, ``max_candidates``, ``min_joints`` <= ``2**63 - 1``,
    ``max_people``) and floats accept Python and numpy scalars, never bools; a
    bad field raises ``TypeError`` (wrong type) or ``ValueError`` (out of
    range), both naming ``DecodeConfig.<field>``.
    """

    det_threshold: float = 0.1
    nms_radius: int = 1
    max_candidates: int = 30
    tag_threshold: float = 1.0
    grouping: str = "assign"
    geometry_weight: float = 0.3
    min_joints: int = 2
    person_score: str = "all"
    min_person_score: float = 0.0
    max_people: int = 30
    readout: str = "full"
    readout_threshold: float = 0.1
    readout_min_dist: float = 3.0
    refine: bool = True
    mean_bones: tuple[tuple[float, float, float], ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Checks every field (``TypeError`` / ``ValueError`` naming ``DecodeConfig.<field>``).

        Ints are Python or numpy integers (never bools) within what the C++
        decoder takes; floats are finite Python or numpy reals (never bools);
        ``refine`` is a bool (``numpy.bool_`` too). numpy scalars are stored as
        Python ``int`` / ``float`` / ``bool`` and ``mean_bones`` as a tuple of
        float triples, so equal settings compare equal and ``to_dict`` is JSON-ready.
        """
        def name(field_name: str) -> str:
            return f"DecodeConfig.{field_name}"

        def put(field_name: str, value: object) -> None:
            if value is not getattr(self, field_name):
                object.__setattr__(self, field_name, value)

        def real(field_name: str, low: float | None = None, strict: bool = False) -> None:
            value = getattr(self, field_name)
            _args.real(name(field_name), value, low, strict)
            if isinstance(value, np.generic):
                put(field_name, float(value))

        def integer(field_name: str, low: int, high: int) -> None:
            put(field_name, _args.integer(name(field_name), getattr(self, field_name), low, high))

        def choice(field_name: str, options: tuple[str, ...]) -> None:
            value = getattr(self, field_name)
            if not isinstance(value, str) or value not in options:
                raise ValueError(f"{name(field_name)}: expected one of {options}, got {_args.show(value)}")

        real("det_threshold")
        integer("nms_radius", 0, 32)
        integer("max_candidates", 1, 4096)
        real("tag_threshold", 0.0, strict=True)
        choice("grouping", GROUPINGS)
        real("geometry_weight", 0.0)
        if self.grouping == "assign" and self.max_candidates > ASSIGN_MAX_CANDIDATES:
            raise ValueError(f"{name('max_candidates')}: expected an int <= 256 with grouping 'assign' (each "
                             f"assignment costs up to M^2 (max_people + M)), got {self.max_candidates}")
        integer("min_joints", 1, _args.INT64_MAX)
        choice("person_score", PERSON_SCORES)
        real("min_person_score", 0.0)
        integer("max_people", 1, 4096)
        choice("readout", READOUTS)
        real("readout_threshold")
        real("readout_min_dist", 0.0)
        if not isinstance(self.refine, (bool, np.bool_)):
            raise TypeError(f"{name('refine')}: expected a bool, got {type(self.refine).__name__}")
        put("refine", bool(self.refine))
        if self.mean_bones is not None:
            put("mean_bones", _bone_rows(self.mean_bones))

    def to_dict(self) -> dict:
        """The configuration as plain JSON-ready data (``mean_bones`` as nested lists or None)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.mean_bones is not None:
            out["mean_bones"] = [[float(v) for v in row] for row in self.mean_bones]
        return out

    @classmethod
    def from_dict(cls, data: Mapping, base: "DecodeConfig | None" = None) -> "DecodeConfig":
        """A configuration from :meth:`to_dict` output (or any subset of its fields).

        Args:
            data: Field names to values; fields it lacks come from ``base``.
            base: The configuration to start from (default ``DecodeConfig()``).

        Raises:
            TypeError: ``data`` is not a mapping.
            ValueError: an unknown field (named), or a value the field refuses.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"decode config: expected a mapping of field names, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in data if k not in names)
        if unknown:
            raise ValueError(f"decode config: unknown field(s) {unknown}; known: {sorted(names)}")
        return replace(base if base is not None else cls(), **data)

    def mean_bones_array(self, skeleton: Skeleton) -> np.ndarray:
        """Mean bone vectors ``[K, 3]`` float32 metres for ``skeleton``."""
        if self.mean_bones is None:
            return skeleton.mean_bones_m()
        mb = np.asarray(self.mean_bones, dtype=np.float32)
        if mb.shape != (skeleton.num_joints, 3):
            raise ValueError(f"DecodeConfig.mean_bones: expected [{skeleton.num_joints}][3] for skeleton "
                             f"{skeleton.name!r}, got {list(mb.shape)}")
        return mb


@dataclass(frozen=True)
class Person:
    """One decoded person (image pixels and millimetres).

    Attributes:
        joints2d: ``[K, 2]`` image pixels (NaN where not detected).
        scores: ``[K]`` heatmap scores (0 where not detected).
        detected: ``[K]`` bool.
        joints3d: ``[K, 3]`` pelvis-relative millimetres, camera axes (NaN
            when decoded without ORPM maps).
        readout_rule: ``[K]`` :class:`ReadoutRule` codes.
        readout_joint: ``[K]`` joint whose location was read (-1: mean / root).
        score: Person score (mean joint score).
        tag: Reference tag ``[D]``.
    """

    joints2d: np.ndarray
    scores: np.ndarray
    detected: np.ndarray
    joints3d: np.ndarray
    readout_rule: np.ndarray
    readout_joint: np.ndarray
    score: float
    tag: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready dict (lists; NaN coordinates, 2D and 3D, become None)."""
        j2 = [[None if not np.isfinite(c) else float(c) for c in row] for row in self.joints2d]
        return {
            "score": float(self.score),
            "joints2d": j2,
            "joint_scores": [float(s) for s in self.scores],
            "detected": [bool(d) for d in self.detected],
            "joints3d_mm": [[None if not np.isfinite(c) else float(c) for c in row] for row in self.joints3d],
            "readout_rule": [ReadoutRule(int(r)).name.lower() for r in self.readout_rule],
            "readout_joint": [int(j) for j in self.readout_joint],
        }


@dataclass(frozen=True)
class DecodeResult:
    """Batched, fixed-size decoder output (``P = max_people``). Arrays are numpy.

    Attributes:
        joints2d: ``[B, P, K, 2]`` float32 image pixels (NaN where not detected).
        scores: ``[B, P, K]`` float32 joint scores (0 where not detected).
        detected: ``[B, P, K]`` bool.
        peaks: ``[B, P, K]`` int64 flat map index ``y * W + x`` of each joint (-1 if none).
        joints3d: ``[B, P, K, 3]`` float32 pelvis-relative millimetres (NaN for
            the people of 2D-only decoding, ``orpm=None``; 0 padding).
        readout_rule: ``[B, P, K]`` int8 :class:`ReadoutRule` codes (-1 padding).
        readout_joint: ``[B, P, K]`` int16 location joint (-1: mean, root or padding).
        person_scores: ``[B, P]`` float32 person scores (``DecodeConfig.person_score``;
            0 padding).
        tags: ``[B, P, D]`` float64 reference tags.
        num_people: ``[B]`` int32 people per image (slots ``>= num_people`` are padding).
    """

    joints2d: np.ndarray
    scores: np.ndarray
    detected: np.ndarray
    peaks: np.ndarray
    joints3d: np.ndarray
    readout_rule: np.ndarray
    readout_joint: np.ndarray
    person_scores: np.ndarray
    tags: np.ndarray
    num_people: np.ndarray

    @property
    def batch_size(self) -> int:
        """Number of images ``B``."""
        return int(self.num_people.shape[0])

    def people(self, image: int) -> list[Person]:
        """The people of image ``image``, best score first."""
        return [
            Person(
                joints2d=self.joints2d[image, p], scores=self.scores[image, p],
                detected=self.detected[image, p], joints3d=self.joints3d[image, p],
                readout_rule=self.readout_rule[image, p], readout_joint=self.readout_joint[image, p],
                score=float(self.person_scores[image, p]), tag=self.tags[image, p],
            )
            for p in range(int(self.num_people[image]))
        ]

    def to_list(self) -> list[list[Person]]:
        """Per-image lists of :class:`Person`."""
        return [self.people(b) for b in range(self.batch_size)]

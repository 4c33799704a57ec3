"""Typed results of :class:`~ssmp3d.predict.Predictor`: the people found in one image.

A person is the decoder's :class:`~ssmp3d.decoding.Person` (2D joints in the
original image's pixels with scores and a detected mask, 3D pelvis-relative
joints in millimetres, the read-out source of each joint, the person score),
so predictions feed :class:`ssmp3d.eval.Evaluator` directly. An image adds
its size, where it came from and the joint set.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields

import numpy as np

from ..decoding.types import Person as DecodedPerson
from ..decoding.types import ReadoutRule
from ..skeleton import Skeleton, get_skeleton

__all__ = ["ImagePoses", "Person", "ReadoutRule", "person_from_dict"]


@dataclass(frozen=True)
class Person(DecodedPerson):
    """A decoded person whose ``readout_rule`` is a tuple of :class:`ReadoutRule` members.

    Same fields as :class:`ssmp3d.decoding.Person` (and an instance of it),
    but ``readout_rule`` holds ``K`` enum members (``ReadoutRule.OWN``, ...)
    instead of int8 codes: ``person.readout_rule[j].name``. Being an
    ``IntEnum``, each compares equal to its code, and
    ``np.asarray(person.readout_rule)`` gives the codes back. Made from any
    decoded person (int codes are converted; an unknown code is a ValueError).
    """

    def __post_init__(self) -> None:
        rules = self.readout_rule
        if not (isinstance(rules, tuple) and all(isinstance(r, ReadoutRule) for r in rules)):
            try:
                rules = tuple(ReadoutRule(int(r)) for r in np.asarray(rules).ravel())
            except (TypeError, ValueError) as exc:
                raise ValueError(f"readout_rule: expected ReadoutRule codes, got {self.readout_rule!r} ({exc})") \
                    from None
            object.__setattr__(self, "readout_rule", rules)

    @classmethod
    def of(cls, person: DecodedPerson) -> "Person":
        """``person`` as a :class:`Person` (returned as is when it already is one)."""
        if isinstance(person, cls):
            return person
        return cls(**{f.name: getattr(person, f.name) for f in fields(DecodedPerson)})


def _finite_or_none(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True, eq=False)
class ImagePoses:
    """The people predicted in one image or video frame.

    Attributes:
        people: One :class:`Person` per person (decoded people given are
            converted), best score first: ``joints2d [K, 2]`` original-image pixels (NaN where not
            detected), ``scores [K]``, ``detected [K]``, ``joints3d [K, 3]``
            pelvis-relative millimetres in camera axes (x right, y down,
            z forward), ``readout_rule`` (``K`` :class:`ReadoutRule` members) /
            ``readout_joint [K]`` (where each bone vector was read),
            ``score`` (mean joint score).
        width: Image width in pixels.
        height: Image height in pixels.
        skeleton: The joint set (names and order of the ``K`` joints).
        source: Where the image came from (a file path), or None for an array.
        frame: Frame index in a video, or None for a still image.
    """

    people: tuple[Person, ...]
    width: int
    height: int
    skeleton: Skeleton
    source: str | None = None
    frame: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "people", tuple(Person.of(p) for p in self.people))

    @property
    def num_people(self) -> int:
        """Number of people found."""
        return len(self.people)

    def to_dict(self) -> dict:
        """JSON-ready dict: no numpy types; undetected 2D joints and non-finite values are None.

        Keys: ``source``, ``frame``, ``width``, ``height``, ``skeleton`` (its
        name; the joint order is ``ssmp3d.get_skeleton(name).joints``) and
        ``people``, a list of :meth:`Person.to_dict` objects (``score``,
        ``joints2d``, ``joint_scores``, ``detected``, ``joints3d_mm``,
        ``readout_rule`` names, ``readout_joint``).
        """
        people = []
        for p in self.people:
            d = p.to_dict()
            d["score"] = _finite_or_none(d["score"])
            d["joints3d_mm"] = [[_finite_or_none(c) for c in row] for row in d["joints3d_mm"]]
            people.append(d)
        return {"source": self.source, "frame": self.frame, "width": int(self.width), "height": int(self.height),
                "skeleton": self.skeleton.name, "people": people}

    def to_json(self) -> str:
        """One line of JSON (:meth:`to_dict`; strict JSON, no NaN)."""
        return json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict, skeleton: Skeleton | str | None = None) -> "ImagePoses":
        """Inverse of :meth:`to_dict` (tags are not stored and come back empty).

        Args:
            data: A :meth:`to_dict` object (e.g. a parsed ``predictions.jsonl`` line).
            skeleton: The joint set ``data`` must name (a :class:`Skeleton` or
                a name); None (the default) takes the one it names.

        Raises:
            ValueError: ``data`` is not a :meth:`to_dict` object, names an
                unknown skeleton, or not ``skeleton``.
        """
        if not isinstance(data, dict):
            raise ValueError(f"data: expected an ImagePoses dict, got {type(data).__name__}")
        name = data.get("skeleton")
        if isinstance(skeleton, str):
            skeleton = get_skeleton(skeleton)
        if skeleton is None:
            if not isinstance(name, str):
                raise ValueError(f"data: expected an ImagePoses dict naming its skeleton, got skeleton {name!r}")
            try:
                skeleton = get_skeleton(name)
            except ValueError as exc:
                raise ValueError(f"data: {exc}") from None
        elif name != skeleton.name:
            raise ValueError(f"data: expected an ImagePoses dict of skeleton {skeleton.name!r}, got {name!r}")
        try:
            people = data["people"]
            if not isinstance(people, list):
                raise TypeError(f"'people' is a {type(people).__name__}")
            width, height = int(data["width"]), int(data["height"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"data: not an ImagePoses dict ({type(exc).__name__}: {exc})") from None
        return cls(people=tuple(person_from_dict(p, skeleton.num_joints) for p in people), width=width,
                   height=height, skeleton=skeleton, source=data.get("source"), frame=data.get("frame"))


def person_from_dict(data: dict, num_joints: int) -> Person:
    """A :class:`Person` from its :meth:`Person.to_dict` form (``K = num_joints``).

    Raises:
        ValueError: missing keys or arrays of the wrong length.
    """
    try:
        j2 = np.array([[np.nan if c is None else c for c in row] for row in data["joints2d"]], np.float32)
        j3 = np.array([[np.nan if c is None else c for c in row] for row in data["joints3d_mm"]], np.float32)
        rules = tuple(ReadoutRule[name.upper()] for name in data["readout_rule"])
        person = Person(joints2d=j2.reshape(-1, 2), scores=np.asarray(data["joint_scores"], np.float32),
                        detected=np.asarray(data["detected"], bool), joints3d=j3.reshape(-1, 3),
                        readout_rule=rules, readout_joint=np.asarray(data["readout_joint"], np.int16),
                        score=float(data["score"]) if data["score"] is not None else math.nan,
                        tag=np.zeros(0))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"data: not a person dict ({type(exc).__name__}: {exc})") from None
    for name in ("joints2d", "scores", "detected", "joints3d", "readout_rule", "readout_joint"):
        if len(getattr(person, name)) != num_joints:
            raise ValueError(f"data: person {name} has {len(getattr(person, name))} joints, expected {num_joints}")
    return person

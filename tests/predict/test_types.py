"""ImagePoses: JSON form, round trip, strict JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssmp3d.decoding import Person
from ssmp3d.predict import ImagePoses
from ssmp3d.skeleton import H36M17, PANOPTIC19


def _person(k: int = 19) -> Person:
    j2 = np.arange(2 * k, dtype=np.float32).reshape(k, 2)
    det = np.ones(k, bool)
    det[3] = False
    j2[3] = np.nan
    return Person(joints2d=j2, scores=np.full(k, 0.5, np.float32), detected=det,
                  joints3d=np.arange(3 * k, dtype=np.float32).reshape(k, 3),
                  readout_rule=np.zeros(k, np.int8), readout_joint=np.arange(k, dtype=np.int16), score=0.5,
                  tag=np.zeros(1))


def test_to_dict_is_strict_json_and_round_trips():
    poses = ImagePoses(people=(_person(),), width=640, height=480, skeleton=PANOPTIC19, source="a.jpg", frame=None)
    d = poses.to_dict()
    assert d["width"] == 640 and d["skeleton"] == "panoptic19" and d["source"] == "a.jpg"
    p = d["people"][0]
    assert p["joints2d"][3] == [None, None] and p["detected"][3] is False and p["readout_rule"][0] == "own"
    line = poses.to_json()
    assert "\n" not in line and json.loads(line) == d
    back = ImagePoses.from_dict(json.loads(line), PANOPTIC19)
    assert back.to_dict() == d
    with pytest.raises(ValueError, match="skeleton 'h36m17'"):
        ImagePoses.from_dict(d, H36M17)
    bad = dict(d, people=[dict(p, joints3d_mm=p["joints3d_mm"][:5])])
    with pytest.raises(ValueError, match="joints3d has 5 joints"):
        ImagePoses.from_dict(bad, PANOPTIC19)


def test_non_finite_3d_and_score_become_null():
    person = _person()
    person.joints3d[0, 0] = np.inf
    poses = ImagePoses(people=(person,), width=1, height=1, skeleton=PANOPTIC19)
    d = json.loads(poses.to_json())
    assert d["people"][0]["joints3d_mm"][0][0] is None

"""ImagePoses: JSON form, round trip, strict JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssmp3d.decoding import Person as DecodedPerson
from ssmp3d.predict import ImagePoses, Person, ReadoutRule
from ssmp3d.skeleton import H36M17, PANOPTIC19


def _person(k: int = 19) -> DecodedPerson:
    j2 = np.arange(2 * k, dtype=np.float32).reshape(k, 2)
    det = np.ones(k, bool)
    det[3] = False
    j2[3] = np.nan
    return DecodedPerson(joints2d=j2, scores=np.full(k, 0.5, np.float32), detected=det,
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


def test_from_dict_takes_the_skeleton_the_json_names():
    d = ImagePoses(people=(_person(17),), width=8, height=6, skeleton=H36M17, frame=3).to_dict()
    back = ImagePoses.from_dict(json.loads(json.dumps(d)))
    assert back.skeleton is H36M17 and back.frame == 3 and back.to_dict() == d
    assert ImagePoses.from_dict(d, "h36m17").skeleton is H36M17
    with pytest.raises(ValueError, match="skeleton: expected one of .*'coco25'"):
        ImagePoses.from_dict(dict(d, skeleton="coco25"))
    with pytest.raises(ValueError, match="naming its skeleton"):
        ImagePoses.from_dict({k: v for k, v in d.items() if k != "skeleton"})
    with pytest.raises(ValueError, match="not an ImagePoses dict"):
        ImagePoses.from_dict({k: v for k, v in d.items() if k != "width"})
    with pytest.raises(ValueError, match="expected an ImagePoses dict"):
        ImagePoses.from_dict([d])


def test_readout_rule_is_the_enum_and_json_is_unchanged():
    k = 19
    codes = np.array([0, 1, 2, 3, 4, 5] + [0] * (k - 6), np.int8)
    decoded = _person(k)
    object.__setattr__(decoded, "readout_rule", codes)
    poses = ImagePoses(people=(decoded,), width=4, height=4, skeleton=PANOPTIC19)
    person = poses.people[0]
    assert isinstance(person, Person) and isinstance(person, DecodedPerson)
    assert all(isinstance(r, ReadoutRule) for r in person.readout_rule) and len(person.readout_rule) == k
    assert person.readout_rule[:6] == (ReadoutRule.OWN, ReadoutRule.LIMB, ReadoutRule.NECK, ReadoutRule.PELVIS,
                                       ReadoutRule.MEAN, ReadoutRule.ROOT)
    assert np.array_equal(np.asarray(person.readout_rule), codes)
    d = poses.to_dict()
    assert d["people"][0]["readout_rule"][:6] == ["own", "limb", "neck", "pelvis", "mean", "root"]
    assert d["people"][0] == decoded.to_dict() | {"score": 0.5}
    back = ImagePoses.from_dict(d).people[0]
    assert back.readout_rule == person.readout_rule
    with pytest.raises(ValueError, match="readout_rule"):
        Person(**{**{f: getattr(decoded, f) for f in ("joints2d", "scores", "detected", "joints3d",
                                                        "readout_joint", "score", "tag")},
                  "readout_rule": np.full(k, 9, np.int8)})

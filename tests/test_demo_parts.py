"""The demo's pieces: backend comparison, picture layout, configuration checks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ssmp3d.decoding import Person
from ssmp3d.demo import TOLERANCE, DemoConfig, compare_poses, demo_picture
from ssmp3d.predict import ImagePoses
from ssmp3d.skeleton import PANOPTIC19


def _poses(shift: float = 0.0, rule: int = 0) -> list[ImagePoses]:
    k = 19
    person = Person(joints2d=np.full((k, 2), 10.0 + shift, np.float32), scores=np.ones(k, np.float32),
                    detected=np.ones(k, bool), joints3d=np.asarray(PANOPTIC19.mean_pose_mm, np.float32),
                    readout_rule=np.full(k, rule, np.int8), readout_joint=np.zeros(k, np.int16), score=1.0,
                    tag=np.zeros(1))
    return [ImagePoses((person,), 32, 32, PANOPTIC19)]


def test_compare_poses():
    assert compare_poses(_poses(), _poses()) == {"same_people": True, "max_joints2d_px": 0.0, "max_joints3d_mm": 0.0}
    assert compare_poses(_poses(), _poses(shift=TOLERANCE["joints2d_px"] / 2))["same_people"]
    assert not compare_poses(_poses(), _poses(shift=0.5))["same_people"]
    assert not compare_poses(_poses(), _poses(rule=1))["same_people"]
    assert not compare_poses(_poses(), [replace(_poses()[0], people=())])["same_people"]


def test_picture_and_config():
    pytest.importorskip("cv2")
    images = [np.zeros((32, 32, 3), np.uint8)] * 2
    pic = demo_picture(images, _poses() * 2, 64)
    assert pic.shape == (128, 128, 3) and pic.dtype == np.uint8
    from ssmp3d.predict.draw import PALETTE

    near = np.abs(pic[64:].astype(np.int16) - np.asarray(PALETTE[0])).max(axis=-1) <= 12
    assert near.sum() > 5  # the 3D row: the person in its overlay colour, in a panel of its own
    with pytest.raises(ValueError, match="scenes"):
        DemoConfig(scenes=0)
    with pytest.raises(ValueError, match="repeat"):
        DemoConfig(repeat=True)

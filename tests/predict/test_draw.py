"""Overlays and 3D views of predictions."""

from __future__ import annotations

import numpy as np
import pytest

from ssmp3d.decoding import Person
from ssmp3d.predict import ImagePoses
from ssmp3d.predict.draw import PALETTE, draw_overlay, pose3d_image, side_by_side
from ssmp3d.skeleton import PANOPTIC19

pytest.importorskip("cv2")


def _poses() -> ImagePoses:
    k = 19
    mean = np.asarray(PANOPTIC19.mean_pose_mm, np.float32)
    people = []
    for x0 in (150.0, 50.0):
        j2 = mean[:, :2] / 10.0 + [x0, 60.0]
        det = np.ones(k, bool)
        det[5] = False  # l_wrist not detected: neither it nor its limb is drawn
        j2[5] = np.nan
        people.append(Person(joints2d=j2.astype(np.float32), scores=np.ones(k, np.float32), detected=det,
                             joints3d=mean, readout_rule=np.zeros(k, np.int8), readout_joint=np.zeros(k, np.int16),
                             score=1.0, tag=np.zeros(1)))
    return ImagePoses(people=tuple(people), width=200, height=160, skeleton=PANOPTIC19)


def test_overlay_draws_detected_joints_in_person_colours():
    poses = _poses()
    image = np.zeros((160, 200, 3), np.uint8)
    out = draw_overlay(image, poses)
    assert out.shape == image.shape and image.max() == 0  # a copy
    neck = poses.people[0].joints2d[0].round().astype(int)
    assert out[neck[1], neck[0]].tolist() == list(PALETTE[0])
    wrist_mm = np.asarray(PANOPTIC19.mean_pose_mm)[5, :2] / 10 + [150, 60]
    x, y = wrist_mm.round().astype(int)
    assert out[y - 1:y + 2, x - 1:x + 2].max() == 0  # the undetected wrist is not drawn
    bgr = draw_overlay(image, poses, color="bgr")
    assert bgr[neck[1], neck[0]].tolist() == list(PALETTE[0])[::-1]
    with pytest.raises(ValueError, match="image"):
        draw_overlay(np.zeros((4, 4), np.uint8), poses)


def test_side_by_side_orders_people_left_to_right():
    j = side_by_side(_poses())
    assert j.shape == (2, 19, 3)
    assert j[1, 2, 0] < j[0, 2, 0]  # person 1 is left in the image, so left in the view
    assert np.allclose(j[0, 2, 0] - j[1, 2, 0], 1000.0)


@pytest.mark.parametrize("backend", ["opencv", "matplotlib"])
def test_pose3d_image(backend):
    if backend == "matplotlib":
        pytest.importorskip("matplotlib")
    img = pose3d_image(_poses(), (240, 200), backend=backend)
    assert img.shape == (200, 240, 3) and img.dtype == np.uint8 and img.std() > 0
    empty = pose3d_image(ImagePoses((), 10, 10, PANOPTIC19), 100, backend=backend)
    assert empty.shape == (100, 100, 3)
    with pytest.raises(ValueError, match="backend"):
        pose3d_image(_poses(), backend="vtk")

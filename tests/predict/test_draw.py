"""Overlays and 3D views of predictions."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ssmp3d.decoding import Person
from ssmp3d.predict import ImagePoses
from ssmp3d.predict.draw import PALETTE, draw_overlay, pose3d_image, side_by_side
from ssmp3d.predict.draw_people import pose3d_people_image
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


BACKENDS = ["opencv", pytest.param("matplotlib", marks=pytest.mark.skipif(
    __import__("importlib").util.find_spec("matplotlib") is None, reason="matplotlib not installed"))]


def _people(n: int, offsets=None) -> ImagePoses:
    """``n`` people with the mean pose (float64 mm), person ``i`` shifted by ``offsets[i]``."""
    k = 19
    mean = np.asarray(PANOPTIC19.mean_pose_mm, np.float64)
    people = []
    for i in range(n):
        j3 = mean + (np.zeros(3) if offsets is None else np.asarray(offsets[i], np.float64))
        people.append(Person(joints2d=np.zeros((k, 2), np.float32), scores=np.ones(k, np.float32),
                             detected=np.ones(k, bool), joints3d=j3, readout_rule=np.zeros(k, np.int8),
                             readout_joint=np.zeros(k, np.int16), score=1.0, tag=np.zeros(1)))
    return ImagePoses(people=tuple(people), width=200, height=160, skeleton=PANOPTIC19)


def _with_joints(poses: ImagePoses, i: int, joints3d: np.ndarray) -> ImagePoses:
    people = list(poses.people)
    people[i] = replace(people[i], joints3d=np.asarray(joints3d, np.float64))
    return replace(poses, people=tuple(people))


def _mask(img: np.ndarray, colour, tol: int = 12) -> np.ndarray:
    """``[H, W]`` pixels within ``tol`` of ``colour`` in every channel."""
    return np.all(np.abs(img.astype(np.int16) - np.asarray(colour, np.int16)) <= tol, axis=-1)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize("backend", BACKENDS)
def test_people_image_size_and_colours(backend):
    img = pose3d_people_image(_people(3, [(0, 0, 3000), (1000, 0, 4000), (-2000, 500, 9000)]), (240, 200),
                              backend=backend)
    assert img.shape == (200, 240, 3) and img.dtype == np.uint8
    for i in range(3):  # each person in its overlay colour
        assert _mask(img, PALETTE[i]).sum() > 20, i
    assert not _mask(img, PALETTE[3]).any()
    square = pose3d_people_image(_people(1), 96, backend=backend)
    assert square.shape == (96, 96, 3) and square.dtype == np.uint8


@pytest.mark.parametrize("backend", BACKENDS)
def test_people_image_fills_its_panel(backend):
    img = pose3d_people_image(_people(1), (240, 200), backend=backend, title="x")
    x0, y0, x1, y1 = _bbox(_mask(img, PALETTE[0]))
    mean = np.asarray(PANOPTIC19.mean_pose_mm)
    height_mm = mean[:, 1].max() - mean[:, 1].min()  # 1.5 m from nose to ankles
    # the 2 m cube spans 94 % of the panel's height (200 px less a title band of ~18 px): ~0.086 px / mm
    assert 0.075 * height_mm < y1 - y0 < 0.095 * height_mm
    assert y0 > 15 and y1 < 200 and 0 < x0 < x1 < 240  # below the title, inside the picture


@pytest.mark.skipif(__import__("importlib").util.find_spec("matplotlib") is None, reason="matplotlib not installed")
def test_people_image_backends_agree_on_scale():
    poses = _people(2)
    boxes = [_bbox(_mask(pose3d_people_image(poses, (240, 200), backend=b), PALETTE[0])) for b in
             ("matplotlib", "opencv")]
    assert np.abs(np.subtract(*boxes)).max() <= 4, boxes


@pytest.mark.parametrize("backend", BACKENDS)
def test_people_image_centres_each_person_on_its_root(backend):
    near = pose3d_people_image(_people(2, [(0, 0, 2000), (300, 0, 2500)]), 160, backend=backend)
    far = pose3d_people_image(_people(2, [(-4000, 1500, 9000), (5000, -700, 20000)]), 160, backend=backend)
    assert np.array_equal(near, far)  # the same metric scale everywhere, no perspective
    nan_pelvis = _people(1)
    j3 = np.array(nan_pelvis.people[0].joints3d)
    j3[PANOPTIC19.pelvis] = np.nan
    a = pose3d_people_image(_with_joints(nan_pelvis, 0, j3), 160, backend=backend)
    b = pose3d_people_image(_with_joints(nan_pelvis, 0, j3 + [3000.0, -2000.0, 7000.0]), 160, backend=backend)
    assert np.abs(a.astype(np.int16) - b).max() <= 1  # centred on the mean of the finite joints
    assert _mask(a, PALETTE[0]).sum() > 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_people_image_skips_people_without_3d_joints(backend):
    poses = _people(3)
    poses = _with_joints(poses, 0, np.full((19, 3), np.nan))
    j3 = np.array(poses.people[2].joints3d)
    j3[[5, 8, 11]] = np.nan  # some joints missing: drawn without them
    img = pose3d_people_image(_with_joints(poses, 2, j3), (200, 120), backend=backend)
    assert img.shape == (120, 200, 3)
    assert not _mask(img, PALETTE[0]).any()  # skipped ...
    assert _mask(img, PALETTE[1]).sum() > 20 and _mask(img, PALETTE[2]).sum() > 20  # ... the others keep their colour
    one = pose3d_people_image(ImagePoses((poses.people[1],), 200, 160, PANOPTIC19), (200, 120), backend=backend,
                              title="3 people")
    alone = pose3d_people_image(_with_joints(poses, 2, np.full((19, 3), np.nan)), (200, 120), backend=backend)
    assert _mask(alone, PALETTE[1]).any() and not _mask(alone, PALETTE[0]).any()  # its own colour, not person 0's
    assert _bbox(_mask(one, PALETTE[0])) == _bbox(_mask(alone, PALETTE[1]))  # same place: skipped = not there


@pytest.mark.parametrize("backend", BACKENDS)
def test_people_image_empty(backend):
    empty = ImagePoses((), 10, 10, PANOPTIC19)
    img = pose3d_people_image(empty, (150, 100), backend=backend)
    assert img.shape == (100, 150, 3) and img.dtype == np.uint8
    assert (img.max(axis=-1).astype(np.int16) - img.min(axis=-1)).max() <= 2  # greys only: no one drawn
    tiny = pose3d_people_image(_people(2), 12, backend=backend)  # no room for panels: no error
    assert tiny.shape == (12, 12, 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_people_image_more_people_than_panels(backend):
    poses = _people(5)
    img = pose3d_people_image(poses, (240, 160), max_people=3, title="scene", backend=backend)
    for i in range(3):
        assert _mask(img, PALETTE[i]).sum() > 20, i
    for i in (3, 4):
        assert not _mask(img, PALETTE[i]).any(), i
    first = replace(poses, people=poses.people[:3])
    # the same panels; only the title differs: it says how many are not shown
    assert np.array_equal(img, pose3d_people_image(first, (240, 160), title="scene (+2 more)", backend=backend))
    assert not np.array_equal(img, pose3d_people_image(first, (240, 160), title="scene", backend=backend))


def test_people_image_arguments():
    with pytest.raises(ValueError, match="backend"):
        pose3d_people_image(_people(1), backend="vtk")
    with pytest.raises(ValueError, match="max_people"):
        pose3d_people_image(_people(1), max_people=0, backend="opencv")
    with pytest.raises(ValueError, match="extent_mm"):
        pose3d_people_image(_people(1), extent_mm=0.0, backend="opencv")
    with pytest.raises(ValueError, match="size"):
        pose3d_people_image(_people(1), (0, 10), backend="opencv")

"""Letterboxing images and their ground truth into the network input."""

from __future__ import annotations

import numpy as np
import pytest

from ssmp3d.data import SceneConfig, sample_scene
from ssmp3d.data.dataset import denormalize_image, normalize_image
from ssmp3d.data.letterbox import letterbox, letterbox_scene
from ssmp3d.geometry import MapTransform


def test_letterbox_keeps_aspect_and_maps_points():
    image = np.zeros((90, 160, 3), np.uint8)
    image[40:50, 70:90] = 255  # a bright block around (79.5, 44.5)
    out, a = letterbox(image, 64, pad_value=0)
    assert out.shape == (64, 64, 3)
    assert a[0, 0] == pytest.approx(0.4) and a[1, 1] == pytest.approx(0.4)
    assert out[:13].max() == 0 and out[-13:].max() == 0  # padding above and below
    ys, xs = np.nonzero(out[..., 0] > 128)
    centre = np.array([79.5, 44.5]) @ a[:, :2].T + a[:, 2]
    assert abs(xs.mean() - centre[0]) < 0.6 and abs(ys.mean() - centre[1]) < 0.6
    back = MapTransform(affine=a, stride=1).map_to_image(centre)
    assert np.allclose(back, [79.5, 44.5])
    same, eye = letterbox(out, 64)
    assert np.array_equal(same, out) and np.allclose(eye, np.eye(2, 3))
    with pytest.raises(ValueError, match="image"):
        letterbox(np.zeros((0, 5, 3), np.uint8), 64)
    with pytest.raises(ValueError, match="size"):
        letterbox(image, 0)


def test_letterbox_scene_camera_reprojects():
    scene = sample_scene(np.random.default_rng(3), SceneConfig.crowded(image_size=(320, 180)))
    out_size = (128, 128)
    a = np.array([[0.4, 0.0, 0.4 * 0.5 - 0.5], [0.0, 0.4, 0.4 * 0.5 - 0.5 + 28.0]])
    moved = letterbox_scene(scene, a, out_size)
    assert moved.image_size == out_size
    ok = moved.in_image
    proj = moved.camera.project(moved.joints3d)
    assert np.allclose(proj[ok], moved.joints2d[ok], atol=1e-6)
    assert np.array_equal(moved.joints3d, scene.joints3d)


def test_normalize_round_trip_and_errors():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    x = normalize_image(rgb)
    assert x.shape == (3, 5, 7) and x.dtype.is_floating_point
    assert np.array_equal(denormalize_image(x), rgb)
    with pytest.raises(ValueError, match="image"):
        normalize_image(rgb.astype(np.float32))


def test_letterbox_pads_with_a_colour():
    out, _ = letterbox(np.full((10, 40, 3), 200, np.uint8), 40, pad_value=(124, 116, 104))
    assert out[0, 0].tolist() == [124, 116, 104] and out[20, 20].tolist() == [200, 200, 200]
    with pytest.raises(ValueError, match="pad_value"):
        letterbox(np.zeros((10, 40, 3), np.uint8), 40, pad_value=(1, 2))

"""Synthetic scene sampler: determinism, shapes, counts, plausibility, presets, errors."""

import dataclasses
import time

import numpy as np
import pytest

from ssmp3d import H36M17, PANOPTIC19
from ssmp3d.data import SceneConfig, sample_scene, sample_scenes
from ssmp3d.skeleton import Skeleton

P = {n: i for i, n in enumerate(PANOPTIC19.joints)}


def world(scene):
    """Camera-frame joints -> world frame (Y down, ground Y = 0)."""
    cam = scene.camera
    return (scene.joints3d - cam.t) @ cam.R


def same(a, b):
    for f in ("joints3d", "joints2d", "in_image", "visible", "valid3d"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    np.testing.assert_array_equal(a.camera.K, b.camera.K)


def test_deterministic():
    cfg = SceneConfig.crowded()
    same(sample_scene(3, cfg), sample_scene(3, cfg))
    same(sample_scene(np.random.default_rng(3), cfg), sample_scene(3, cfg))
    assert not np.array_equal(sample_scene(3, cfg).joints3d[:1], sample_scene(4, cfg).joints3d[:1])
    many, few = sample_scenes(4, 9, cfg), sample_scenes(2, 9, cfg)
    for i in range(2):
        same(many[i], few[i])
        same(many[i], sample_scene(np.random.SeedSequence(9, spawn_key=(i,)), cfg))


@pytest.mark.parametrize("skeleton", [PANOPTIC19, H36M17])
def test_shapes_and_consistency(skeleton):
    for scene in sample_scenes(5, 1, SceneConfig(), skeleton):
        n, k = scene.num_people, skeleton.num_joints
        assert scene.joints3d.shape == (n, k, 3) and scene.joints2d.shape == (n, k, 2)
        for f in ("in_image", "visible", "valid3d"):
            assert getattr(scene, f).shape == (n, k) and getattr(scene, f).dtype == bool
        assert scene.valid3d.all() and not (scene.visible & ~scene.in_image).any()
        assert (scene.joints3d[..., 2] > 0).all()
        np.testing.assert_allclose(scene.joints2d, scene.camera.project(scene.joints3d))
        np.testing.assert_array_equal(scene.in_image, scene.camera.in_image(scene.joints2d))
        assert scene.image_size == (512, 512)


def test_skeletons_share_the_body_model():
    a, b = sample_scene(5, SceneConfig(), PANOPTIC19), sample_scene(5, SceneConfig(), H36M17)
    h = {n: i for i, n in enumerate(H36M17.joints)}
    for name in ("pelvis", "l_wrist", "r_knee", "nose"):
        np.testing.assert_array_equal(a.joints3d[:, P[name]], b.joints3d[:, h[name]])
    np.testing.assert_array_equal(a.joints3d[:, P["neck"]], b.joints3d[:, h["thorax"]])


def test_people_counts_1_to_20():
    for n in range(1, 21):
        cfg = SceneConfig.crowded(max_people=n, min_people=n)
        assert sample_scene(n, cfg).num_people == n
    counts = [s.num_people for s in sample_scenes(30, 0, SceneConfig(min_people=2, max_people=5))]
    assert min(counts) >= 2 and max(counts) <= 5 and len(set(counts)) > 1


def test_plausible_bodies():
    scenes = sample_scenes(20, 4, SceneConfig.crowded())
    w = np.concatenate([world(s) for s in scenes])  # [N, K, 3] world mm
    bone = lambda a, b: np.linalg.norm(w[:, P[a]] - w[:, P[b]], axis=-1)  # noqa: E731
    ranges = {("l_shoulder", "l_elbow"): (230, 360), ("l_elbow", "l_wrist"): (200, 310),
              ("l_hip", "l_knee"): (340, 530), ("l_knee", "l_ankle"): (340, 530),
              ("pelvis", "neck"): (390, 620), ("l_shoulder", "r_shoulder"): (280, 420)}
    for (a, b), (lo, hi) in ranges.items():
        length = bone(a, b)
        assert lo <= length.min() and length.max() <= hi, (a, b)
        if a.startswith("l_") and b.startswith("l_"):  # symmetric bodies
            np.testing.assert_allclose(length, bone("r" + a[1:], "r" + b[1:]), rtol=1e-9)
    # Standing on the ground: lowest ankle 64-84 mm above it (75 mm x height / 1.75 m), none below.
    ankle_h = -w[:, [P["l_ankle"], P["r_ankle"]], 1]
    assert 60 <= ankle_h.min(1).min() and ankle_h.min(1).max() <= 85
    assert (-w[..., 1] > 50).all()
    # Heights: the highest joint (a raised wrist at most) stays below 2.2 m, and
    # the eyes of these mostly upright people are typically 1.3-1.8 m high.
    top = (-w[..., 1]).max(1)
    assert 800 < top.min() and top.max() < 2200
    assert 1300 < np.median(-w[:, P["l_eye"], 1]) < 1800


def test_camera_is_panoptic_like():
    for scene in sample_scenes(10, 2, SceneConfig()):
        cam = scene.camera
        centre = -cam.R.T @ cam.t
        assert 1500 <= -centre[1] <= 2000 and abs(centre[0]) < 1e-9
        pitch = np.degrees(np.arcsin(cam.R[2, 1]))
        assert 5 <= pitch <= 15
        assert 0.75 * 512 <= cam.K[0, 0] <= 0.9 * 512 and np.abs(cam.dist).max() <= 0.05


def test_sparse_scenes_have_no_truncation_occlusion_or_overlap():
    cfg = SceneConfig.sparse()
    scenes = sample_scenes(40, 3, cfg)
    assert sum(s.num_people for s in scenes) > 60 and max(s.num_people for s in scenes) >= 3
    for s in scenes:
        assert s.in_image.all() and s.visible.all()
        uv = s.joints2d
        assert (uv >= 8).all() and (uv <= 511 - 8).all()
        for p in range(s.num_people):
            for q in range(p):
                d = np.linalg.norm(uv[p][:, None] - uv[q][None], axis=-1)
                assert d.min() >= 2 * cfg.box_margin_px  # >= 8 map pixels at stride 4


def test_crowded_scenes_have_truncation_and_occlusion():
    scenes = sample_scenes(20, 5, SceneConfig.crowded())
    truncated = [(~s.in_image).any() for s in scenes]
    occluded = [(s.in_image & ~s.visible).any() for s in scenes]
    assert np.mean(truncated) > 0.5 and np.mean(occluded) > 0.5
    for s in scenes:
        depth = s.joints3d[:, P["pelvis"], 2]
        hidden_people = np.flatnonzero((s.in_image & ~s.visible).any(1))
        for p in hidden_people:  # only someone nearer can hide a joint
            assert (depth < depth[p]).any()
        assert not (s.in_image & ~s.visible)[np.argmin(depth)].any()


def test_fewer_people_when_placement_fails():
    cfg = SceneConfig.sparse(max_people=20, min_people=20)
    scenes = sample_scenes(3, 0, cfg)
    assert all(1 <= s.num_people < 20 for s in scenes)
    tiny = SceneConfig.sparse(max_people=2, image_size=(16, 16), placement_tries=4)
    s = sample_scene(0, tiny)
    assert s.num_people == 0 and s.joints3d.shape == (0, 19, 3) and s.visible.shape == (0, 19)


def test_sampling_is_fast():
    cfg = SceneConfig.crowded(max_people=20)
    sample_scene(0, cfg)
    t0 = time.perf_counter()
    sample_scenes(20, 1, cfg)
    assert (time.perf_counter() - t0) / 20 < 0.05


def test_errors():
    with pytest.raises(ValueError, match="min_people"):
        SceneConfig(min_people=3, max_people=2)
    with pytest.raises(ValueError, match="min_people"):
        SceneConfig(min_people=0)
    with pytest.raises(ValueError, match="image_size"):
        SceneConfig(image_size=(8, 512))
    with pytest.raises(ValueError, match="depth_range_mm"):
        SceneConfig(depth_range_mm=(5000.0, 2000.0))
    with pytest.raises(ValueError, match="border_fraction"):
        SceneConfig(border_fraction=1.5)
    with pytest.raises(TypeError, match="seed_or_rng"):
        sample_scene(1.5)
    with pytest.raises(TypeError, match="config"):
        sample_scene(0, {"max_people": 3})
    with pytest.raises(TypeError, match="skeleton"):
        sample_scene(0, SceneConfig(), "panoptic19")
    odd = dataclasses.replace(PANOPTIC19, name="odd", joints=PANOPTIC19.joints[:-1] + ("tail",))
    assert isinstance(odd, Skeleton)
    with pytest.raises(ValueError, match="tail"):
        sample_scene(0, SceneConfig(), odd)
    with pytest.raises(ValueError, match="n"):
        sample_scenes(-1, 0)
    with pytest.raises(TypeError, match="seed"):
        sample_scenes(2, "x")

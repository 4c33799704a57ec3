"""Renderer: determinism, people where their joints are, depth order, perspective, faces, errors."""

import time

import numpy as np
import pytest

from ssmp3d import H36M17, PANOPTIC19
from ssmp3d.data import (
    BackgroundConfig,
    RenderConfig,
    SceneConfig,
    render_scene,
    sample_scene,
)
from ssmp3d.data.render import Appearance, render_people
from ssmp3d.data.scene import Scene
from ssmp3d.geometry import Camera
from ssmp3d.skeleton import Skeleton

pytest.importorskip("cv2")  # the renderer draws with OpenCV

FLAT = RenderConfig(shading=False, antialias=False)
MEAN_POSE = np.asarray(PANOPTIC19.mean_pose_mm, dtype=np.float64)  # upright, facing the camera


def make_scene(people, size=(256, 256), f=300.0) -> Scene:
    """A scene of camera-frame poses ``[N, K, 3]`` with an identity-pose pinhole camera."""
    w, h = size
    cam = Camera(K=np.array([[f, 0, (w - 1) / 2], [0, f, (h - 1) / 2], [0, 0, 1.0]]), R=np.eye(3),
                 t=np.zeros(3), dist=np.zeros(5), width=w, height=h)
    j3 = np.asarray(people, dtype=np.float64).reshape(-1, PANOPTIC19.num_joints, 3)
    j2 = cam.project(j3)
    inside = cam.in_image(j2) & (j3[..., 2] > 0)
    return Scene(camera=cam, joints3d=j3, joints2d=j2, in_image=inside, visible=inside.copy(),
                 valid3d=np.ones(inside.shape, dtype=bool))


def appearance(i: int) -> Appearance:
    """Distinct flat colours per person (no colour shared between people)."""
    def c(k):
        return (10 + 40 * i + k, 200 - 30 * i, 60 + 7 * k)

    return Appearance(shirt=c(1), trousers=c(2), skin=c(3), hair=c(4), shoes=c(5), short_sleeves=False, shorts=False)


def draw(scene, config=FLAT, skeleton=PANOPTIC19, apps=None):
    img = np.zeros((scene.camera.height, scene.camera.width, 3), np.uint8)
    labels = np.full(img.shape[:2], 255, np.uint8)
    apps = [appearance(i) for i in range(scene.num_people)] if apps is None else apps
    render_people(img, scene, apps, config, skeleton, labels)
    return img, labels


def at(points):
    return np.round(points).astype(int)


def test_deterministic_and_seed_dependent():
    scene = sample_scene(0, SceneConfig(image_size=(256, 256)))
    a, b = render_scene(scene, 7), render_scene(scene, np.random.default_rng(7))
    assert a.shape == (256, 256, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.mean(a != render_scene(scene, 8)) > 0.3  # other background and clothes
    other = sample_scene(1, SceneConfig(image_size=(256, 256)))
    assert np.mean(a != render_scene(other, 7)) > 0.05


def test_non_square_and_h36m():
    scene = sample_scene(2, SceneConfig(image_size=(320, 240)), H36M17)
    img, labels = render_scene(scene, 0, skeleton=H36M17, return_labels=True)
    assert img.shape == (240, 320, 3) and labels.shape == (240, 320)
    assert set(np.unique(labels)) - {255} <= set(range(scene.num_people))


@pytest.mark.parametrize("seed", range(4))
def test_people_cover_their_joints(seed):
    """Sparse scenes: every joint pixel belongs to its person, in that person's colours."""
    scene = sample_scene(seed, SceneConfig.sparse(image_size=(256, 256)))
    img, labels = draw(scene)
    for p in range(scene.num_people):
        uv = at(scene.joints2d[p][scene.in_image[p]])
        assert np.all(labels[uv[:, 1], uv[:, 0]] == p)
        a = appearance(p)
        palette = {a.shirt, a.trousers, a.skin, a.hair, a.shoes, (25, 20, 20), (120, 40, 40)}
        colours = {tuple(c) for c in img[labels == p]}
        assert colours <= palette
        x, y = at(scene.joints2d[p, PANOPTIC19.pelvis])
        window = img[max(y - 4, 0): y + 5, max(x - 4, 0): x + 5].reshape(-1, 3)
        assert any(tuple(c) == a.trousers for c in window)  # trousers at the hips


def test_crowded_visible_joints_mostly_own_person():
    hits = total = 0
    for seed in range(3):
        scene = sample_scene(seed, SceneConfig.crowded(image_size=(256, 256)))
        _, labels = render_scene(scene, seed, return_labels=True)
        n, k = np.nonzero(scene.visible)
        uv = at(scene.joints2d[n, k])
        hits += int(np.sum(labels[uv[:, 1], uv[:, 0]] == n))
        total += len(n)
    assert hits / total > 0.9  # the occlusion capsules of Scene.visible approximate the drawn shapes


@pytest.mark.parametrize("swap", [False, True])
def test_nearer_person_wins(swap):
    far = MEAN_POSE + [0.0, 0.0, 5000.0]
    near = MEAN_POSE + [250.0, 0.0, 3500.0]
    people = [near, far] if swap else [far, near]
    scene = make_scene(people)
    img, labels = draw(scene)
    i_near = 0 if swap else 1
    alone = [draw(make_scene([pose]))[1] != 255 for pose in people]
    both = alone[0] & alone[1]
    assert both.sum() > 200  # they do overlap
    assert np.all(labels[both] == i_near)
    a = appearance(i_near)
    palette = {a.shirt, a.trousers, a.skin, a.hair, a.shoes, (25, 20, 20), (120, 40, 40)}
    assert {tuple(c) for c in img[both]} <= palette


def test_width_follows_perspective():
    areas = []
    for z in (3000.0, 6000.0):
        _, labels = draw(make_scene([MEAN_POSE + [0, 0, z]], size=(512, 512), f=600.0))
        areas.append(np.sum(labels == 0))
    assert 3.6 < areas[0] / areas[1] < 4.4  # area ~ (f / z)^2


def test_face_marks_only_toward_the_camera():
    facing = MEAN_POSE + [0, 0, 2500.0]
    away = MEAN_POSE * [-1, 1, -1] + [0, 0, 2500.0]  # turned 180 degrees about the vertical
    eye = np.array([25, 20, 20])
    img_f, _ = draw(make_scene([facing]))
    img_a, _ = draw(make_scene([away]))
    assert np.all(img_f == eye, axis=-1).sum() > 4
    assert np.all(img_a == eye, axis=-1).sum() == 0
    no_face, _ = draw(make_scene([facing]), RenderConfig(shading=False, antialias=False, face=False))
    assert np.all(no_face == eye, axis=-1).sum() == 0


def test_truncation_behind_camera_and_empty():
    pose = MEAN_POSE + [900.0, 0, 2500.0]  # straddles the right border
    scene = make_scene([pose, MEAN_POSE + [0, 0, -3000.0]])
    _, labels = draw(scene)
    assert np.any(labels[:, -1] == 0) and not np.any(labels == 1)
    empty = make_scene(np.zeros((0, 19, 3)))
    img = render_scene(empty, 3, RenderConfig(background=BackgroundConfig(num_shapes=(0, 0), noise_std=0.0)))
    assert img.shape == (256, 256, 3)


def test_shading_and_clutter():
    scene = make_scene([MEAN_POSE + [0, 0, 2500.0]])
    shaded, labels = draw(scene, RenderConfig(antialias=False))
    a = appearance(0)
    assert len({tuple(c) for c in shaded[labels == 0]}) > 7  # rim, base and highlight bands
    plain = RenderConfig(background=BackgroundConfig(num_shapes=(0, 0), floor=False, noise_std=0.0))
    busy = RenderConfig(background=BackgroundConfig(num_shapes=(30, 30)))
    empty = make_scene(np.zeros((0, 19, 3)))
    assert len(np.unique(render_scene(empty, 1, plain).reshape(-1, 3), axis=0)) < \
        len(np.unique(render_scene(empty, 1, busy).reshape(-1, 3), axis=0))
    assert a.shirt in {tuple(c) for c in shaded[labels == 0]}


def test_bad_arguments():
    scene = sample_scene(0, SceneConfig(image_size=(64, 64)))
    with pytest.raises(ValueError, match="radius_scale"):
        RenderConfig(radius_scale=0.0)
    with pytest.raises(TypeError, match="background"):
        RenderConfig(background=3)
    with pytest.raises(ValueError, match="num_shapes"):
        BackgroundConfig(num_shapes=(5, 2))
    with pytest.raises(ValueError, match="noise_std"):
        BackgroundConfig(noise_std=-1.0)
    with pytest.raises(TypeError, match="scene"):
        render_scene("scene", 0)
    with pytest.raises(TypeError, match="seed"):
        render_scene(scene, 1.5)
    with pytest.raises(TypeError, match="config"):
        render_scene(scene, 0, BackgroundConfig())
    tiny = Skeleton(name="tiny", joints=("pelvis", "neck"), parents=(-1, 0), limbs=(), limb_names=(), neck=1,
                    pelvis=0, flip_pairs=(), mean_pose_mm=((0, 0, 0), (0, -500, 0)))
    with pytest.raises(ValueError, match="skeleton"):
        render_scene(make_scene(np.zeros((0, 19, 3))), 0, skeleton=tiny)
    with pytest.raises(ValueError, match="appearances"):
        render_people(np.zeros((64, 64, 3), np.uint8), scene, [], FLAT)


def test_render_time_256():
    """Median milliseconds per 256 x 256 image (default scenes, one thread); see benchmarks/."""
    scenes = [sample_scene(i, SceneConfig(image_size=(256, 256))) for i in range(20)]
    render_scene(scenes[0], 0)
    times = []
    for i, s in enumerate(scenes):
        t0 = time.perf_counter()
        render_scene(s, i)
        times.append(time.perf_counter() - t0)
    ms = 1e3 * float(np.median(times))
    print(f"render 256x256: {ms:.2f} ms/image")
    assert ms < 40.0  # target < 10 ms on one core; loose bound for slow CI machines

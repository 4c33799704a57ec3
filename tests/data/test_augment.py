"""Augmentation: image and ground truth move together; flip mirrors; rotation keeps 2D = project(3D)."""

import numpy as np
import pytest

from ssmp3d import H36M17, PANOPTIC19
from ssmp3d.data import SceneConfig, render_scene, sample_scene
from ssmp3d.data.augment import (
    AugmentConfig,
    AugmentParams,
    augment,
    augment_affine,
    jitter_colour,
    random_augment,
    sample_params,
    transform_scene,
    warp_image,
)
from ssmp3d.data.scene import Scene
from ssmp3d.encode import TargetConfig, encode_scene
from ssmp3d.geometry import Camera, MapTransform, map_pixel

cv2 = pytest.importorskip("cv2")

SIZE = (256, 256)


@pytest.fixture(scope="module")
def scene():
    return sample_scene(3, SceneConfig.crowded(image_size=SIZE))


def general_scene(base: Scene) -> Scene:
    """The same people seen by a camera with fx != fy, skew and tangential distortion."""
    cam = Camera(K=np.array([[230.0, 2.0, 120.0], [0.0, 250.0, 135.0], [0, 0, 1]]), R=np.eye(3), t=np.zeros(3),
                 dist=np.array([-0.08, 0.01, 0.002, -0.003, 0.0]), width=256, height=256)
    j2 = cam.project(base.joints3d)
    inside = cam.in_image(j2)
    return Scene(camera=cam, joints3d=base.joints3d, joints2d=j2, in_image=inside, visible=inside & base.visible,
                 valid3d=base.valid3d)


def test_none_is_identity(scene):
    img = render_scene(scene, 0)
    params = sample_params(np.random.default_rng(0), AugmentConfig.none(), SIZE)
    out, s = augment(img, scene, params)
    np.testing.assert_array_equal(out, img)
    for f in ("joints3d", "joints2d", "in_image", "visible", "valid3d"):
        np.testing.assert_array_equal(getattr(s, f), getattr(scene, f))
    np.testing.assert_array_equal(s.camera.K, scene.camera.K)


@pytest.mark.parametrize("skeleton", [PANOPTIC19, H36M17])
def test_flip_swaps_and_mirrors(skeleton):
    scene = sample_scene(5, SceneConfig(image_size=SIZE), skeleton)
    img = render_scene(scene, 1, skeleton=skeleton)
    out, s = augment(img, scene, AugmentParams(flip=True), skeleton=skeleton)
    np.testing.assert_array_equal(out, img[:, ::-1])
    perm = skeleton.flip_permutation()
    np.testing.assert_allclose(s.joints2d[..., 0], SIZE[0] - 1 - scene.joints2d[:, perm, 0], atol=1e-9)
    np.testing.assert_allclose(s.joints2d[..., 1], scene.joints2d[:, perm, 1], atol=1e-9)
    np.testing.assert_allclose(s.joints3d, scene.joints3d[:, perm] * [-1, 1, 1], atol=1e-9)
    j = {n: i for i, n in enumerate(skeleton.joints)}
    np.testing.assert_allclose(s.joints3d[:, j["l_wrist"]], scene.joints3d[:, j["r_wrist"]] * [-1, 1, 1])
    np.testing.assert_array_equal(s.visible, scene.visible[:, perm])
    bones_new, bones_old = skeleton.bone_vectors(s.joints3d), skeleton.bone_vectors(scene.joints3d)
    np.testing.assert_allclose(bones_new, bones_old[:, perm] * [-1, 1, 1], atol=1e-9)
    np.testing.assert_allclose(s.camera.project(s.joints3d), s.joints2d, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("general", [False, True])
def test_2d_and_3d_agree_after_any_augmentation(scene, seed, general):
    """Exact by construction (RQ split of the affine, principal point moved with the image)."""
    src = general_scene(scene) if general else scene
    cfg = AugmentConfig(scale=(0.6, 1.6), rotation_deg=180.0, translate=0.2)
    params = sample_params(np.random.default_rng(seed), cfg, (192, 160))
    out = transform_scene(src, params, (192, 160))
    assert out.image_size == (192, 160)
    np.testing.assert_allclose(out.camera.project(out.joints3d), out.joints2d, atol=1e-6)
    pel = PANOPTIC19.pelvis
    perm = PANOPTIC19.flip_permutation() if params.flip else np.arange(19)
    rel_new, rel_old = out.pelvis_relative(pel), src.pelvis_relative(pel)[:, perm]
    np.testing.assert_allclose(np.linalg.norm(rel_new, axis=-1), np.linalg.norm(rel_old, axis=-1), atol=1e-6)
    np.testing.assert_allclose(rel_new[..., 2], rel_old[..., 2], atol=1e-9)  # a rotation about Z
    if not general:  # fx == fy: the 3D turns by exactly the drawn angle
        a = np.radians(params.rotation_deg)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        if params.flip:
            rot[0] *= -1.0  # mirror X after the rotation, as the image
        np.testing.assert_allclose(rel_new[..., :2], rel_old[..., :2] @ rot.T, atol=1e-6)
    assert not np.any(out.visible & ~out.in_image)
    assert not np.any(out.in_image & ~src.in_image[:, perm])  # no pixels outside the source


def test_image_follows_the_joints(scene):
    """Discs drawn at the joints land on the transformed joints."""
    img = np.zeros((256, 256, 3), np.uint8)
    pts = scene.joints2d[scene.in_image]
    for u, v in pts:
        cv2.circle(img, (round(u * 16), round(v * 16)), 3 * 16, (255, 255, 255), -1, cv2.LINE_AA, 4)
    for seed in range(4):
        params = sample_params(np.random.default_rng(seed), AugmentConfig(scale=(0.9, 1.3), rotation_deg=45.0,
                                                                            brightness=0, contrast=0, saturation=0,
                                                                            hue_deg=0), (256, 256))
        out, s = augment(img, scene, params)
        perm = PANOPTIC19.flip_permutation() if params.flip else np.arange(19)
        src = scene.joints2d[:, perm]
        inner = s.in_image & np.all((src >= 3) & (src <= 252), axis=-1)  # whole disc inside the source
        uv = np.round(s.joints2d[inner]).astype(int)
        assert len(uv) > 20 and np.all(out[uv[:, 1], uv[:, 0], 0] > 200)


def test_visibility_recomputed_for_the_crop(scene):
    zoom_out = transform_scene(scene, AugmentParams(scale=0.5))
    np.testing.assert_array_equal(zoom_out.in_image, scene.in_image)  # truncated joints stay outside
    moved = transform_scene(scene, AugmentParams(translate=(200.0, 0.0)))
    assert moved.in_image.sum() < scene.in_image.sum()
    assert np.all(moved.joints2d[moved.in_image][:, 0] <= 255.5)
    assert not np.any(moved.in_image & ~moved.camera.in_image(moved.joints2d))
    assert not np.any(moved.visible & ~moved.in_image)


def test_targets_encode_from_augmented_truth(scene):
    img = render_scene(scene, 0)
    _, s = random_augment(img, scene, np.random.default_rng(4), AugmentConfig(rotation_deg=60.0))
    t = encode_scene(s, PANOPTIC19, TargetConfig())
    px = map_pixel(MapTransform(stride=4).image_to_map(s.joints2d))
    n, k = np.nonzero(s.in_image)
    x, y = px[n, k, 0], px[n, k, 1]
    inside = (x >= 0) & (x < 64) & (y >= 0) & (y < 64)
    assert inside.sum() > 20
    assert np.all(t.heatmaps[k[inside], y[inside], x[inside]] > 0.9)


def test_colour_jitter():
    img = render_scene(sample_scene(0, SceneConfig(image_size=(64, 64))), 0)
    np.testing.assert_array_equal(jitter_colour(img, AugmentParams()), img)
    grey = jitter_colour(img, AugmentParams(saturation=0.0)).astype(int)
    assert np.abs(grey - grey.mean(-1, keepdims=True)).max() <= 1
    bright = jitter_colour(img, AugmentParams(brightness=1.2))
    assert 1.1 < bright.mean() / img.mean() < 1.21
    flat = jitter_colour(img, AugmentParams(contrast=0.5))
    assert flat.std() < 0.6 * img.std()
    hue = jitter_colour(img, AugmentParams(hue_deg=30.0)).astype(float)
    lum = np.array([0.299, 0.587, 0.114])
    assert abs((hue @ lum).mean() - (img @ lum).mean()) < 3.0 and np.mean(hue != img) > 0.5


def test_deterministic_and_affine_shape(scene):
    img = render_scene(scene, 0)
    a = random_augment(img, scene, np.random.default_rng(9), AugmentConfig(), (128, 128))
    b = random_augment(img, scene, np.random.default_rng(9), AugmentConfig(), (128, 128))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1].joints2d, b[1].joints2d)
    assert a[0].shape == (128, 128, 3)
    aff = augment_affine((256, 256), (128, 128), AugmentParams())
    np.testing.assert_allclose(aff @ [127.5, 127.5, 1.0], [63.5, 63.5])
    assert warp_image(img, AugmentParams(), (128, 128)).shape == (128, 128, 3)


def test_bad_arguments(scene):
    with pytest.raises(ValueError, match="scale"):
        AugmentConfig(scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="flip_prob"):
        AugmentConfig(flip_prob=2.0)
    with pytest.raises(TypeError, match="rotation_deg"):
        AugmentConfig(rotation_deg="30")
    with pytest.raises(ValueError, match="output_size"):
        transform_scene(scene, AugmentParams(), (0, 10))
    with pytest.raises(TypeError, match="output_size"):
        transform_scene(scene, AugmentParams(), 256)
    with pytest.raises(ValueError, match="image"):
        augment(np.zeros((10, 10, 3), np.uint8), scene, AugmentParams())
    with pytest.raises(TypeError, match="config"):
        sample_params(np.random.default_rng(0), {}, SIZE)
    with pytest.raises(ValueError, match="skeleton"):
        transform_scene(scene, AugmentParams(), skeleton=H36M17)

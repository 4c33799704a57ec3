"""encode_scene on synthetic scenes, TargetConfig."""

import dataclasses

import numpy as np
import pytest

from ssmp3d import H36M17, PANOPTIC19
from ssmp3d.data import SceneConfig, sample_scene
from ssmp3d.data.scene import Scene
from ssmp3d.encode import TargetConfig, encode_scene
from ssmp3d.geometry import MapTransform, map_pixel


@pytest.mark.parametrize("skeleton", [PANOPTIC19, H36M17])
def test_lone_person_orpm_readout_returns_its_bones(skeleton):
    scene = sample_scene(4, SceneConfig.sparse(max_people=1), skeleton)
    assert scene.num_people == 1 and scene.in_image.all()
    t = encode_scene(scene, skeleton)
    k = skeleton.num_joints
    assert t.heatmaps.shape == t.tag_maps.shape == t.orpm_weight.shape == (k, 128, 128)
    assert t.orpm.shape == (k, 3, 128, 128) and t.tag_indices.shape == (1, k, 2)
    bones = (skeleton.bone_vectors(scene.joints3d[0]) / 1000.0).astype(np.float32)
    pix = map_pixel(t.joints_map[0])
    sets = skeleton.readout_sets()
    for m in range(k):
        for loc in np.flatnonzero(sets[m]):
            x, y = pix[loc]
            np.testing.assert_array_equal(t.orpm[m, :, y, x], bones[m])
            assert t.orpm_weight[m, y, x] == 1.0
    # Heatmap peaks, tags and indices agree with the projected joints.
    assert np.all(t.tag_indices[0, :, 1] == 1)
    np.testing.assert_array_equal(t.tag_indices[0, :, 0], pix[:, 1] * 128 + pix[:, 0])
    for j in range(k):
        assert t.heatmaps[j].argmax() == t.tag_indices[0, j, 0]
        assert t.tag_maps[j].reshape(-1)[t.tag_indices[0, j, 0]] == 1.0


def test_crowded_scene_targets():
    scene = sample_scene(7, SceneConfig.crowded())
    t = encode_scene(scene, config=TargetConfig(map_size=(96, 100)))
    assert t.heatmaps.shape == (19, 96, 100) and t.heatmaps.dtype == np.float32
    flags = t.tag_indices[..., 1].astype(bool)
    assert not flags[~scene.in_image].any()
    assert flags.sum() > 0 and t.heatmaps.max() <= 1.0
    np.testing.assert_allclose(t.joints_map, MapTransform(stride=4).image_to_map(scene.joints2d))


def test_invalid_3d_joints_are_not_encoded():
    scene = sample_scene(4, SceneConfig.sparse(max_people=1))
    v3 = scene.valid3d.copy()
    v3[0, 4] = False  # l_elbow unknown: map 4 (its bone) and map 5 (wrist bone) lose it
    j3 = scene.joints3d.copy()
    j3[0, 4] = np.nan
    t = encode_scene(dataclasses.replace(scene, valid3d=v3, joints3d=j3))
    assert t.orpm_weight[4].sum() == 0 and t.orpm_weight[5].sum() == 0
    assert t.heatmaps[4].max() == 0 and t.tag_indices[0, 4, 1] == 0 and not np.isnan(t.orpm).any()


def test_config_and_argument_errors():
    scene = sample_scene(1, SceneConfig.sparse(max_people=1))
    with pytest.raises(ValueError, match="sigma"):
        TargetConfig(sigma=-1.0)
    with pytest.raises(ValueError, match="orpm_radius"):
        TargetConfig(orpm_radius=-1)
    with pytest.raises(ValueError, match="stride"):
        TargetConfig(stride=0)
    with pytest.raises(ValueError, match="map_size"):
        TargetConfig(map_size=(0, 4))
    with pytest.raises(TypeError, match="scene"):
        encode_scene(scene.joints3d)
    with pytest.raises(ValueError, match="stride"):
        encode_scene(scene, transform=MapTransform(stride=8))
    with pytest.raises(ValueError, match="joints"):
        encode_scene(scene, H36M17)


def test_no_people():
    scene = sample_scene(0, SceneConfig.sparse(max_people=1))
    empty = Scene(scene.camera, np.zeros((0, 19, 3)), np.zeros((0, 19, 2)), np.zeros((0, 19), bool),
                  np.zeros((0, 19), bool), np.zeros((0, 19), bool))
    t = encode_scene(empty)
    assert not t.heatmaps.any() and not t.orpm_weight.any() and t.tag_indices.shape == (0, 19, 2)

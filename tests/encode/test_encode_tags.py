"""Associative-embedding targets: tag indices and oracle tag maps."""

import numpy as np
import pytest

from ssmp3d.encode import ORACLE_TAG_SPACING, encode_tag_maps, oracle_tag_values, tag_indices


def test_tag_indices_flat_index_and_flag():
    joints = np.array([[[2.5, 1.49], [-0.6, 3.0], [7.0, 3.0], [np.nan, 0.0]]])
    valid = np.array([[True, True, True, False]])
    idx = tag_indices(joints, valid, (4, 8))
    assert idx.dtype == np.int64 and idx.shape == (1, 4, 2)
    # (2.5, 1.49) -> pixel (3, 1): half rounds up.
    assert idx[0].tolist() == [[1 * 8 + 3, 1], [0, 0], [3 * 8 + 7, 1], [0, 0]]


def test_tag_indices_agree_with_heatmap_peaks():
    from ssmp3d.encode import encode_heatmaps

    rng = np.random.default_rng(1)
    joints = rng.uniform(0, 30, (3, 5, 2))
    valid = np.ones((3, 5), bool)
    idx = tag_indices(joints, valid, (32, 32))
    heat = encode_heatmaps(joints, valid, (32, 32), sigma=0.3)  # narrow: no cross talk
    for p in range(3):
        for k in range(5):
            assert heat[k].reshape(-1)[idx[p, k, 0]] >= np.float32(np.exp(-0.5 / 0.09))


def test_oracle_tag_values():
    v = oracle_tag_values(4)
    assert v.tolist() == [1.0, 4.0, 7.0, 10.0]
    assert np.diff(v).min() == ORACLE_TAG_SPACING >= 3 * 1.0  # 3x the default tag_threshold
    assert oracle_tag_values(0).shape == (0,)
    with pytest.raises(ValueError, match="n"):
        oracle_tag_values(-1)
    with pytest.raises(TypeError, match="n"):
        oracle_tag_values(2.0)


def test_tag_maps_discs_and_depth_order():
    joints = np.array([[[5.0, 5.0], [20.0, 5.0]], [[6.0, 5.0], [np.nan, np.nan]]])
    valid = np.array([[True, True], [True, False]])
    tags = encode_tag_maps(joints, valid, depth=[10.0, 3.0], size=(12, 30))
    assert tags.shape == (2, 12, 30) and tags.dtype == np.float32
    # Person 1 (nearer, tag 4) owns the overlap in map 0; person 0 (tag 1) keeps the rest.
    assert tags[0, 5, 6] == 4.0 and tags[0, 5, 5] == 4.0 and tags[0, 5, 3] == 1.0
    assert tags[1, 5, 20] == 1.0 and (tags[1] != 0).sum() == 13 and (tags[0] != 0).sum() == 13 + 5
    # Farther person last -> it wins.
    tags2 = encode_tag_maps(joints, valid, depth=[3.0, 10.0], size=(12, 30), tag_values=[-2.0, 7.5])
    assert tags2[0, 5, 6] == -2.0 and tags2[0, 5, 8] == 7.5
    # Ties: the later person wins.
    tags3 = encode_tag_maps(joints, valid, depth=[4.0, 4.0], size=(12, 30), radius=0)
    assert tags3[0, 5, 6] == 4.0 and tags3[0, 5, 5] == 1.0 and (tags3 != 0).sum() == 3


def test_errors():
    j, v = np.zeros((2, 3, 2)), np.ones((2, 3), bool)
    with pytest.raises(ValueError, match="tag_values"):
        encode_tag_maps(j, v, [1.0, 2.0], (4, 4), tag_values=[1.0])
    with pytest.raises(ValueError, match="tag_values"):
        encode_tag_maps(j, v, [1.0, 2.0], (4, 4), tag_values=[1.0, np.inf])
    with pytest.raises(ValueError, match="depth"):
        encode_tag_maps(j, v, [1.0], (4, 4))
    with pytest.raises(ValueError, match="radius"):
        encode_tag_maps(j, v, [1.0, 2.0], (4, 4), radius=-2)
    with pytest.raises(ValueError, match="valid"):
        tag_indices(j, np.ones((2, 2), bool), (4, 4))
    with pytest.raises(ValueError, match="size"):
        tag_indices(j, v, (4, 0))
    with pytest.raises(ValueError, match="joints_map"):
        tag_indices(np.zeros((2, 3)), v, (4, 4))

"""ORPM targets: read-out locations, discs, weight mask, depth order, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmp3d import H36M17, PANOPTIC19
from ssmp3d.encode import depth_order, disc_offsets, encode_orpm

K = PANOPTIC19.num_joints


def brute_force(joints, bones, valid, depth, skeleton, size, radius):
    """Loop-by-loop statement of the documented rules."""
    h, w = size
    k = skeleton.num_joints
    orpm = np.zeros((k, 3, h, w), np.float32)
    weight = np.zeros((k, h, w), np.float32)
    order = sorted(range(len(depth)), key=lambda p: -depth[p])  # Python's sort is stable
    for p in order:
        for j in range(k):
            for loc in skeleton.readout_chain(j):
                if not valid[p, loc]:
                    continue
                px, py = np.floor(joints[p, loc] + 0.5).astype(int)
                if not (0 <= px < w and 0 <= py < h):
                    continue
                for y in range(h):
                    for x in range(w):
                        if (x - px) ** 2 + (y - py) ** 2 <= radius * radius:
                            orpm[j, :, y, x] = np.float32(bones[p, j])
                            weight[j, y, x] = 1.0
    return orpm, weight


def grid_person(origin=(6, 6), step=7, k=K):
    """Joints on a well separated grid (no two discs touch)."""
    idx = np.arange(k)
    return np.stack([origin[0] + step * (idx % 5), origin[1] + step * (idx // 5)], -1).astype(float)


def test_disc_offsets():
    assert [len(disc_offsets(r)) for r in range(4)] == [1, 5, 13, 29]
    d = disc_offsets(2)
    assert (d**2).sum(-1).max() == 4 and [0, 0] in d.tolist()


def test_lone_person_every_readout_location_written_with_its_bone():
    rng = np.random.default_rng(0)
    joints = grid_person()[None]
    bones = rng.normal(0, 0.3, (1, K, 3))
    bones[0, PANOPTIC19.pelvis] = 0
    orpm, weight = encode_orpm(joints, bones, np.ones((1, K), bool), [3.0], PANOPTIC19, (40, 44))
    assert orpm.shape == (K, 3, 40, 44) and weight.shape == (K, 40, 44)
    assert orpm.dtype == weight.dtype == np.float32
    sets = PANOPTIC19.readout_sets()
    pix = np.floor(joints[0] + 0.5).astype(int)
    for m in range(K):
        for loc in range(K):
            x, y = pix[loc]
            if sets[m, loc]:
                np.testing.assert_array_equal(orpm[m, :, y, x], bones[0, m].astype(np.float32))
                assert weight[m, y, x] == 1
            else:
                assert weight[m, y, x] == 0 and not orpm[m, :, y, x].any()
        # The weight is exactly the union of 13-pixel discs at the read-out locations.
        assert weight[m].sum() == 13 * sets[m].sum()
    # Torso maps only at the neck and the pelvis.
    for t in PANOPTIC19.torso:
        assert np.flatnonzero(sets[t]).tolist() == sorted(PANOPTIC19.torso)
    assert not orpm[PANOPTIC19.pelvis].any() and weight[PANOPTIC19.pelvis].sum() == 26


def test_nearer_person_wins_regardless_of_order():
    joints = np.repeat(grid_person()[None], 2, axis=0)
    joints[1] += 1.0  # discs overlap
    bones = np.stack([np.full((K, 3), 1.0), np.full((K, 3), 2.0)])
    valid = np.ones((2, K), bool)
    for near in (0, 1):
        depth = [5.0, 5.0]
        depth[1 - near] = 9.0
        orpm, _ = encode_orpm(joints, bones, valid, depth, PANOPTIC19, (40, 44))
        x, y = np.floor(joints[0, 0] + 0.5).astype(int)
        assert orpm[0, 0, y, x] == near + 1 and orpm[0, 0, y + 1, x + 1] == near + 1
        # Swapping the people changes nothing.
        orpm2, _ = encode_orpm(joints[::-1], bones[::-1], valid, depth[::-1], PANOPTIC19, (40, 44))
        np.testing.assert_array_equal(orpm, orpm2)


def test_depth_ties_later_person_wins():
    assert depth_order([2.0, 5.0, 2.0, 5.0]).tolist() == [1, 3, 0, 2]
    joints = np.repeat(grid_person()[None], 3, axis=0)
    bones = np.stack([np.full((K, 3), v) for v in (1.0, 2.0, 3.0)])
    orpm, _ = encode_orpm(joints, bones, np.ones((3, K), bool), [4.0, 4.0, 9.0], PANOPTIC19, (40, 44))
    assert np.unique(orpm[:, :, 6, 6]).tolist() == [2.0]


@pytest.mark.parametrize("radius", [0, 1, 3])
def test_disc_radius_and_border_clipping(radius):
    joints = grid_person()[None]
    joints[0, 5] = (0.2, 0.4)  # l_wrist at the map corner
    orpm, weight = encode_orpm(joints, np.ones((1, K, 3)), np.ones((1, K), bool), [1.0], PANOPTIC19,
                               (40, 44), radius=radius)
    # Map 5 (l_wrist) is written at the wrist, elbow, shoulder, neck and pelvis.
    n_disc = len(disc_offsets(radius))
    in_corner = sum(1 for dx, dy in disc_offsets(radius) if dx >= 0 and dy >= 0)
    assert weight[5].sum() == 4 * n_disc + in_corner


def test_invalid_out_of_map_and_unknown_bones_skipped():
    joints = grid_person()[None]
    valid = np.ones((1, K), bool)
    valid[0, 0] = False  # neck not a location
    joints[0, 2] = (-3.0, 5.0)  # pelvis outside the map
    joints[0, 0] = np.nan
    bones_valid = np.ones((1, K), bool)
    bones_valid[0, 4] = False
    bones = np.ones((1, K, 3))
    bones[0, 4] = np.nan
    orpm, weight = encode_orpm(joints, bones, valid, [1.0], PANOPTIC19, (40, 44), bones_valid=bones_valid)
    assert weight[0].sum() == 0 and weight[2].sum() == 0  # torso maps: no location left
    assert weight[4].sum() == 0 and not np.isnan(orpm).any()
    assert weight[5].sum() == 3 * 13  # wrist, elbow, shoulder
    assert weight[1].sum() == 5 * 13  # head limb (5 joints)


def test_h36m_spine_limb():
    k = H36M17.num_joints
    joints = grid_person(k=k)[None]
    _, weight = encode_orpm(joints, np.ones((1, k, 3)), np.ones((1, k), bool), [1.0], H36M17, (40, 44))
    assert (weight.reshape(k, -1).sum(1) / 13).tolist() == H36M17.readout_sets().sum(1).tolist()


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 4), st.integers(0, 2))
def test_matches_brute_force(seed, n, radius):
    rng = np.random.default_rng(seed)
    joints = rng.uniform(-2, 14, (n, K, 2))
    bones = rng.normal(0, 0.3, (n, K, 3))
    valid = rng.random((n, K)) < 0.7
    depth = rng.integers(0, 3, n).astype(float)  # frequent ties
    got = encode_orpm(joints, bones, valid, depth, PANOPTIC19, (12, 13), radius)
    want = brute_force(joints, bones, valid, depth, PANOPTIC19, (12, 13), radius)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_errors():
    j, b, v, d = np.zeros((1, K, 2)), np.zeros((1, K, 3)), np.ones((1, K), bool), [1.0]
    with pytest.raises(TypeError, match="skeleton"):
        encode_orpm(j, b, v, d, "panoptic19", (8, 8))
    with pytest.raises(ValueError, match="joints_map"):
        encode_orpm(np.zeros((1, 17, 2)), b, np.ones((1, 17), bool), d, PANOPTIC19, (8, 8))
    with pytest.raises(ValueError, match="bones_m"):
        encode_orpm(j, np.zeros((2, K, 3)), v, d, PANOPTIC19, (8, 8))
    with pytest.raises(ValueError, match="bones_m"):
        encode_orpm(j, np.full((1, K, 3), np.nan), v, d, PANOPTIC19, (8, 8))
    with pytest.raises(ValueError, match="depth"):
        encode_orpm(j, b, v, [1.0, 2.0], PANOPTIC19, (8, 8))
    with pytest.raises(ValueError, match="depth"):
        encode_orpm(j, b, v, [np.nan], PANOPTIC19, (8, 8))
    with pytest.raises(ValueError, match="radius"):
        encode_orpm(j, b, v, d, PANOPTIC19, (8, 8), radius=-1)
    with pytest.raises(TypeError, match="radius"):
        encode_orpm(j, b, v, d, PANOPTIC19, (8, 8), radius=1.5)
    with pytest.raises(ValueError, match="size"):
        encode_orpm(j, b, v, d, PANOPTIC19, (8, -1))
    with pytest.raises(ValueError, match="bones_valid"):
        encode_orpm(j, b, v, d, PANOPTIC19, (8, 8), bones_valid=np.ones((1, 3), bool))

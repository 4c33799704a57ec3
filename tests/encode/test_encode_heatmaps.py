"""Gaussian heatmap targets: peak, window, max over people, map bounds, errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmp3d.encode import encode_heatmaps, gaussian_radius


def brute_force(joints, valid, size, sigma):
    """Loop-by-loop statement of the documented arithmetic."""
    h, w = size
    k = joints.shape[1]
    out = np.zeros((k, h, w), dtype=np.float32)
    r = int(math.ceil(3.0 * sigma))
    for p in range(joints.shape[0]):
        for j in range(k):
            if not valid[p, j]:
                continue
            cx, cy = float(joints[p, j, 0]), float(joints[p, j, 1])
            px, py = math.floor(cx + 0.5), math.floor(cy + 0.5)
            if not (0 <= px <= w - 1 and 0 <= py <= h - 1):
                continue
            for y in range(max(0, py - r), min(h - 1, py + r) + 1):
                for x in range(max(0, px - r), min(w - 1, px + r) + 1):
                    dx, dy = x - cx, y - cy
                    g = np.float32(math.exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma)))
                    out[j, y, x] = max(out[j, y, x], g)
    return out


def one(x, y, k=1, j=0):
    joints = np.zeros((1, k, 2))
    joints[0, j] = (x, y)
    valid = np.zeros((1, k), dtype=bool)
    valid[0, j] = True
    return joints, valid


def test_peak_at_integer_location():
    joints, valid = one(10.0, 7.0)
    hm = encode_heatmaps(joints, valid, (20, 30))
    assert hm.shape == (1, 20, 30) and hm.dtype == np.float32
    assert hm[0, 7, 10] == 1.0
    assert np.unravel_index(hm[0].argmax(), hm[0].shape) == (7, 10)
    np.testing.assert_array_equal(hm[0, 7, 9], hm[0, 7, 11])
    assert hm[0, 7, 11] == np.float32(math.exp(-1.0 / 8.0))


def test_continuous_location_exact_values():
    joints, valid = one(10.3, 6.6)
    hm = encode_heatmaps(joints, valid, (20, 30), sigma=1.5)
    assert np.unravel_index(hm[0].argmax(), hm[0].shape) == (7, 10)
    dx, dy = 12 - 10.3, 5 - 6.6
    assert hm[0, 5, 12] == np.float32(math.exp(-(dx * dx + dy * dy) / (2.0 * 1.5 * 1.5)))


def test_window_is_ceil_three_sigma():
    assert gaussian_radius(2.0) == 6 and gaussian_radius(1.5) == 5 and gaussian_radius(0.1) == 1
    joints, valid = one(15.0, 15.0)
    hm = encode_heatmaps(joints, valid, (31, 31), sigma=2.0)
    nz = np.argwhere(hm[0] > 0)
    assert nz.min(0).tolist() == [9, 9] and nz.max(0).tolist() == [21, 21]
    assert hm[0, 9, 9] > 0 and hm[0, 8, 15] == 0


def test_max_over_people():
    joints = np.array([[[10.0, 10.0]], [[13.0, 10.0]]])
    valid = np.ones((2, 1), dtype=bool)
    both = encode_heatmaps(joints, valid, (24, 24))
    a = encode_heatmaps(joints[:1], valid[:1], (24, 24))
    b = encode_heatmaps(joints[1:], valid[1:], (24, 24))
    np.testing.assert_array_equal(both, np.maximum(a, b))
    np.testing.assert_array_equal(both, encode_heatmaps(joints[::-1], valid, (24, 24)))


@pytest.mark.parametrize("x, inside", [(-0.5, True), (-0.51, False), (29.49, True), (29.5, False)])
def test_map_bounds_use_nearest_pixel(x, inside):
    joints, valid = one(x, 5.0)
    hm = encode_heatmaps(joints, valid, (10, 30))
    assert (hm.max() > 0) == inside


def test_invalid_and_nan_joints_skipped():
    joints = np.array([[[5.0, 5.0], [np.nan, np.nan]], [[1e30, -1e30], [4.0, 4.0]]])
    valid = np.array([[False, False], [True, True]])
    hm = encode_heatmaps(joints, valid, (12, 12))
    assert hm[0].max() == 0 and hm[1, 4, 4] == 1.0


def test_no_people_and_map_border_clipping():
    assert encode_heatmaps(np.zeros((0, 19, 2)), np.zeros((0, 19), bool), (8, 9)).shape == (19, 8, 9)
    joints, valid = one(0.0, 0.0)
    hm = encode_heatmaps(joints, valid, (4, 4))
    assert hm[0, 0, 0] == 1.0 and hm[0, 3, 3] > 0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 5), st.sampled_from([0.7, 1.0, 2.0, 2.5]))
def test_matches_brute_force(seed, n, sigma):
    rng = np.random.default_rng(seed)
    joints = rng.uniform(-4, 20, (n, 3, 2))
    valid = rng.random((n, 3)) < 0.8
    size = (15, 17)
    np.testing.assert_array_equal(encode_heatmaps(joints, valid, size, sigma),
                                  brute_force(joints, valid, size, sigma))


def test_errors():
    joints, valid = one(1.0, 1.0)
    with pytest.raises(ValueError, match="joints_map"):
        encode_heatmaps(np.zeros((1, 1, 3)), valid, (4, 4))
    with pytest.raises(ValueError, match="joints_map"):
        encode_heatmaps(np.full((1, 1, 2), np.nan), valid, (4, 4))
    with pytest.raises(TypeError, match="joints_map"):
        encode_heatmaps(np.array([[["a", "b"]]]), valid, (4, 4))
    with pytest.raises(ValueError, match="valid"):
        encode_heatmaps(joints, np.ones((2, 1), bool), (4, 4))
    with pytest.raises(TypeError, match="valid"):
        encode_heatmaps(joints, np.ones((1, 1)), (4, 4))
    with pytest.raises(ValueError, match="size"):
        encode_heatmaps(joints, valid, (0, 4))
    with pytest.raises(TypeError, match="size"):
        encode_heatmaps(joints, valid, (4.0, 4))
    with pytest.raises(TypeError, match="size"):
        encode_heatmaps(joints, valid, 4)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="sigma"):
            encode_heatmaps(joints, valid, (4, 4), sigma=bad)
    with pytest.raises(TypeError, match="sigma"):
        encode_heatmaps(joints, valid, (4, 4), sigma="2")

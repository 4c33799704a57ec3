"""Scalar arguments of the ops: huge ints, numpy scalars, bools, non-finite bone vectors.

Every bad scalar raises ``ValueError`` / ``TypeError`` naming the argument,
never an ``OverflowError`` (an int too large for a float) or pybind11's
``TypeError`` (an int too large for the C++ ``int`` / ``int64_t``), and
numpy integer / floating scalars work like Python ones.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.ops import (encode_heatmaps, encode_orpm, encode_tag_maps, group_candidates, heatmap_nms, nms_gather,
                        orpm_readout)
from ssmp3d.ops._ext import has_cpu_ext
from ssmp3d.skeleton import PANOPTIC19

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

HUGE = [10**400, -(10**400), 10**5000]  # beyond float; the last beyond int -> str conversion too
HUGE_IDS = ["1e400", "-1e400", "1e5000"]


def hm(b=1, k=2, h=6, w=6):
    return torch.rand((b, k, h, w), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("value", HUGE, ids=HUGE_IDS)
def test_huge_thresholds_are_out_of_range(value):
    with pytest.raises(ValueError, match="^threshold: expected a finite float"):
        heatmap_nms(hm(), value)
    x = hm()
    with pytest.raises(ValueError, match="^threshold: expected a finite float"):
        nms_gather(x, x, torch.zeros(1, 2, 3, 6, 6), value)


@pytest.mark.parametrize("value", [2**31, 2**63, 10**5000], ids=["2**31", "2**63", "1e5000"])
def test_num_threads_beyond_a_cpp_int(value):
    x = hm()
    calls = [lambda: heatmap_nms(x, num_threads=value),
             lambda: nms_gather(x, x, torch.zeros(1, 2, 3, 6, 6), num_threads=value),
             lambda: encode_heatmaps(np.zeros((1, 1, 2, 2)), np.ones((1, 1, 2), bool), (4, 4), num_threads=value)]
    for call in calls:
        with pytest.raises(ValueError, match="^num_threads: expected None or an int in"):
            call()


def test_numpy_scalars_work_like_python_ones():
    x = hm()
    expected = heatmap_nms(x, 0.25, 1, 5, num_threads=1)
    got = heatmap_nms(x, np.float64(0.25), np.int64(1), np.int32(5), num_threads=np.int64(1))
    for a, b in zip(got, expected):
        assert torch.equal(a, b)
    with pytest.raises(TypeError, match="^radius: expected an int, got bool"):
        heatmap_nms(x, radius=np.bool_(True))
    with pytest.raises(TypeError, match="^threshold: expected a finite float, got bool"):
        heatmap_nms(x, threshold=np.bool_(True))


def candidates():
    x = hm(k=19, h=8, w=8)
    scores, indices, counts, tags_at, _ = nms_gather(x, x, torch.zeros(1, 19, 3, 8, 8), 0.1, 1, 8)
    return dict(scores=scores, tags=tags_at, counts=counts), indices


GROUP_CASES = [
    ("tag_threshold", 10**400, ValueError, "^tag_threshold: expected a finite float > 0.0, got an int of"),
    ("min_joints", 2**63, ValueError, r"^min_joints: expected an int in the int64 range"),
    ("min_joints", 10**30, ValueError, r"^min_joints: expected an int in the int64 range"),
    ("neck", np.bool_(False), TypeError, "^neck: expected an int, got bool"),
    ("width", 2**64, ValueError, "^width: expected an int in the int64 range"),
    ("geometry_weight", 10**400, ValueError, "^geometry_weight: expected a finite float"),
    ("num_threads", 2**31, ValueError, "^num_threads: expected None or an int in"),
    ("grouping", np.array(["assign"]), ValueError, "^grouping: expected one of"),
    ("mean_bones", np.full((19, 3), np.nan), ValueError, "^mean_bones: expected finite bone vectors"),
    ("mean_bones", [["a", "b", "c"]] * 19, TypeError, r"^mean_bones: expected \[K = 19, 3\] real bone vectors"),
    ("mean_bones", [[0.1, 0.2], [0.3]], TypeError, r"^mean_bones: expected \[K = 19, 3\] real bone vectors"),
]


@pytest.mark.parametrize("name, value, exc, match", GROUP_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(GROUP_CASES)])
def test_group_candidates_scalars(name, value, exc, match):
    args, indices = candidates()
    kwargs = {**dict(neck=0, grouping="assign", indices=indices, width=8, skeleton=PANOPTIC19), name: value}
    with pytest.raises(exc, match=match):
        group_candidates(**args, **kwargs)


def test_group_candidates_largest_min_joints_keeps_nobody():
    args, _ = candidates()
    out = group_candidates(**args, neck=0, min_joints=2**63 - 1)
    assert int(out[3].sum()) > 0 and int(out[5].sum()) == 0


def readout_args():
    k = 19
    return dict(orpm=np.zeros((1, k, 3, 4, 4), np.float32), positions=np.zeros((1, 2, k, 2), np.int64),
                scores=np.ones((1, 2, k), np.float32), detected=np.ones((1, 2, k), bool),
                num_formed=np.array([2]), people=np.array([[0, 1]]), num_people=np.array([2]), skeleton=PANOPTIC19)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39])
def test_orpm_readout_refuses_non_finite_mean_bones(bad):
    mb = PANOPTIC19.mean_bones_m().astype(np.float64)
    mb[3, 1] = bad  # 1e39 is infinite as float32
    for value in (mb, torch.from_numpy(mb), mb.tolist()):
        with pytest.raises(ValueError, match="^mean_bones: expected finite bone vectors"):
            orpm_readout(**readout_args(), mean_bones=value)


READOUT_CASES = [
    ("mean_bones", [["x", "y", "z"]] * 19, TypeError, r"^mean_bones: expected \[K = 19, 3\] real bone vectors"),
    ("mean_bones", np.zeros((19, 3), complex), TypeError, "^mean_bones: expected"),
    ("readout_threshold", 10**400, ValueError, "^readout_threshold: expected a finite float"),
    ("readout_min_dist", 10**400, ValueError, "^readout_min_dist: expected a finite float"),
    ("readout", np.array(["full"]), ValueError, "^readout: expected one of"),
    ("num_threads", 2**31, ValueError, "^num_threads: expected None or an int in"),
]


@pytest.mark.parametrize("name, value, exc, match", READOUT_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(READOUT_CASES)])
def test_orpm_readout_scalars(name, value, exc, match):
    with pytest.raises(exc, match=match):
        orpm_readout(**{**readout_args(), name: value})


def test_orpm_readout_numpy_scalars():
    expected = orpm_readout(**readout_args(), readout_threshold=0.5, readout_min_dist=3.0, num_threads=1)
    got = orpm_readout(**readout_args(), readout_threshold=np.float32(0.5), readout_min_dist=np.int64(3),
                       num_threads=np.uint8(1))
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def encoder_args():
    return np.full((1, 1, 19, 2), 2.0), np.ones((1, 1, 19), bool), np.ones((1, 1))


@pytest.mark.parametrize("radius", [2**63, 2**64, 10**30], ids=["2**63", "2**64", "1e30"])
def test_encoder_radius_beyond_int64(radius):
    joints, valid, depth = encoder_args()
    with pytest.raises(ValueError, match="^radius: must be <= 2"):
        encode_tag_maps(joints, valid, depth, (4, 4), radius=radius)
    with pytest.raises(ValueError, match="^radius: must be <= 2"):
        encode_orpm(joints, np.zeros((1, 1, 19, 3)), valid, depth, skeleton=PANOPTIC19, size=(4, 4), radius=radius)


def test_encoder_largest_radius_covers_the_map():
    joints, valid, depth = encoder_args()
    big = encode_tag_maps(joints, valid, depth, (4, 5), radius=2**63 - 1)
    assert (big != 0).all() and np.array_equal(big, encode_tag_maps(joints, valid, depth, (4, 5), radius=9))


@pytest.mark.parametrize("sigma", HUGE, ids=HUGE_IDS)
def test_encoder_huge_sigma(sigma):
    joints, valid, _ = encoder_args()
    with pytest.raises(ValueError, match="^sigma: must be finite and > 0"):
        encode_heatmaps(joints, valid, (4, 4), sigma)

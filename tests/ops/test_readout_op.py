"""C++ ORPM read-out (``ssmp3d.ops.orpm_readout``) == the Python specification,
plus structural properties on random people tables (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmp3d.decode import ReadoutRule
from ssmp3d.ops import _reference, orpm_readout, skeleton_table
from ssmp3d.ops._ext import has_cpu_ext
from ssmp3d.skeleton import H36M17, PANOPTIC19

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")


@st.composite
def people_tables(draw):
    """Random formed people on a small map (so crowding is common), random kept subsets."""
    skeleton = draw(st.sampled_from([PANOPTIC19, H36M17]))
    k = skeleton.num_joints
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    b = draw(st.integers(1, 2))
    q = draw(st.integers(1, 6))
    p = draw(st.integers(1, 6))
    h, w = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    orpm = rng.normal(size=(b, k, 3, h, w)).astype(np.float32)
    positions = np.stack([rng.integers(0, w, (b, q, k)), rng.integers(0, h, (b, q, k))], -1)
    positions[rng.random((b, q, k)) < 0.1] = -7  # junk where not detected is ignored
    scores = rng.choice(np.array([0.05, 0.1, 0.1000001, 0.5, 0.9], np.float32), (b, q, k))
    detected = rng.random((b, q, k)) < draw(st.sampled_from([0.2, 0.6, 1.0]))
    detected[positions[..., 0] < 0] = False
    num_formed = rng.integers(0, q + 1, b)
    people = np.full((b, p), -1, np.int64)
    num_people = np.zeros(b, np.int64)
    for i in range(b):
        n = int(min(p, num_formed[i], rng.integers(0, p + 1)))
        people[i, :n] = rng.permutation(int(num_formed[i]))[:n]
        num_people[i] = n
    params = dict(
        skeleton=skeleton,
        readout=draw(st.sampled_from(["full", "full", "naive"])),
        readout_threshold=draw(st.sampled_from([0.1, 0.0, 0.5])),
        readout_min_dist=draw(st.sampled_from([0.0, 1.0, 1.5, 3.0, 5.0])),
        mean_bones=rng.normal(size=(k, 3)).astype(np.float32) if draw(st.booleans()) else None,
    )
    return (orpm, positions, scores, detected, num_formed, people, num_people), params


def reference(args, params):
    sk = params["skeleton"]
    mb = sk.mean_bones_m() if params["mean_bones"] is None else params["mean_bones"]
    return _reference.orpm_readout(*args, sk, params["readout"], params["readout_threshold"],
                                   params["readout_min_dist"], mb)


def check_structure(out, args, params):
    joints3d, rule, joint = out
    _, _, _, detected, _, people, num_people = args
    sk = params["skeleton"]
    k = sk.num_joints
    for i in range(people.shape[0]):
        n = int(num_people[i])
        assert (rule[i, n:] == -1).all() and (joint[i, n:] == -1).all() and (joints3d[i, n:] == 0).all()
        for slot in range(n):
            q = people[i, slot]
            for j in range(k):
                r, l = int(rule[i, slot, j]), int(joint[i, slot, j])
                if j == sk.pelvis:
                    assert r == ReadoutRule.ROOT and l == -1 and (joints3d[i, slot, j] == 0).all()
                    continue
                assert (r == ReadoutRule.MEAN) == (l == -1)
                assert (r == ReadoutRule.OWN) == (l == j)
                if l >= 0:
                    assert detected[i, q, l] and l in sk.readout_chain(j)
                    if params["readout"] == "naive":
                        assert l == j


@settings(max_examples=250, deadline=None)
@given(people_tables())
def test_random_people_equal_reference_and_are_well_formed(case):
    args, params = case
    got = orpm_readout(*args, **params)
    check_structure(got, args, params)
    want = reference(args, params)
    for name, g, e in zip(("joints3d", "rule", "joint"), got, want):
        assert g.dtype == e.dtype and g.shape == e.shape, name
        np.testing.assert_array_equal(g, e, err_msg=name)


def test_crowding_and_threads_on_a_busy_frame():
    rng = np.random.default_rng(1)
    b, q, k, h, w = 6, 25, 19, 24, 24
    args = (rng.normal(size=(b, k, 3, h, w)).astype(np.float32),
            np.stack([rng.integers(0, w, (b, q, k)), rng.integers(0, h, (b, q, k))], -1),
            rng.random((b, q, k), dtype=np.float32), rng.random((b, q, k)) < 0.8, np.full(b, q),
            np.tile(np.arange(q)[::-1], (b, 1)), np.full(b, q))
    params = dict(skeleton=PANOPTIC19, readout="full", readout_threshold=0.1, readout_min_dist=3.0,
                  mean_bones=None)
    got = orpm_readout(*args, **params, num_threads=1)
    for g, e in zip(got, reference(args, params)):
        np.testing.assert_array_equal(g, e)
    assert (got[1] == ReadoutRule.LIMB).any() and (got[1] == ReadoutRule.MEAN).any()
    for n in (2, 0):
        for g, e in zip(orpm_readout(*args, **params, num_threads=n), got):
            np.testing.assert_array_equal(g, e)
    torch_out = orpm_readout(*(torch.from_numpy(np.asarray(a)) for a in args), skeleton=PANOPTIC19)
    assert all(isinstance(t, torch.Tensor) for t in torch_out)
    for g, e in zip(torch_out, got):
        np.testing.assert_array_equal(g.numpy(), e)


def small():
    k = PANOPTIC19.num_joints
    orpm = np.zeros((1, k, 3, 6, 8), np.float32)
    pos = np.zeros((1, 2, k, 2), np.int64)
    pos[0, 0] = (1, 1)  # every joint of person 0 at (1, 1), of person 1 at (6, 4): far apart
    pos[0, 1] = (6, 4)
    scores = np.full((1, 2, k), 0.9, np.float32)
    det = np.ones((1, 2, k), bool)
    return dict(orpm=orpm, positions=pos, scores=scores, detected=det, num_formed=np.array([2]),
                people=np.array([[1, 0, -1]]), num_people=np.array([2]))


BAD = [
    (dict(people=np.array([[2, 0, -1]])), ValueError, r"people.*\[0, num_formed\)"),  # row >= num_formed
    (dict(people=np.array([[-1, 0, 0]])), ValueError, "people"),
    (dict(num_people=np.array([4])), ValueError, r"num_people.*\[0, P = 3\]"),
    (dict(num_people=np.array([-1])), ValueError, "num_people"),
    (dict(num_formed=np.array([3])), ValueError, r"num_formed.*\[0, Q = 2\]"),
    (dict(num_formed=np.array([-1])), ValueError, "num_formed"),
    (dict(num_formed=np.array([2, 2])), ValueError, "num_formed"),
    (dict(positions=np.full((1, 2, 19, 2), 8, np.int64)), ValueError, "positions.*inside"),  # x == W
    (dict(positions=np.full((1, 2, 19, 2), -1, np.int64)), ValueError, "positions.*inside"),
    (dict(positions=np.zeros((1, 2, 19, 3), np.int64)), ValueError, "positions"),
    (dict(positions=np.zeros((1, 2, 19, 2), np.float32)), TypeError, "positions"),
    (dict(scores=np.zeros((1, 3, 19), np.float32)), ValueError, "scores"),
    (dict(detected=np.ones((1, 2, 19), np.int32)), TypeError, "detected"),
    (dict(orpm=np.zeros((1, 17, 3, 6, 8), np.float32)), ValueError, "orpm"),
    (dict(orpm=np.zeros((1, 19, 2, 6, 8), np.float32)), ValueError, "orpm"),
    (dict(orpm=[0.0]), TypeError, "orpm"),
    (dict(readout="fast"), ValueError, "readout"),
    (dict(readout_threshold=float("nan")), ValueError, "readout_threshold"),
    (dict(readout_min_dist=-1.0), ValueError, "readout_min_dist"),
    (dict(mean_bones=np.zeros((17, 3))), ValueError, "mean_bones"),
    (dict(skeleton="panoptic19"), TypeError, "skeleton"),
    (dict(num_threads=-3), ValueError, "num_threads"),
]


@pytest.mark.parametrize(("change", "exc", "match"), BAD)
def test_bad_inputs(change, exc, match):
    args = {**small(), "skeleton": PANOPTIC19, **change}
    with pytest.raises(exc, match=match):
        orpm_readout(**args)


def test_out_of_range_positions_where_not_detected_are_ignored():
    args = small()
    args["detected"][0, 1, 4] = False
    args["positions"][0, 1, 4] = (-5, 99)
    rule = orpm_readout(**args, skeleton=PANOPTIC19)[1]
    assert rule[0, 0, 4] == ReadoutRule.LIMB  # person 1 (slot 0) reads its elbow elsewhere


def test_nan_only_where_read():
    args = small()
    args["orpm"][0, PANOPTIC19.pelvis] = np.nan  # never read
    args["orpm"][0, 3, :, 0, 0] = np.nan  # no joint there
    joints3d = orpm_readout(**args, skeleton=PANOPTIC19)[0]
    assert not np.isnan(joints3d).any()
    args["orpm"][0, 3, 1, 1, 1] = np.nan  # person 0 reads map 3 at (1, 1)
    with pytest.raises(ValueError, match="orpm: contains NaN at a read-out location"):
        orpm_readout(**args, skeleton=PANOPTIC19)


def op_args(args, skeleton=PANOPTIC19, naive=False):
    t = {k: torch.from_numpy(np.asarray(v)) for k, v in args.items()}
    return (t["orpm"], t["positions"], t["scores"], t["detected"], t["num_formed"], t["people"], t["num_people"],
            torch.from_numpy(skeleton_table(skeleton).copy()), skeleton.neck, skeleton.pelvis,
            torch.from_numpy(skeleton.mean_bones_m()), naive, 0.1, 3.0)


def test_custom_op_opcheck_and_compile():
    args = small()
    args["orpm"] = np.random.default_rng(0).normal(size=args["orpm"].shape).astype(np.float32)
    oa = op_args(args)
    torch.library.opcheck(torch.ops.ssmp3d.orpm_readout.default, oa)
    want = orpm_readout(**args, skeleton=PANOPTIC19)
    for g, e in zip(torch.ops.ssmp3d.orpm_readout(*oa), want):
        np.testing.assert_array_equal(g.numpy(), e)

    @torch.compile(fullgraph=True)
    def f(*a):
        joints3d, rule, joint = torch.ops.ssmp3d.orpm_readout(*a)
        return joints3d / 1000.0, rule

    j, r = f(*oa)
    np.testing.assert_array_equal(j.numpy(), want[0] / np.float32(1000.0))
    np.testing.assert_array_equal(r.numpy(), want[1])


def test_custom_op_rejects_a_bad_skeleton_table():
    args = small()
    oa = list(op_args(args))
    table = oa[7].clone()
    table[1, 0] = 99  # topological order out of range
    oa[7] = table
    with pytest.raises(ValueError, match="skeleton table"):
        torch.ops.ssmp3d.orpm_readout(*oa)
    oa[7] = table[:, :5]
    with pytest.raises(ValueError, match="skeleton_table"):
        torch.ops.ssmp3d.orpm_readout(*oa)

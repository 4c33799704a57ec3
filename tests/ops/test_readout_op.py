"""C++ ORPM read-out (``ssmp3d.ops.orpm_readout``) == the Python specification,
plus structural properties on random people tables (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ssmp3d.decoding import ReadoutRule
from ssmp3d.ops import _reference, orpm_readout, skeleton_table
from ssmp3d.ops._ext import has_cpu_ext, has_cuda_ext, load_cuda
from ssmp3d.ops.readout import CUDA_MAX_JOINTS
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

    @torch.compile(fullgraph=True)
    def g(orpm, positions, scores, detected, num_formed, people, num_people):
        joints3d, rule, joint = orpm_readout(orpm, positions, scores, detected, num_formed, people, num_people,
                                             skeleton=PANOPTIC19, readout="naive")
        return joints3d * 2.0, joint

    j, jt = g(*oa[:7])
    naive = orpm_readout(**args, skeleton=PANOPTIC19, readout="naive")
    np.testing.assert_array_equal(j.numpy(), naive[0] * np.float32(2.0))
    np.testing.assert_array_equal(jt.numpy(), naive[2])


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


# ---------------------------------------------------------------- CUDA


@pytest.mark.skipif(not has_cuda_ext(), reason="ssmp3d._C_cuda is not built")
def test_cuda_binding_checks_the_table_on_the_host():
    # Runs without a GPU: the table is checked before anything is enqueued.
    ext = load_cuda()
    assert ext.READOUT_MAX_K == CUDA_MAX_JOINTS
    sk = PANOPTIC19
    table = skeleton_table(sk).copy()
    table[1, 0] = 99
    fake = 1  # device addresses are never touched when the table is rejected
    with pytest.raises(ValueError, match="skeleton table: topological order"):
        ext.orpm_readout_cuda(fake, fake, fake, fake, fake, fake, fake, 1, 2, 2, 19, 6, 8, table.ctypes.data,
                              sk.neck, sk.pelvis, False, 0.1, 3.0, fake, 0, fake, fake, fake, fake, 0)


def on_cuda(args):
    """The data arrays of ``args`` as CUDA tensors."""
    return tuple(torch.from_numpy(np.ascontiguousarray(a)).cuda() for a in args)


def assert_same(got, want):
    for name, g, e in zip(("joints3d", "rule", "joint"), got, want):
        assert g.device.type == "cuda" and g.dtype == e.dtype and g.shape == e.shape, name
        assert g.cpu().numpy().tobytes() == e.numpy().tobytes(), name  # bit for bit, NaN and -0.0 too


def busy_frame(seed, b=4, q=25, k=19, h=24, w=24):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(b, k, 3, h, w)).astype(np.float32),
            np.stack([rng.integers(0, w, (b, q, k)), rng.integers(0, h, (b, q, k))], -1),
            rng.random((b, q, k), dtype=np.float32), rng.random((b, q, k)) < 0.8, np.full(b, q),
            np.tile(np.arange(q)[::-1], (b, 1)), rng.integers(0, q + 1, b))


SMALL_KEYS = ("orpm", "positions", "scores", "detected", "num_formed", "people", "num_people")


@pytest.mark.cuda
@pytest.mark.skipif(not (torch.cuda.is_available() and has_cuda_ext()), reason="needs a GPU and ssmp3d._C_cuda")
class TestCuda:
    @settings(max_examples=300, deadline=None)
    @given(people_tables(), st.booleans())
    def test_random_people_equal_the_cpu_op(self, case, mean_bones_on_gpu):
        args, params = case
        want = orpm_readout(*(torch.from_numpy(np.asarray(a)) for a in args), **params)
        if mean_bones_on_gpu and params["mean_bones"] is not None:
            params = {**params, "mean_bones": torch.from_numpy(params["mean_bones"]).cuda()}
        assert_same(orpm_readout(*on_cuda(args), **params), want)

    @pytest.mark.parametrize("seed", range(12))
    def test_crowds_naive_and_empty_people_equal_the_cpu_op(self, seed):
        args = list(busy_frame(seed))
        args[3][0, 3] = False  # a person with no joints
        args[6][1] = 0  # an image without people
        args[2][2, ::2] = 0.05  # unconfident joints: chains and mean bones
        for readout in ("full", "naive"):
            for dist in (0.0, 3.0, 6.5):
                params = dict(skeleton=PANOPTIC19, readout=readout, readout_min_dist=dist)
                want = orpm_readout(*(torch.from_numpy(a) for a in args), **params)
                assert_same(orpm_readout(*on_cuda(args), **params), want)
        rule = want[1].numpy()
        assert (rule == ReadoutRule.OWN).any() and (rule[1] == -1).all()

    def test_nan_only_where_read(self):
        args = small()
        args["orpm"][0, PANOPTIC19.pelvis] = np.nan
        args["orpm"][0, 3, :, 0, 0] = np.nan
        got = orpm_readout(*on_cuda(args[k] for k in SMALL_KEYS), skeleton=PANOPTIC19)
        assert not torch.isnan(got[0]).any()
        args["orpm"][0, 3, 1, 1, 1] = np.nan
        with pytest.raises(ValueError, match=r"orpm: contains NaN at a read-out location \(1 values\)"):
            orpm_readout(*on_cuda(args[k] for k in SMALL_KEYS), skeleton=PANOPTIC19)

    @pytest.mark.parametrize(("change", "exc", "match"), BAD)
    def test_bad_inputs_give_the_cpu_errors(self, change, exc, match):
        args = {**small(), "skeleton": PANOPTIC19, **change}
        args = {k: torch.from_numpy(v).cuda() if isinstance(v, np.ndarray) else v for k, v in args.items()}
        with pytest.raises(exc, match=match):
            orpm_readout(**args)

    def test_inputs_on_another_device_are_named(self):
        args = on_cuda(small()[k] for k in SMALL_KEYS)
        for i, name in enumerate(SMALL_KEYS[1:], 1):
            moved = list(args)
            moved[i] = moved[i].cpu()
            with pytest.raises(ValueError, match=f"{name}: expected a tensor on cuda"):
                orpm_readout(*moved, skeleton=PANOPTIC19)
        oa = list(op_args(small()))
        oa[:7] = args
        oa[7] = oa[7].cuda()
        with pytest.raises(ValueError, match="skeleton_table: expected a CPU tensor"):
            torch.ops.ssmp3d.orpm_readout(*oa)

    def test_runs_on_the_current_stream(self):
        args = busy_frame(7, b=8)
        want = orpm_readout(*(torch.from_numpy(a) for a in args), skeleton=PANOPTIC19)
        inputs = on_cuda(args)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            got = orpm_readout(*inputs, skeleton=PANOPTIC19)
        stream.synchronize()
        assert_same(got, want)

    def op_args_cuda(self, args, mean_bones_on_gpu=True):
        oa = list(op_args(args))
        oa[:7] = on_cuda(args[k] for k in SMALL_KEYS)
        if mean_bones_on_gpu:
            oa[10] = oa[10].cuda()
        return tuple(oa)

    def test_opcheck_and_compile(self):
        args = small()
        args["orpm"] = np.random.default_rng(0).normal(size=args["orpm"].shape).astype(np.float32)
        want = orpm_readout(**args, skeleton=PANOPTIC19)
        for on_gpu in (True, False):
            oa = self.op_args_cuda(args, on_gpu)
            torch.library.opcheck(torch.ops.ssmp3d.orpm_readout.default, oa)
            assert_same(torch.ops.ssmp3d.orpm_readout(*oa), tuple(torch.from_numpy(a) for a in want))

        @torch.compile(fullgraph=True)
        def f(*a):
            joints3d, rule, joint = torch.ops.ssmp3d.orpm_readout(*a)
            return joints3d * 2.0, rule + 1  # exact arithmetic in any generated kernel

        j, r = f(*self.op_args_cuda(args))
        assert j.device.type == "cuda" and r.device.type == "cuda"
        np.testing.assert_array_equal(j.cpu().numpy(), want[0] * np.float32(2.0))
        np.testing.assert_array_equal(r.cpu().numpy(), want[1] + 1)

    def test_cuda_graph_capture_and_replay(self):
        first, second = busy_frame(21), busy_frame(22)
        static = on_cuda(first)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            orpm_readout(*static, skeleton=PANOPTIC19)  # warm-up outside the capture
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = orpm_readout(*static, skeleton=PANOPTIC19)
        for case in (first, second):
            for dst, src in zip(static, case):
                dst.copy_(torch.from_numpy(src))
            graph.replay()
            torch.cuda.synchronize()
            assert_same(out, orpm_readout(*(torch.from_numpy(a) for a in case), skeleton=PANOPTIC19))
        # The checks that read the device are skipped in the capture: replay never raises.
        static[0][0].fill_(float("nan"))
        graph.replay()
        torch.cuda.synchronize()
        assert torch.isnan(out[0][0]).any()
        with pytest.raises(ValueError, match="orpm: contains NaN"):
            orpm_readout(*static, skeleton=PANOPTIC19)

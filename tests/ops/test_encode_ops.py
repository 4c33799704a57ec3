"""Batched target encoders (DESIGN.md section 5): compiled ops == numpy reference, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ssmp3d.data.synthetic import SceneConfig, sample_scenes
from ssmp3d.encode import TargetConfig, encode_batch, encode_scene
from ssmp3d.encode.heatmaps import exp_to_float32
from ssmp3d.ops import _reference, encode_heatmaps, encode_orpm, encode_tag_maps
from ssmp3d.ops.encode import readout_chains
from ssmp3d.oracle import stack_maps
from ssmp3d.skeleton import H36M17, PANOPTIC19

SKELETONS = [PANOPTIC19, H36M17]

#: A sigma for which numpy's exp and the C library's round to different float32
#: values one pixel from a joint on a pixel centre (found by search).
ADVERSARIAL_SIGMA = 2.678150910658624


# ---------------------------------------------------------------- helpers


def random_batch(rng: np.random.Generator, b: int, n: int, k: int, h: int, w: int) -> dict:
    """Joints inside and outside the map (NaN where invalid), tied depths, overlapping discs."""
    centre = rng.uniform([-0.2 * w, -0.2 * h], [1.2 * w, 1.2 * h], size=(b, n, 1, 2))
    joints = centre + rng.normal(scale=0.15 * max(h, w), size=(b, n, k, 2))
    joints[rng.random((b, n, k)) < 0.1] = rng.uniform(-0.5, 0.5, 2)  # near the (0, 0) border
    valid = rng.random((b, n, k)) < 0.8
    joints[~valid] = np.nan
    depth = rng.integers(0, 3, size=(b, n)).astype(np.float64) * 1000.0  # many ties
    bones = rng.normal(scale=0.3, size=(b, n, k, 3))
    bones_valid = rng.random((b, n, k)) < 0.85
    bones[~bones_valid] = np.nan
    tags = rng.normal(scale=5.0, size=(b, n))
    return {"joints": joints, "valid": valid, "depth": depth, "bones": bones, "bones_valid": bones_valid, "tags": tags}


def random_shape(rng: np.random.Generator) -> tuple[int, int, int, int]:
    """``(B, N, H, W)``: B 1..4, N 0..7, odd sizes, 1 x W and H x 1 maps now and then."""
    h, w = (int(v) for v in rng.integers(1, 40, size=2))
    shape = rng.integers(0, 6)
    if shape == 0:
        h = 1
    elif shape == 1:
        w = 1
    return int(rng.integers(1, 5)), int(rng.integers(0, 8)), h, w


def assert_equal(got, expected, name: str) -> None:
    got = np.asarray(got)
    assert got.dtype == expected.dtype == np.float32, name
    assert got.shape == expected.shape, f"{name}: {got.shape} != {expected.shape}"
    bad = np.argwhere(got != expected)
    if bad.size:
        first = tuple(bad[0])
        raise AssertionError(f"{name}: {len(bad)} values differ, first at {first}: {got[first]} != {expected[first]}")


# ---------------------------------------------------------------- equality with the reference


@pytest.mark.parametrize("seed", range(12))
def test_heatmaps_equal_reference(seed):
    rng = np.random.default_rng(seed)
    for _ in range(8):
        b, n, h, w = random_shape(rng)
        d = random_batch(rng, b, n, int(rng.integers(1, 6)), h, w)
        sigma = float(rng.uniform(0.5, 4.0))
        got = encode_heatmaps(d["joints"], d["valid"], (h, w), sigma)
        assert_equal(got, _reference.encode_heatmaps(d["joints"], d["valid"], (h, w), sigma), "heatmaps")


@pytest.mark.parametrize("skeleton", SKELETONS, ids=lambda s: s.name)
@pytest.mark.parametrize("seed", range(3))
def test_orpm_equal_reference(seed, skeleton):
    rng = np.random.default_rng(100 + seed)
    k = skeleton.num_joints
    for radius in range(5):
        b, n, h, w = random_shape(rng)
        d = random_batch(rng, b, n, k, h, w)
        got = encode_orpm(d["joints"], d["bones"], d["valid"], d["depth"], skeleton=skeleton, size=(h, w),
                          radius=radius, bones_valid=d["bones_valid"])
        exp = _reference.encode_orpm(d["joints"], d["bones"], d["valid"], d["depth"], skeleton, (h, w),
                                     radius, d["bones_valid"])
        assert_equal(got[0], exp[0], "orpm")
        assert_equal(got[1], exp[1], "weight")


@pytest.mark.parametrize("seed", range(4))
def test_tag_maps_equal_reference(seed):
    rng = np.random.default_rng(200 + seed)
    for radius in range(5):
        b, n, h, w = random_shape(rng)
        d = random_batch(rng, b, n, int(rng.integers(1, 6)), h, w)
        got = encode_tag_maps(d["joints"], d["valid"], d["depth"], (h, w), radius=radius)
        exp = _reference.encode_tag_maps(d["joints"], d["valid"], d["depth"], (h, w), None, radius)
        assert_equal(got, exp, "oracle tags")
        got = encode_tag_maps(d["joints"], d["valid"], d["depth"], (h, w), d["tags"], radius)
        exp = _reference.encode_tag_maps(d["joints"], d["valid"], d["depth"], (h, w), d["tags"], radius)
        assert_equal(got, exp, "given tags")


def test_depth_ties_and_overlap():
    """Two people on the same pixels: nearer wins; at equal depth the higher index wins."""
    joints = np.full((1, 3, PANOPTIC19.num_joints, 2), 5.0)
    valid = np.ones((1, 3, PANOPTIC19.num_joints), bool)
    bones = np.broadcast_to(np.array([1.0, 2.0, 3.0])[:, None, None], (3, PANOPTIC19.num_joints, 3)).copy()
    bones = bones.reshape(1, 3, PANOPTIC19.num_joints, 3)
    for depth, winner in (([2.0, 1.0, 3.0], 1), ([1.0, 1.0, 3.0], 1), ([3.0, 3.0, 3.0], 2)):
        d = np.array([depth])
        tags = encode_tag_maps(joints, valid, d, (11, 11), radius=1)
        assert tags[0, 0, 5, 5] == 3.0 * winner + 1.0
        orpm, weight = encode_orpm(joints, bones, valid, d, skeleton=PANOPTIC19, size=(11, 11))
        assert orpm[0, 0, 0, 5, 5] == winner + 1.0 and weight[0, 0, 5, 5] == 1.0


def test_exp_rounding_matches_c_library():
    """Where numpy's exp rounds to another float32 than libm's, both encoders follow libm.

    Whether numpy's exp differs from libm on this case depends on the numpy
    build (its SIMD exp); the encoders must follow libm either way.
    """
    a = np.array([-1.0 / ((2.0 * ADVERSARIAL_SIGMA) * ADVERSARIAL_SIGMA)])
    libm = np.float32(math.exp(a[0]))
    assert exp_to_float32(a)[0] == libm
    joints = np.array([[[[10.0, 10.0]]]])
    valid = np.ones((1, 1, 1), bool)
    got = encode_heatmaps(joints, valid, (21, 21), ADVERSARIAL_SIGMA)
    assert got[0, 0, 10, 11] == libm
    assert_equal(got, _reference.encode_heatmaps(joints, valid, (21, 21), ADVERSARIAL_SIGMA), "heatmaps")
    rng = np.random.default_rng(0)
    a = -rng.uniform(0.0, 60.0, 200_000)
    assert np.array_equal(exp_to_float32(a), np.array([math.exp(v) for v in a]).astype(np.float32))


@pytest.mark.parametrize("skeleton", SKELETONS, ids=lambda s: s.name)
def test_oracle_scenes_all_backends_equal(skeleton):
    scenes = sample_scenes(10, 7, SceneConfig.crowded(max_people=20), skeleton)
    cfg = TargetConfig(sigma=2.0, orpm_radius=2, tag_radius=1)
    fast = encode_batch(scenes, skeleton, cfg, backend="cpu")
    slow = encode_batch(scenes, skeleton, cfg, backend="python")
    assert fast.num_people.max() > 10
    for f in ("heatmaps", "tag_maps", "orpm", "orpm_weight"):
        assert_equal(getattr(fast, f), getattr(slow, f), f)
    assert np.array_equal(fast.tag_indices, slow.tag_indices)
    for i, scene in enumerate(scenes):
        t = encode_scene(scene, skeleton, cfg)
        n = scene.num_people
        assert_equal(fast.heatmaps[i], t.heatmaps, "heatmaps")
        assert_equal(fast.orpm[i], t.orpm, "orpm")
        assert_equal(fast.orpm_weight[i], t.orpm_weight, "weight")
        assert_equal(fast.tag_maps[i], t.tag_maps, "tags")
        assert np.array_equal(fast.tag_indices[i, :n], t.tag_indices)
        assert np.array_equal(fast.joints_map[i, :n], t.joints_map, equal_nan=True)
        assert not fast.tag_indices[i, n:].any() and np.isnan(fast.joints_map[i, n:]).all()
    heat, tags, orpm = stack_maps(scenes, skeleton, cfg)
    assert torch.equal(heat, torch.from_numpy(slow.heatmaps))
    assert torch.equal(tags, torch.from_numpy(slow.tag_maps))
    assert torch.equal(orpm, torch.from_numpy(slow.orpm))


def test_encode_batch_errors():
    scenes = sample_scenes(2, 0, SceneConfig.crowded(max_people=4))
    with pytest.raises(ValueError, match="backend"):
        encode_batch(scenes, backend="cuda")
    with pytest.raises(ValueError, match="at least one scene"):
        encode_batch([])
    with pytest.raises(TypeError, match="scenes"):
        encode_batch(scenes[0])
    with pytest.raises(TypeError, match="scene"):
        encode_batch([scenes[0], "x"])


# ---------------------------------------------------------------- threads, kinds, no people


def test_threads_do_not_change_results():
    rng = np.random.default_rng(5)
    d = random_batch(rng, 4, 12, 19, 64, 48)
    runs = []
    for threads in (1, 2, 3, 0):
        runs.append((
            encode_heatmaps(d["joints"], d["valid"], (64, 48), 1.5, num_threads=threads),
            *encode_orpm(d["joints"], d["bones"], d["valid"], d["depth"], skeleton=PANOPTIC19, size=(64, 48),
                         bones_valid=d["bones_valid"], num_threads=threads),
            encode_tag_maps(d["joints"], d["valid"], d["depth"], (64, 48), num_threads=threads),
        ))
    for run in runs[1:]:
        for got, exp in zip(run, runs[0]):
            assert np.array_equal(got, exp)


def test_torch_in_torch_out_and_no_people():
    rng = np.random.default_rng(6)
    d = random_batch(rng, 2, 5, 19, 20, 30)
    t = {k: torch.from_numpy(v) for k, v in d.items()}
    heat = encode_heatmaps(t["joints"], t["valid"].to(torch.uint8), (20, 30))
    assert isinstance(heat, torch.Tensor) and heat.dtype == torch.float32
    assert np.array_equal(heat.numpy(), encode_heatmaps(d["joints"], d["valid"], (20, 30)))
    # non-contiguous and float32 joints
    jt = t["joints"].float().transpose(0, 1).contiguous().transpose(0, 1)
    assert not jt.is_contiguous()
    assert np.array_equal(encode_tag_maps(jt, t["valid"], t["depth"], (20, 30)).numpy(),
                          _reference.encode_tag_maps(jt.numpy(), d["valid"], d["depth"], (20, 30)))
    orpm, weight = encode_orpm(t["joints"], t["bones"], t["valid"], t["depth"], skeleton=PANOPTIC19,
                               size=(20, 30), bones_valid=t["bones_valid"])
    assert isinstance(orpm, torch.Tensor) and orpm.shape == (2, 19, 3, 20, 30) and weight.shape == (2, 19, 20, 30)
    # N = 0 people: zero maps
    z = np.zeros((3, 0, 19, 2))
    zv = np.zeros((3, 0, 19), bool)
    assert not encode_heatmaps(z, zv, (7, 9)).any()
    o, wt = encode_orpm(z, np.zeros((3, 0, 19, 3)), zv, np.zeros((3, 0)), skeleton=PANOPTIC19, size=(7, 9))
    assert o.shape == (3, 19, 3, 7, 9) and not o.any() and not wt.any()
    assert not encode_tag_maps(z, zv, np.zeros((3, 0)), (7, 9)).any()


def test_readout_chains():
    for sk in SKELETONS:
        ch = readout_chains(sk)
        assert ch.shape == (sk.num_joints, sk.num_joints)
        for m in range(sk.num_joints):
            chain = sk.readout_chain(m)
            assert tuple(ch[m, : len(chain)]) == chain and (ch[m, len(chain):] == -1).all()


# ---------------------------------------------------------------- custom ops


def _op_args(seed: int = 3):
    rng = np.random.default_rng(seed)
    d = random_batch(rng, 2, 4, 19, 16, 12)
    d["bones"][~d["bones_valid"]] = 0.0  # opcheck compares outputs with allclose; keep inputs tame
    t = {k: torch.from_numpy(v) for k, v in d.items()}
    return d, t


def test_opcheck():
    _d, t = _op_args()
    torch.library.opcheck(torch.ops.ssmp3d.encode_heatmaps.default, (t["joints"], t["valid"], 16, 12, 2.0))
    torch.library.opcheck(torch.ops.ssmp3d.encode_orpm.default,
                          (t["joints"], t["bones"], t["valid"], t["bones_valid"], t["depth"],
                           torch.from_numpy(readout_chains(PANOPTIC19)), 16, 12, 2))
    torch.library.opcheck(torch.ops.ssmp3d.encode_tag_maps.default,
                          (t["joints"], t["valid"], t["depth"], t["tags"], 16, 12, 1))


@pytest.mark.parametrize("backend", ["inductor", "aot_eager"])
def test_torch_compile_fullgraph(backend):
    d, t = _op_args(4)

    @torch.compile(fullgraph=True, backend=backend)
    def run(joints, valid, bones, bones_valid, depth, tags):
        heat = encode_heatmaps(joints, valid, (16, 12), 1.5)
        orpm, weight = encode_orpm(joints, bones, valid, depth, skeleton=PANOPTIC19, size=(16, 12),
                                   bones_valid=bones_valid)
        oracle = encode_tag_maps(joints, valid, depth, (16, 12))
        given = torch.ops.ssmp3d.encode_tag_maps(joints, valid, depth, tags, 16, 12, 2)
        return heat * 1.0, orpm, weight, oracle, given

    heat, orpm, weight, oracle, given = run(t["joints"], t["valid"], t["bones"], t["bones_valid"], t["depth"],
                                            t["tags"])
    assert_equal(heat.numpy(), encode_heatmaps(d["joints"], d["valid"], (16, 12), 1.5), "heatmaps")
    exp = encode_orpm(d["joints"], d["bones"], d["valid"], d["depth"], skeleton=PANOPTIC19, size=(16, 12),
                      bones_valid=d["bones_valid"])
    assert_equal(orpm.numpy(), exp[0], "orpm")
    assert_equal(weight.numpy(), exp[1], "weight")
    assert_equal(oracle.numpy(), encode_tag_maps(d["joints"], d["valid"], d["depth"], (16, 12)), "oracle")
    assert_equal(given.numpy(), encode_tag_maps(d["joints"], d["valid"], d["depth"], (16, 12), d["tags"]), "tags")


# ---------------------------------------------------------------- bad input


def _good():
    rng = np.random.default_rng(9)
    d = random_batch(rng, 2, 3, 19, 10, 10)
    d["bones"][~d["bones_valid"]] = 0.0
    return d


def _heat(d, **kw):
    args = {"joints_map": d["joints"], "valid": d["valid"], "size": (10, 10), "sigma": 2.0}
    args.update(kw)
    return encode_heatmaps(**args)


def _orpm(d, **kw):
    args = {"joints_map": d["joints"], "bones_m": d["bones"], "valid": d["valid"], "depth": d["depth"],
            "skeleton": PANOPTIC19, "size": (10, 10), "radius": 2, "bones_valid": d["bones_valid"]}
    args.update(kw)
    return encode_orpm(**args)


def _tags(d, **kw):
    args = {"joints_map": d["joints"], "valid": d["valid"], "depth": d["depth"], "size": (10, 10),
            "tag_values": d["tags"], "radius": 2}
    args.update(kw)
    return encode_tag_maps(**args)


BAD = [
    # (encoder, overrides from the good inputs, exception, message)
    (_heat, lambda d: {"joints_map": d["joints"][0]}, ValueError, r"joints_map: expected shape \[B, N, K, 2\]"),
    (_heat, lambda d: {"joints_map": d["joints"][..., :1]}, ValueError, "joints_map: expected shape"),
    (_heat, lambda d: {"joints_map": d["joints"].astype(complex)}, TypeError, "joints_map: expected a real"),
    (_heat, lambda d: {"joints_map": np.zeros((0, 3, 19, 2)), "valid": np.zeros((0, 3, 19), bool)}, ValueError,
     "non-empty batch"),
    (_heat, lambda d: {"joints_map": np.zeros((2, 3, 0, 2)), "valid": np.zeros((2, 3, 0), bool)}, ValueError,
     "non-empty batch"),
    (_heat, lambda d: {"valid": d["valid"][:, :2]}, ValueError, r"valid: expected shape \(2, 3, 19\)"),
    (_heat, lambda d: {"valid": d["valid"] * 2}, ValueError, "valid: integer flags must be 0 or 1"),
    (_heat, lambda d: {"valid": d["valid"].astype(float)}, TypeError, "valid: expected a bool"),
    (_heat, lambda d: {"joints_map": np.where(np.isnan(d["joints"]), np.inf, d["joints"]),
                           "valid": np.ones((2, 3, 19), bool)}, ValueError, "finite coordinates"),
    (_heat, lambda d: {"sigma": -1.0}, ValueError, "sigma: must be finite and > 0"),
    (_heat, lambda d: {"sigma": 0.0}, ValueError, "sigma"),
    (_heat, lambda d: {"sigma": float("nan")}, ValueError, "sigma"),
    (_heat, lambda d: {"sigma": "2"}, TypeError, "sigma"),
    (_heat, lambda d: {"size": (0, 10)}, ValueError, "size: H and W must be positive"),
    (_heat, lambda d: {"size": (10,)}, TypeError, "size"),
    (_heat, lambda d: {"size": (10.0, 10)}, TypeError, "size"),
    (_heat, lambda d: {"size": (1 << 16, 1 << 16)}, ValueError, r"H \* W must be <= 2\*\*30"),
    (_heat, lambda d: {"size": (1 << 15, 1 << 15)}, ValueError, "more than 2\\*\\*34 values"),
    (_heat, lambda d: {"num_threads": -1}, ValueError, "num_threads"),
    (_heat, lambda d: {"num_threads": 1.5}, TypeError, "num_threads"),
    (_heat, lambda d: {"joints_map": torch.zeros(2, 3, 19, 2, device="meta"),
                           "valid": torch.zeros(2, 3, 19, dtype=torch.bool)}, ValueError, "joints_map: expected a CPU or CUDA tensor"),
    (_heat, lambda d: {"valid": torch.zeros(2, 3, 19, dtype=torch.bool, device="meta")}, ValueError,
     "valid: expected a CPU tensor"),
    (_orpm, lambda d: {"radius": -1}, ValueError, "radius: must be >= 0"),
    (_orpm, lambda d: {"radius": 1.0}, TypeError, "radius"),
    (_orpm, lambda d: {"skeleton": H36M17}, ValueError, "skeleton 'h36m17' has 17 joints, got K=19"),
    (_orpm, lambda d: {"skeleton": "panoptic"}, TypeError, "skeleton: expected a Skeleton"),
    (_orpm, lambda d: {"bones_m": d["bones"][..., :2]}, ValueError, r"bones_m: expected shape \[B, N, K, 3\]"),
    (_orpm, lambda d: {"bones_m": d["bones"][:1]}, ValueError, r"bones_m: expected shape \(2, 3, 19, 3\)"),
    (_orpm, lambda d: {"bones_valid": None, "bones_m": np.where(d["bones_valid"][..., None], d["bones"], np.nan)},
     ValueError, "bones_m: bone vectors must be finite"),
    (_orpm, lambda d: {"bones_valid": d["bones_valid"][0]}, ValueError, "bones_valid: expected shape"),
    (_orpm, lambda d: {"depth": d["depth"][:, :2]}, ValueError, r"depth: expected shape \(2, 3\)"),
    (_orpm, lambda d: {"depth": d["depth"][0]}, ValueError, r"depth: expected shape \[B, N\]"),
    (_orpm, lambda d: {"depth": d["depth"] * np.nan}, ValueError, "depth: must be finite"),
    (_tags, lambda d: {"tag_values": d["tags"][:, :1]}, ValueError, r"tag_values: expected shape \(2, 3\)"),
    (_tags, lambda d: {"tag_values": d["tags"] + np.inf}, ValueError, "tag_values: must be finite"),
    (_tags, lambda d: {"depth": np.array(["a"] * 6).reshape(2, 3)}, TypeError, "depth: expected a real"),
    (_tags, lambda d: {"radius": -3}, ValueError, "radius"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_input(case):
    encoder, overrides, exc, message = BAD[case]
    d = _good()
    with pytest.raises(exc, match=message):
        encoder(d, **overrides(d))


def test_good_inputs_pass():
    d = _good()
    _heat(d), _orpm(d), _tags(d)


@pytest.mark.parametrize("chains, message", [
    (np.full((19, 19), 19), r"chains: entries must be joint indices in \[0, 19\)"),
    (np.full((19, 19), -2), "chains: entries"),
    (np.zeros((18, 19), np.int64), r"chains: expected shape \[K=19"),
    (np.zeros((19, 0), np.int64), "chains: expected shape"),
    (np.zeros((19, 3)), "chains: expected an integer"),
])
def test_bad_chains_through_the_custom_op(chains, message):
    _, t = _op_args()
    with pytest.raises((ValueError, TypeError), match=message):
        torch.ops.ssmp3d.encode_orpm(t["joints"], t["bones"], t["valid"], t["bones_valid"], t["depth"],
                                     torch.from_numpy(chains), 16, 12, 2)


def test_custom_op_checks_values():
    _, t = _op_args()
    with pytest.raises(ValueError, match="sigma"):
        torch.ops.ssmp3d.encode_heatmaps(t["joints"], t["valid"], 16, 12, -1.0)
    with pytest.raises(ValueError, match="size"):
        torch.ops.ssmp3d.encode_tag_maps(t["joints"], t["valid"], t["depth"], t["tags"], 0, 12, 1)
    with pytest.raises(ValueError, match="radius"):
        torch.ops.ssmp3d.encode_tag_maps(t["joints"], t["valid"], t["depth"], t["tags"], 16, 12, -1)
    bad = t["joints"].clone()
    bad[t["valid"]] = float("nan")
    with pytest.raises(ValueError, match="finite coordinates"):
        torch.ops.ssmp3d.encode_heatmaps(bad, t["valid"], 16, 12, 2.0)

"""The ``cpu`` backend equals the ``python`` reference decoder on thousands of frames.

Random frames (noise, quantised plateaus, people-like blobs, all-equal tags,
empty maps, multi-dimensional tags) under many configurations, and oracle
frames of crowded synthetic scenes (up to 20+ people), clean and with noise.
Equality is exact: same people, joints, scores, peaks, 3D, read-out rules and
sources, tags and errors.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from ssmp3d.data.synthetic import SceneConfig, sample_scenes
from ssmp3d.decoding import DecodeConfig, available_backends, decode
from ssmp3d.encode import TargetConfig
from ssmp3d.geometry import MapTransform
from ssmp3d.oracle import stack_maps
from ssmp3d.ops import skeleton_table
from ssmp3d.ops._ext import has_cpu_ext
from ssmp3d.skeleton import H36M17, PANOPTIC19

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

FIELDS = ("joints2d", "scores", "detected", "peaks", "joints3d", "readout_rule", "readout_joint",
          "person_scores", "tags", "num_people")


def assert_same(ref, got, context=""):
    for f in FIELDS:
        a, b = getattr(ref, f), getattr(got, f)
        assert a.dtype == b.dtype and a.shape == b.shape, f"{f}: {a.dtype}{a.shape} != {b.dtype}{b.shape} {context}"
        if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            bad = np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b))
            raise AssertionError(f"{f} differs at {bad[:5].tolist()} {context}")


def both(hm, tg, om, config=DecodeConfig(), **kw):
    ref = decode(hm, tg, om, config, backend="python", **kw)
    got = decode(hm, tg, om, config, backend="cpu", **kw)
    return ref, got


# ----------------------------------------------------------------------------
# Random frames.


def random_frames(rng: np.random.Generator, b: int, kind: str, k: int = 19, h: int = 32, w: int = 32, d: int = 1):
    """``heatmaps [B, K, H, W]``, ``tags [B, K, (D,) H, W]``, ``orpm [B, K, 3, H, W]`` float32."""
    om = rng.normal(scale=0.3, size=(b, k, 3, h, w)).astype(np.float32)
    tg = rng.normal(scale=2.0, size=(b, k, d, h, w)).astype(np.float32)
    if kind == "noise":
        hm = rng.random((b, k, h, w), dtype=np.float32)
    elif kind == "plateaus":  # few levels: ties in NMS, scores, person scores
        hm = (rng.integers(0, 4, (b, k, h, w)) / 3).astype(np.float32)
        tg = np.round(tg)
    elif kind == "equal_tags":
        hm = rng.random((b, k, h, w), dtype=np.float32) ** 3
        tg[:] = 0.5
    elif kind == "empty":
        hm = np.zeros((b, k, h, w), np.float32)
        if rng.random() < 0.5:
            hm[:, rng.integers(k), rng.integers(h), rng.integers(w)] = 0.9  # one lone joint at most
    elif kind == "blobs":  # people-like: one peak per joint, a tag per person plus noise
        hm = np.zeros((b, k, h, w), np.float32)
        yy, xx = np.mgrid[:h, :w]
        for i in range(b):
            for p in range(int(rng.integers(0, 25))):
                c = rng.uniform(4, [w - 4, h - 4])
                tag = 1.5 * p + rng.normal(scale=0.2, size=d)
                for j in range(k):
                    if rng.random() < 0.15:
                        continue
                    x, y = np.clip(np.round(c + rng.normal(scale=4, size=2)), 0, [w - 1, h - 1]).astype(int)
                    peak = np.float32(rng.choice([0.5, 0.75, 1.0]) if rng.random() < 0.5 else rng.uniform(0.2, 1))
                    d2 = (xx - x) ** 2 + (yy - y) ** 2
                    hm[i, j] = np.maximum(hm[i, j], peak * np.exp(-d2 / 4.0).astype(np.float32))
                    disc = d2 <= 2
                    tg[i, j][:, disc] = (tag + rng.normal(scale=0.1, size=d))[:, None]
    else:
        raise ValueError(kind)
    return hm, (tg[:, :, 0] if d == 1 else tg), om


PAPER = {"grouping": "paper", "person_score": "detected"}
CONFIGS = [
    # The paper's greedy, as before the assignment strategy existed.
    DecodeConfig(**PAPER),
    DecodeConfig(min_joints=1, **PAPER),
    DecodeConfig(readout="naive", **PAPER),
    DecodeConfig(max_people=3, min_joints=3, **PAPER),
    DecodeConfig(tag_threshold=0.3, readout_min_dist=0.0, **PAPER),
    DecodeConfig(tag_threshold=3.0, readout_min_dist=6.5, readout_threshold=0.5, **PAPER),
    DecodeConfig(max_candidates=5, nms_radius=2, refine=False, **PAPER),
    DecodeConfig(nms_radius=0, det_threshold=0.6, min_joints=1, max_candidates=64, **PAPER),
    # The assignment strategy (the default) and the person-score options.
    DecodeConfig(),
    DecodeConfig(geometry_weight=0.0, min_joints=1, person_score="detected"),
    DecodeConfig(tag_threshold=3.0, geometry_weight=1.0, max_people=3, readout="naive"),
    DecodeConfig(tag_threshold=0.3, min_person_score=0.05, readout_min_dist=0.0),
    DecodeConfig(nms_radius=0, det_threshold=0.6, min_joints=1, max_candidates=64, max_people=8),
]
KINDS = ["noise", "plateaus", "equal_tags", "empty", "blobs"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ci", range(len(CONFIGS)))
def test_random_frames_equal_reference(kind, ci):
    config = CONFIGS[ci]
    rng = np.random.default_rng(100 * ci + KINDS.index(kind))
    # The assignment strategy's reference is slower (a Python Hungarian solver): fewer frames each.
    batch = 48 if config.grouping == "paper" else 12
    frames = 0
    for d in (1, 2) if kind in ("noise", "blobs") else (1,):
        hm, tg, om = random_frames(rng, batch, kind, d=d)
        ref, got = both(hm, tg, om, config)
        assert_same(ref, got, f"kind={kind} config={config} d={d}")
        frames += hm.shape[0]
    assert frames >= batch


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_many_more_random_frames(seed):
    rng = np.random.default_rng(10_000 + seed)
    for kind in KINDS:
        for config in CONFIGS:
            hm, tg, om = random_frames(rng, 64, kind, d=int(rng.integers(1, 4)), h=int(rng.integers(8, 48)))
            assert_same(*both(hm, tg, om, config), f"seed={seed} kind={kind} config={config}")


def test_h36m_skeleton_and_a_transform():
    rng = np.random.default_rng(5)
    hm, tg, om = random_frames(rng, 32, "blobs", k=H36M17.num_joints)
    tf = MapTransform(affine=np.array([[0.5, 0.1, 10.0], [0.0, 0.25, -3.0]]), stride=8)
    for config in CONFIGS[:2] + CONFIGS[8:10]:  # both strategies
        ref, got = both(hm, tg, om, config, skeleton=H36M17, transform=tf)
        assert_same(ref, got, str(config))


def test_mean_bones_and_input_kinds():
    rng = np.random.default_rng(6)
    hm, tg, om = random_frames(rng, 8, "blobs")
    config = DecodeConfig(mean_bones=tuple(map(tuple, rng.normal(size=(19, 3)).tolist())))
    ref = decode(hm, tg, om, config, backend="python")
    variants = [
        (torch.from_numpy(hm), torch.from_numpy(tg), torch.from_numpy(om)),
        (hm.astype(np.float64), tg.astype(np.float64), om.astype(np.float64)),
        (torch.from_numpy(hm).transpose(2, 3).contiguous().transpose(2, 3), tg.astype(">f4"),
         torch.from_numpy(om).requires_grad_(True)),
    ]
    for v in variants:
        assert_same(ref, decode(*v, config, backend="cpu"))
    for dtype in (torch.float16, torch.bfloat16):
        v = [torch.from_numpy(x).to(dtype) for x in (hm, tg, om)]
        assert_same(decode(*v, config), decode(*v, config, backend="cpu"), str(dtype))


# ----------------------------------------------------------------------------
# Oracle frames (ground-truth maps of crowded synthetic scenes).


def oracle_frames(n: int, seed: int, max_people: int, stride: int):
    cfg = replace(SceneConfig.crowded(max_people=max_people), min_people=max(1, max_people // 2))
    scenes = sample_scenes(n, seed, cfg, PANOPTIC19)
    return stack_maps(scenes, PANOPTIC19, TargetConfig(stride=stride))


def perturb(maps, seed: int, scale: float):
    gen = torch.Generator().manual_seed(seed)
    hm, tg, om = maps
    return (hm + scale * torch.rand(hm.shape, generator=gen) * (torch.rand(hm.shape, generator=gen) < 0.05),
            tg + 3 * scale * torch.randn(tg.shape, generator=gen), om + scale * torch.randn(om.shape, generator=gen))


@pytest.fixture(scope="module")
def oracle_64():
    return oracle_frames(240, seed=1, max_people=24, stride=8)


@pytest.mark.parametrize("noise", [0.0, 0.05, 0.3])
def test_oracle_frames_equal_reference(oracle_64, noise):
    maps = oracle_64 if noise == 0 else perturb(oracle_64, 7, noise)
    for config in (DecodeConfig(**PAPER), DecodeConfig(readout="naive", min_joints=1, **PAPER), DecodeConfig(),
                   DecodeConfig(readout="naive", min_joints=1, min_person_score=0.1)):
        m = maps if config.grouping == "paper" else tuple(x[:60] for x in maps)
        ref, got = both(*m, config)
        assert_same(ref, got, f"noise={noise} {config}")
        if noise == 0:
            assert ref.num_people.max() >= 20


def test_oracle_frames_full_size():
    maps = oracle_frames(16, seed=2, max_people=22, stride=4)
    for m in (maps, perturb(maps, 3, 0.1)):
        assert_same(*both(*m))
        assert_same(*both(*m, DecodeConfig(**PAPER)))


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_many_more_oracle_frames(seed):
    maps = oracle_frames(200, seed=100 + seed, max_people=28, stride=4)
    for noise in (0.0, 0.02, 0.2):
        m = maps if noise == 0 else perturb(maps, seed, noise)
        for config in CONFIGS:
            assert_same(*both(*m, config), f"noise={noise} {config}")


# ----------------------------------------------------------------------------
# Threads, errors, availability.


def test_results_do_not_depend_on_threads():
    rng = np.random.default_rng(8)
    hm, tg, om = random_frames(rng, 40, "blobs")
    ref = decode(hm, tg, om, backend="cpu", num_threads=1)
    for n in (2, 3, 0, None):
        assert_same(ref, decode(hm, tg, om, backend="cpu", num_threads=n), f"num_threads={n}")


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_nan_policy(backend):
    rng = np.random.default_rng(9)
    hm = np.zeros((3, 19, 16, 16), np.float32)
    hm[:, :, 4, 4] = 0.9  # one person per image, every joint at (4, 4)
    tg = np.zeros((3, 19, 16, 16), np.float32)
    om = rng.normal(size=(3, 19, 3, 16, 16)).astype(np.float32)
    # NaN where nothing is read: fine, and the same result as without it.
    clean = decode(hm, tg, om, backend=backend)
    t2, o2, h2 = tg.copy(), om.copy(), hm.copy()
    t2[:, :, 0, 0] = np.nan
    o2[:, :, :, 9, 9] = np.nan
    o2[:, PANOPTIC19.pelvis] = np.nan  # the pelvis maps are never read
    assert_same(clean, decode(hm, t2, o2, backend=backend))
    # NaN where it is read.
    t2[1, 3, 4, 4] = np.nan
    with pytest.raises(ValueError, match=r"tags: contains NaN at a candidate peak \(image 1\)"):
        decode(hm, t2, om, backend=backend)
    o2[2, 5, 1, 4, 4] = np.nan
    with pytest.raises(ValueError, match=r"orpm: contains NaN at a read-out location \(image 2\)"):
        decode(hm, tg, o2, backend=backend)
    with pytest.raises(ValueError, match=r"tags: .*\(image 1\)"):  # image 1 fails first
        decode(hm, t2, o2, backend=backend)
    h2[2, 0, 15, 15] = np.nan  # anywhere in the heatmaps, and it wins over the others
    with pytest.raises(ValueError, match="heatmaps: contains NaN"):
        decode(h2, t2, o2, backend=backend)


def test_bad_num_threads():
    hm, tg, om = random_frames(np.random.default_rng(0), 1, "empty")
    with pytest.raises(TypeError, match="num_threads"):
        decode(hm, tg, om, backend="cpu", num_threads=1.5)
    with pytest.raises(ValueError, match="num_threads"):
        decode(hm, tg, om, backend="cpu", num_threads=-1)


def test_cpu_is_available():
    assert "cpu" in available_backends()


# ----------------------------------------------------------------------------
# torch.ops.ssmp3d.decode


def op_args(hm, tg, om, config=DecodeConfig(), skeleton=PANOPTIC19):
    mb = torch.from_numpy(config.mean_bones_array(skeleton))
    return (hm, tg, om, torch.from_numpy(skeleton_table(skeleton).copy()), skeleton.neck, skeleton.pelvis, mb,
            config.det_threshold, config.nms_radius, config.max_candidates, config.tag_threshold,
            config.min_joints, config.max_people, config.readout == "naive", config.readout_threshold,
            config.readout_min_dist, config.refine, config.grouping, config.geometry_weight, config.person_score,
            config.min_person_score)


@pytest.mark.parametrize("ci", [0, 8, 11])
@pytest.mark.parametrize("with_orpm", [True, False])
def test_decode_custom_op_equals_decode(ci, with_orpm):
    rng = np.random.default_rng(11)
    maps = [torch.from_numpy(x) for x in random_frames(rng, 4, "blobs")]
    if not with_orpm:
        maps[2] = None
    ref = decode(*maps, CONFIGS[ci], backend="cpu")
    out = torch.ops.ssmp3d.decode(*op_args(*maps, CONFIGS[ci]))
    assert len(out) == 10
    tf = MapTransform(stride=4)
    det = ref.detected
    np.testing.assert_array_equal(tf.map_to_image(out[0].numpy()).astype(np.float32)[det], ref.joints2d[det])
    assert (out[0].numpy()[~det] == 0).all()
    for f, t in zip(FIELDS[1:], out[1:]):
        want = np.nan_to_num(getattr(ref, f)) if f == "joints3d" else getattr(ref, f)  # 2D only: 0, not NaN
        np.testing.assert_array_equal(t.numpy(), want, err_msg=f)


def test_decode_custom_op_opcheck_and_compile():
    rng = np.random.default_rng(12)
    maps = [torch.from_numpy(x) for x in random_frames(rng, 2, "blobs", h=16, w=16)]
    torch.library.opcheck(torch.ops.ssmp3d.decode.default, op_args(*maps))

    @torch.compile(fullgraph=True)
    def f(hm, tg, om, table, mb):
        out = torch.ops.ssmp3d.decode(hm, tg, om, table, 0, 2, mb, 0.1, 1, 30, 1.0, 2, 30, False, 0.1, 3.0, True)
        return out[9].sum(), out[4]

    args = op_args(*maps)
    n, j3 = f(maps[0], maps[1], maps[2], args[3], args[6])
    ref = decode(*maps, backend="cpu")
    assert int(n) == int(ref.num_people.sum())
    np.testing.assert_array_equal(j3.numpy(), ref.joints3d)

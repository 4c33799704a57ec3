"""Public ``decode`` API: end-to-end scenes, refinement, transforms, dtypes, validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

import ssmp3d.decoding as dec
from ssmp3d.decoding import DecodeConfig, DecodeResult, Person, ReadoutRule, decode
from ssmp3d.geometry import MapTransform
from ssmp3d.skeleton import H36M17, PANOPTIC19

S = PANOPTIC19
K = S.num_joints
H, W = 48, 64
NECK, PELVIS, L_SHOULDER, L_ELBOW, L_WRIST = 0, 2, 3, 4, 5


@dataclass
class Body:
    """One synthetic person: map-pixel positions ``[K, 2]`` (x, y), which joints
    are visible, peak heights ``[K]``, tag ``[D]`` and bone vectors ``[K, 3]`` (m)."""

    pos: np.ndarray
    det: np.ndarray
    peak: np.ndarray
    tag: np.ndarray
    bones: np.ndarray


def body(rng, x0, x1, tag, det=None, h=H):
    pos = np.stack([rng.integers(x0, x1, K), rng.integers(3, h - 3, K)], -1)
    peak = rng.uniform(0.5, 1.0, K).astype(np.float32)
    bones = (rng.normal(size=(K, 3)) * 0.2).astype(np.float32)
    bones[S.pelvis] = 0
    det = np.ones(K, bool) if det is None else det
    return Body(pos, det, peak, np.atleast_1d(np.asarray(tag, np.float32)), bones)


def render(bodies, h=H, w=W, dim=1, sigma=1.5, radius=2):
    """Maps ``[K, H, W]``, ``[K, D, H, W]``, ``[K, 3, H, W]`` float32 of ``bodies``:
    Gaussian peaks (max over people), tag discs, ORPM discs at every detected
    read-out location of each map."""
    hm = np.zeros((K, h, w), np.float32)
    tg = np.zeros((K, dim, h, w), np.float32)
    om = np.zeros((K, 3, h, w), np.float32)
    yy, xx = np.mgrid[:h, :w]
    for b in bodies:
        for k in range(K):
            if not b.det[k]:
                continue
            x, y = b.pos[k]
            d2 = (xx - x) ** 2 + (yy - y) ** 2
            hm[k] = np.maximum(hm[k], (b.peak[k] * np.exp(-d2 / (2 * sigma**2))).astype(np.float32))
            tg[k][:, d2 <= radius**2] = b.tag[:, None]
        for j in range(K):
            for l in S.readout_chain(j):
                if b.det[l]:
                    x, y = b.pos[l]
                    om[j][:, (xx - x) ** 2 + (yy - y) ** 2 <= radius**2] = b.bones[j][:, None]
    return hm, tg, om


def batch(*scenes, dim=1):
    """Stacks rendered scenes into ``[B, ...]`` arrays (tags squeezed when D = 1)."""
    maps = [render(s, dim=dim) for s in scenes]
    hm, tg, om = (np.stack(m) for m in zip(*maps))
    return hm, (tg[:, :, 0] if dim == 1 else tg), om


def sum_bones(bones):
    """Float32 pelvis-relative joints (mm) from bone vectors, parent before child."""
    out = np.zeros((K, 3), np.float32)
    for j in S.topological_order:
        if S.parents[j] >= 0:
            out[j] = out[S.parents[j]] + bones[j] * np.float32(1000)
    return out


@pytest.fixture(scope="module")
def two_people():
    rng = np.random.default_rng(3)
    a = body(rng, 3, 26, 0.0)
    det = np.ones(K, bool)
    det[[L_ELBOW, L_WRIST, 16]] = False
    b = body(rng, 38, 61, 4.0, det=det)
    return a, b


def check_person(res, i, p, bd, transform=MapTransform(stride=4)):
    """Asserts slot ``p`` of image ``i`` holds exactly body ``bd`` (all reads valid)."""
    det = bd.det
    np.testing.assert_array_equal(res.detected[i, p], det)
    np.testing.assert_array_equal(res.peaks[i, p], np.where(det, bd.pos[:, 1] * W + bd.pos[:, 0], -1))
    np.testing.assert_array_equal(res.scores[i, p], np.where(det, bd.peak, 0))
    want2d = transform.map_to_image(bd.pos.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(res.joints2d[i, p][det], want2d[det])
    assert np.isnan(res.joints2d[i, p][~det]).all()
    np.testing.assert_array_equal(res.joints3d[i, p], sum_bones(bd.bones))
    np.testing.assert_array_equal(res.tags[i, p], bd.tag)
    assert res.person_scores[i, p] == np.float32(person_score(bd))


def person_score(bd):
    """The default person score: the sum of the joint scores over K."""
    return np.sum(bd.peak[bd.det].astype(np.float64)) / K


def test_two_person_scene_decodes_exactly(two_people):
    a, b = two_people
    hm, tg, om = batch([a, b])
    res = decode(hm, tg, om)
    assert isinstance(res, DecodeResult)
    assert res.num_people.tolist() == [2] and res.num_people.dtype == np.int32
    order = [a, b] if person_score(a) >= person_score(b) else [b, a]
    for p, bd in enumerate(order):
        check_person(res, 0, p, bd)
    pb = 0 if order[0] is b else 1
    rules = res.readout_rule[0, pb]
    assert rules[PELVIS] == ReadoutRule.ROOT
    assert rules[L_SHOULDER] == ReadoutRule.OWN
    # The missing elbow and wrist read at the shoulder; the missing l_ear (16)
    # at the first detected head joint from the extremity: r_ear (18).
    assert rules[L_ELBOW] == rules[L_WRIST] == ReadoutRule.LIMB
    assert res.readout_joint[0, pb, L_ELBOW] == res.readout_joint[0, pb, L_WRIST] == L_SHOULDER
    assert res.readout_joint[0, pb, 16] == 18
    pa = 1 - pb
    assert (res.readout_rule[0, pa][np.arange(K) != PELVIS] == ReadoutRule.OWN).all()
    # Padding slots.
    assert np.isnan(res.joints2d[0, 2:]).all() and not res.detected[0, 2:].any()
    assert (res.peaks[0, 2:] == -1).all() and (res.readout_rule[0, 2:] == -1).all()
    assert (res.readout_joint[0, 2:] == -1).all() and (res.joints3d[0, 2:] == 0).all()
    assert (res.person_scores[0, 2:] == 0).all() and (res.tags[0, 2:] == 0).all()
    # Conversions.
    people = res.people(0)
    assert len(people) == 2 and all(isinstance(q, Person) for q in people)
    assert people[0].score >= people[1].score
    d = people[pb].to_dict()
    assert d["readout_rule"][L_ELBOW] == "limb" and d["joints2d"][L_ELBOW] == [None, None]
    assert res.to_list()[0][0].score == people[0].score


def test_output_shapes_and_dtypes(two_people):
    hm, tg, om = batch(list(two_people))
    res = decode(hm, tg, om, DecodeConfig(max_people=5))
    p = 5
    assert res.joints2d.shape == (1, p, K, 2) and res.joints2d.dtype == np.float32
    assert res.scores.shape == (1, p, K) and res.scores.dtype == np.float32
    assert res.detected.dtype == bool and res.peaks.dtype == np.int64
    assert res.joints3d.shape == (1, p, K, 3) and res.joints3d.dtype == np.float32
    assert res.readout_rule.dtype == np.int8 and res.readout_joint.dtype == np.int16
    assert res.person_scores.shape == (1, p) and res.person_scores.dtype == np.float32
    assert res.tags.shape == (1, p, 1) and res.tags.dtype == np.float64


def assert_same(r1, r2):
    for f in ("joints2d", "scores", "detected", "peaks", "joints3d", "readout_rule", "readout_joint",
              "person_scores", "tags", "num_people"):
        np.testing.assert_array_equal(getattr(r1, f), getattr(r2, f), err_msg=f)


def test_batch_images_are_independent(two_people):
    a, b = two_people
    hm, tg, om = batch([a, b], [b], [])
    res = decode(hm, tg, om)
    assert res.num_people.tolist() == [2, 1, 0]
    for i in range(3):
        single = decode(hm[i : i + 1], tg[i : i + 1], om[i : i + 1])
        for f in ("joints2d", "joints3d", "peaks", "readout_rule", "tags"):
            np.testing.assert_array_equal(getattr(res, f)[i], getattr(single, f)[0], err_msg=f)
    check_person(res, 1, 0, b)


def test_torch_numpy_float64_and_noncontiguous_agree(two_people):
    hm, tg, om = batch(list(two_people))
    ref = decode(hm, tg, om)
    assert_same(ref, decode(torch.from_numpy(hm), torch.from_numpy(tg), torch.from_numpy(om)))
    assert_same(ref, decode(hm.astype(np.float64), tg.astype(np.float64), om.astype(np.float64)))
    t = torch.from_numpy(hm).transpose(2, 3).contiguous().transpose(2, 3)  # same values, other strides
    assert not t.is_contiguous()
    o = torch.from_numpy(om).requires_grad_(True)
    assert_same(ref, decode(t, torch.from_numpy(tg), o))
    flipped = np.flip(np.flip(om, axis=3).copy(), axis=3)  # same values, negative strides
    assert flipped.strides[3] < 0
    assert_same(ref, decode(hm, tg.astype(">f4"), flipped))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs(two_people, dtype):
    hm, tg, om = batch(list(two_people))
    ref = decode(hm, tg, om)
    res = decode(*(torch.from_numpy(x).to(dtype) for x in (hm, tg, om)))
    for f in ("detected", "peaks", "readout_rule", "readout_joint", "num_people"):
        np.testing.assert_array_equal(getattr(res, f), getattr(ref, f), err_msg=f)
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-3
    np.testing.assert_allclose(res.scores, ref.scores, atol=tol, rtol=tol)
    np.testing.assert_allclose(res.joints3d, ref.joints3d, atol=2000 * tol, rtol=tol)


def test_multidimensional_tags(two_people):
    a, b = two_people
    a2 = Body(a.pos, a.det, a.peak, np.array([0.0, 0.0], np.float32), a.bones)
    b2 = Body(b.pos, b.det, b.peak, np.array([0.6, 0.8], np.float32), b.bones)
    hm, tg, om = batch([a2, b2], dim=2)
    assert tg.shape == (1, K, 2, H, W)
    # |(0.6, 0.8)| ~ 1: each component is below 0.9 but the norm is not.
    res = decode(hm, tg, om, DecodeConfig(tag_threshold=0.9))
    assert res.num_people[0] == 2 and res.tags.shape == (1, 30, 2)
    got = sorted(res.people(0), key=lambda q: q.tag[0])
    np.testing.assert_array_equal(got[0].detected, a.det)
    np.testing.assert_array_equal(got[1].detected, b.det)
    np.testing.assert_array_equal(got[1].tag, b2.tag)
    tg5 = tg[:, :, :1]
    assert_same(decode(hm, tg5, om), decode(hm, tg5[:, :, 0], om))


def point_maps(points, h=12, w=12):
    """Heatmaps with explicit pixel values ``{(k, y, x): value}``; flat tags, zero ORPM."""
    hm = np.zeros((1, K, h, w), np.float32)
    for (k, y, x), v in points.items():
        hm[0, k, y, x] = v
    return hm, np.zeros((1, K, h, w), np.float32), np.zeros((1, K, 3, h, w), np.float32)


def test_refinement_quarter_pixel_toward_larger_neighbour():
    pts = {(3, 5, 6): 1.0, (3, 5, 7): 0.5, (3, 5, 5): 0.3, (3, 4, 6): 0.4, (3, 6, 6): 0.4,  # x+, y tie
           (4, 5, 6): 1.0, (4, 4, 6): 0.2, (4, 6, 6): 0.3,  # y+, x tie (both 0)
           (6, 0, 0): 1.0, (6, 0, 1): 0.9, (6, 1, 0): 0.9,  # corner: no shift
           (7, 11, 5): 1.0, (7, 10, 5): 0.5, (7, 11, 4): 0.6,  # bottom border: x- only
           (8, 5, 5): 1.0, (8, 5, 4): 0.5, (8, 5, 6): 0.25}  # x-
    hm, tg, om = point_maps(pts)
    tg[0] = np.arange(K, dtype=np.float32)[:, None, None] * 10  # one person per joint
    cfg = DecodeConfig(min_joints=1, det_threshold=0.8)
    res = decode(hm, tg, om, cfg)
    got = {int(np.flatnonzero(res.detected[0, p])[0]): res.joints2d[0, p][res.detected[0, p]][0]
           for p in range(res.num_people[0])}
    want = {3: (6.25, 5.0), 4: (6.0, 5.25), 6: (0.0, 0.0), 7: (4.75, 11.0), 8: (4.75, 5.0)}
    assert sorted(got) == sorted(want)
    for k, (x, y) in want.items():
        np.testing.assert_array_equal(got[k], [4 * x + 1.5, 4 * y + 1.5], err_msg=str(k))
    res = decode(hm, tg, om, DecodeConfig(min_joints=1, det_threshold=0.8, refine=False))
    for p in range(res.num_people[0]):
        xy = res.joints2d[0, p][res.detected[0, p]][0]
        assert np.all((xy - 1.5) % 4 == 0)


def test_non_identity_transform():
    hm, tg, om = point_maps({(3, 5, 6): 1.0, (3, 5, 7): 0.5})
    tf = MapTransform(affine=np.array([[0.5, 0.1, 10.0], [0.0, 0.25, -3.0]]), stride=8)
    res = decode(hm, tg, om, DecodeConfig(min_joints=1), transform=tf)
    want = tf.map_to_image(np.array([6.25, 5.0])).astype(np.float32)
    np.testing.assert_array_equal(res.joints2d[0, 0, 3], want)
    assert tf.image_to_map(res.joints2d[0, 0, 3].astype(np.float64)) == pytest.approx([6.25, 5.0], abs=1e-4)


def test_only_top_max_candidates_are_grouped():
    pts = {(3, 1 + 2 * i, 1 + 2 * i): 0.5 + 0.1 * i for i in range(5)}
    hm, tg, om = point_maps(pts)
    tg[0, 3] = np.arange(12, dtype=np.float32)[:, None] * 5  # far-apart tags per row
    res = decode(hm, tg, om, DecodeConfig(min_joints=1, max_candidates=3, person_score="detected"))
    assert res.num_people[0] == 3
    np.testing.assert_allclose(res.person_scores[0, :3], [0.9, 0.8, 0.7])
    res = decode(hm, tg, om, DecodeConfig(min_joints=1, max_people=2))
    assert res.num_people[0] == 2


def test_empty_maps_give_no_people():
    hm, tg, om = point_maps({})
    res = decode(hm, tg, om)
    assert res.num_people.tolist() == [0] and res.to_list() == [[]]
    assert np.isnan(res.joints2d).all() and (res.readout_rule == -1).all() and (res.peaks == -1).all()


def test_one_joint_people_need_min_joints_one():
    hm, tg, om = point_maps({(1, 3, 3): 0.9, (9, 8, 8): 0.8})
    tg[0, 9] = 7.0
    assert decode(hm, tg, om).num_people[0] == 0
    res = decode(hm, tg, om, DecodeConfig(min_joints=1))
    assert res.num_people[0] == 2
    assert res.readout_rule[0, 0, 1] == ReadoutRule.OWN and res.readout_rule[0, 0, 0] == ReadoutRule.MEAN


def test_dropped_person_still_invalidates_readout(two_people):
    a, _ = two_people
    # A lone neck (another tag) 1 px from a's elbow: a one-joint person that
    # min_joints drops, yet its location spoils map l_elbow around it.
    det = np.zeros(K, bool)
    det[NECK] = True
    pos = a.pos.copy()
    pos[NECK] = a.pos[L_ELBOW] + [1, 0]
    lone = Body(pos, det, np.full(K, 0.3, np.float32), np.array([9.0], np.float32), a.bones)
    hm, tg, om = batch([a, lone])
    res = decode(hm, tg, om)
    assert res.num_people[0] == 1
    assert res.readout_joint[0, 0, L_ELBOW] == L_WRIST
    assert res.readout_joint[0, 0, L_WRIST] == L_WRIST
    naive = decode(hm, tg, om, DecodeConfig(readout="naive"))
    assert naive.readout_joint[0, 0, L_ELBOW] == L_ELBOW


def test_h36m_skeleton_decodes():
    k = H36M17.num_joints
    hm = np.zeros((1, k, 8, 8), np.float32)
    hm[0, :, 4, 4] = 0.9
    res = decode(hm, np.zeros_like(hm), np.zeros((1, k, 3, 8, 8), np.float32), skeleton=H36M17)
    assert res.num_people[0] == 1 and res.detected[0, 0].all()
    assert res.readout_rule[0, 0, H36M17.pelvis] == ReadoutRule.ROOT


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.cuda
def test_cuda_tensors_are_decoded_on_cpu(two_people):
    hm, tg, om = batch(list(two_people))
    assert_same(decode(hm, tg, om), decode(*(torch.from_numpy(x).cuda() for x in (hm, tg, om))))


# ----------------------------------------------------------------------------
# Validation.


def good():
    return point_maps({(1, 3, 3): 0.9})


@pytest.mark.parametrize(
    ("which", "bad", "exc", "match"),
    [
        (0, lambda x: x.tolist(), TypeError, "heatmaps"),
        (1, lambda x: x.astype(np.int32), TypeError, "tags"),
        (2, lambda x: torch.from_numpy(x).to(torch.int64), TypeError, "orpm"),
        (0, lambda x: x.astype(np.complex64), TypeError, "heatmaps"),
        (0, lambda x: x[0], ValueError, "heatmaps.*dimensions"),
        (1, lambda x: x[0], ValueError, "tags.*dimensions"),
        (2, lambda x: x[:, :, 0], ValueError, "orpm.*dimensions"),
        (1, lambda x: np.concatenate([x, x]), ValueError, "tags"),
        (2, lambda x: np.concatenate([x, x]), ValueError, "orpm"),
        (1, lambda x: x[:, :-1], ValueError, "tags"),
        (2, lambda x: x[:, :-1], ValueError, "orpm"),
        (1, lambda x: x[:, :, :-1], ValueError, "tags"),
        (2, lambda x: x[..., :-1], ValueError, "orpm"),
        (2, lambda x: x[:, :, :2], ValueError, "orpm.*dimension 2"),
        (1, lambda x: x[:, :, None, :, :][:, :, :0], ValueError, "tags.*D"),
    ],
)
def test_bad_inputs(which, bad, exc, match):
    maps = list(good())
    maps[which] = bad(maps[which])
    with pytest.raises(exc, match=match):
        decode(*maps)


@pytest.mark.parametrize("which", [0, 1, 2])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_nan_inputs_are_rejected_where_read(which, kind):
    # good(): joint 1 peaks at (3, 3), i.e. flat index 39; min_joints=1 keeps it.
    cfg = DecodeConfig(min_joints=1)
    maps = [m.copy() for m in good()]
    read = [(0, 0, 0, 0), (0, 1, 3, 3), (0, 1, 0, 3, 3)][which]  # NaN anywhere in heatmaps
    maps[which][read] = np.nan
    if kind == "torch":
        maps = [torch.from_numpy(m) for m in maps]
    with pytest.raises(ValueError, match=["heatmaps", "tags", "orpm"][which] + ".*NaN"):
        decode(*maps, cfg)


@pytest.mark.parametrize("which", [1, 2])
def test_nan_where_not_read_is_ignored(which):
    cfg = DecodeConfig(min_joints=1)
    maps = [m.copy() for m in good()]
    ref = decode(*maps, cfg)
    maps[which][0, 1, ..., 5, 5] = np.nan  # no peak there
    maps[which][0, 4] = np.nan  # a joint without candidates
    assert_same(ref, decode(*maps, cfg))


def test_wrong_joint_count_and_empty_shapes():
    hm, tg, om = good()
    with pytest.raises(ValueError, match="heatmaps.*K = 17"):
        decode(hm, tg, om, skeleton=H36M17)
    with pytest.raises(ValueError, match="heatmaps.*K = 19"):
        decode(hm[:, :17], tg[:, :17], om[:, :17])
    with pytest.raises(ValueError, match="heatmaps.*empty batch"):
        decode(hm[:0], tg[:0], om[:0])
    with pytest.raises(ValueError, match="heatmaps.*empty maps"):
        decode(hm[..., :0, :], tg[..., :0, :], om[..., :0, :])
    with pytest.raises(ValueError, match="heatmaps.*empty maps"):
        decode(hm[..., :0], tg[..., :0], om[..., :0])


def test_bad_arguments():
    maps = good()
    with pytest.raises(TypeError, match="config"):
        decode(*maps, {"det_threshold": 0.1})
    with pytest.raises(TypeError, match="transform"):
        decode(*maps, transform=np.eye(2, 3))
    with pytest.raises(TypeError, match="skeleton"):
        decode(*maps, skeleton="panoptic19")
    with pytest.raises(ValueError, match="mean_bones"):
        decode(*maps, DecodeConfig(mean_bones=((0.0, 0.0, 0.0),) * 17))


@pytest.mark.parametrize("backend", ["cuda", "gpu", "", None])
def test_unavailable_backends(backend):
    with pytest.raises(ValueError, match=r"backend.*\['python', 'cpu'\]"):
        decode(*good(), backend=backend)


def test_exports():
    assert dec.available_backends() == ("python", "cpu")
    for name in ("decode", "DecodeConfig", "DecodeResult", "Person", "ReadoutRule"):
        assert hasattr(dec, name)
    assert decode(*good(), backend="python").batch_size == 1


# ----------------------------------------------------------------------------
# The API for users of other AE decoders: auto backend, 2D only, tag-last layout.


def test_top_level_decode_is_the_function():
    import ssmp3d

    assert ssmp3d.decode is decode and ssmp3d.DecodeConfig is DecodeConfig
    import ssmp3d.decoding  # noqa: F401  importing the package does not rebind the name

    assert callable(ssmp3d.decode) and ssmp3d.decode is decode


def test_auto_backend_is_the_fastest_available(two_people):
    maps = batch(list(two_people))
    assert dec.auto_backend(maps[0]) == "cpu"
    assert dec.auto_backend(torch.from_numpy(maps[0])) == "cpu"
    assert_same(decode(*maps), decode(*maps, backend="cpu"))


@pytest.mark.parametrize("backend", ["python", "cpu"])
def test_2d_only_decoding(two_people, backend):
    hm, tg, om = batch(list(two_people))
    full = decode(hm, tg, om, backend=backend)
    flat = decode(hm, tg, None, backend=backend)
    for f in ("joints2d", "scores", "detected", "peaks", "person_scores", "tags", "num_people"):
        np.testing.assert_array_equal(getattr(flat, f), getattr(full, f), err_msg=f)
    n = int(flat.num_people[0])
    assert np.isnan(flat.joints3d[0, :n]).all() and (flat.joints3d[0, n:] == 0).all()
    assert (flat.readout_rule == ReadoutRule.NONE).all() and (flat.readout_joint == -1).all()
    d = flat.people(0)[0].to_dict()
    assert d["joints3d_mm"][0] == [None, None, None] and d["readout_rule"][0] == "none"
    assert decode(hm, tg, backend=backend).num_people.tolist() == flat.num_people.tolist()  # orpm defaults to None


def test_tags_last_layout(two_people):
    a, b = two_people
    a2 = Body(a.pos, a.det, a.peak, np.array([0.0, 1.0], np.float32), a.bones)
    b2 = Body(b.pos, b.det, b.peak, np.array([4.0, -2.0], np.float32), b.bones)
    hm, tg, om = batch([a2, b2], dim=2)  # tags [B, K, D, H, W]
    last = np.ascontiguousarray(np.moveaxis(tg, 2, 4))  # [B, K, H, W, D]
    for backend in ("python", "cpu"):
        ref = decode(hm, tg, om, backend=backend)
        assert_same(ref, decode(hm, last, om, backend=backend, tag_layout="BKHWD"))
        assert_same(ref, decode(hm, torch.from_numpy(last), om, backend=backend, tag_layout="BKHWD"))
    with pytest.raises(ValueError, match="tag_layout"):
        decode(hm, last, om, tag_layout="NHWC")
    with pytest.raises(ValueError, match="tags.*5 dimensions"):
        decode(hm, tg[:, :, 0], om, tag_layout="BKHWD")


@pytest.mark.parametrize("change, match", [
    (dict(grouping="greedy"), "DecodeConfig.grouping"),
    (dict(min_person_score=-0.5), "DecodeConfig.min_person_score"),
    (dict(min_person_score=float("nan")), "DecodeConfig.min_person_score"),
    (dict(geometry_weight=float("inf")), "DecodeConfig.geometry_weight"),
])
def test_bad_grouping_settings(change, match):
    with pytest.raises(ValueError, match=match):
        decode(*good(), DecodeConfig(**change))


@pytest.mark.parametrize("shape", [(1, K, 2, 12, 12), (1, K, 3, 12), (1, K, 3, 11, 12), (2, K, 3, 12, 12)])
def test_orpm_of_the_wrong_shape(shape):
    hm, tg, _ = good()
    with pytest.raises(ValueError, match="orpm"):
        decode(hm, tg, np.zeros(shape, np.float32))

"""decode() and DecodeConfig on awkward inputs: negative-bit views, numpy scalars, bools, huge ints,
infinities, odd devices. Every backend gives the same answer or the same named error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.decoding import DecodeConfig, decode
from ssmp3d.ops._ext import has_cpu_ext

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

BACKENDS = ("python", "cpu")
FIELDS = ("joints2d", "scores", "detected", "peaks", "joints3d", "readout_rule", "readout_joint", "person_scores",
          "tags", "num_people")


def maps(b=2, h=16, w=16, d=1, seed=0):
    gen = torch.Generator().manual_seed(seed)
    hm = torch.rand((b, 19, h, w), generator=gen)
    tg = torch.randn((b, 19, d, h, w) if d > 1 else (b, 19, h, w), generator=gen)
    om = torch.randn((b, 19, 3, h, w), generator=gen) * 0.1
    return hm, tg, om


def assert_same(a, b):
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


# ---------------------------------------------------------------- negative-bit views


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("which", [0, 1, 2])
def test_neg_views_equal_plain_inputs(backend, which):
    args = list(maps(d=2))
    expected = decode(*args, DecodeConfig(tag_threshold=0.5), backend=backend)
    assert expected.num_people.sum() > 0
    args[which] = torch._neg_view(-args[which])
    assert args[which].is_neg()
    assert_same(decode(*args, DecodeConfig(tag_threshold=0.5), backend=backend), expected)


@pytest.mark.parametrize("backend", BACKENDS)
def test_conj_imag_views_equal_plain_inputs(backend):
    hm, tg, om = maps()
    view = torch.complex(torch.zeros_like(hm), -hm).conj().imag
    assert view.is_neg()
    assert_same(decode(view, tg, om, backend=backend), decode(hm, tg, om, backend=backend))


# ---------------------------------------------------------------- DecodeConfig scalars


BAD_FIELDS = [
    ("nms_radius", True, TypeError, "DecodeConfig.nms_radius: expected an int, got bool"),
    ("max_candidates", np.bool_(True), TypeError, "DecodeConfig.max_candidates: expected an int, got bool"),
    ("min_joints", 10**30, ValueError, "DecodeConfig.min_joints: expected an int in"),
    ("min_joints", 2**63, ValueError, "DecodeConfig.min_joints: expected an int in"),
    ("max_people", 1.0, TypeError, "DecodeConfig.max_people: expected an int, got float"),
    ("det_threshold", True, TypeError, "DecodeConfig.det_threshold: expected a finite float, got bool"),
    ("det_threshold", 10**400, ValueError, "DecodeConfig.det_threshold: expected a finite float"),
    ("tag_threshold", 10**5000, ValueError, "DecodeConfig.tag_threshold: expected a finite float > 0"),
    ("readout_min_dist", "3", TypeError, "DecodeConfig.readout_min_dist: expected a finite float, got str"),
    ("refine", "no", TypeError, "DecodeConfig.refine: expected a bool, got str"),
    ("refine", 1, TypeError, "DecodeConfig.refine: expected a bool, got int"),
    ("readout", np.array(["full"]), ValueError, "DecodeConfig.readout: expected one of"),
    ("grouping", ["paper"], ValueError, "DecodeConfig.grouping: expected one of"),
    ("mean_bones", (("a", "b", "c"),) * 19, TypeError, r"DecodeConfig.mean_bones: expected finite \[K\]\[3\]"),
    ("mean_bones", ((0.1, 0.2), (0.3,)), ValueError, r"DecodeConfig.mean_bones: expected finite \[K\]\[3\]"),
    ("mean_bones", ((np.nan, 0.0, 0.0),) * 19, ValueError, r"DecodeConfig.mean_bones: expected finite \[K\]\[3\]"),
]


@pytest.mark.parametrize("field, value, exc, match", BAD_FIELDS, ids=[f"{r[0]}-{i}" for i, r in enumerate(BAD_FIELDS)])
def test_bad_config_fields_are_named(field, value, exc, match):
    with pytest.raises(exc, match=match):
        DecodeConfig(**{field: value})


def test_from_dict_names_a_bad_mean_bones():
    with pytest.raises(TypeError, match="DecodeConfig.mean_bones"):
        DecodeConfig.from_dict({"mean_bones": [["a", "b", "c"]] * 19})


def test_numpy_scalars_are_accepted_and_stored_as_python_values():
    config = DecodeConfig(det_threshold=np.float32(0.25), nms_radius=np.int64(2), max_candidates=np.uint16(20),
                          min_joints=np.int8(3), max_people=np.int32(7), refine=np.bool_(False),
                          mean_bones=np.full((19, 3), 0.1, np.float32))
    plain = DecodeConfig(det_threshold=float(np.float32(0.25)), nms_radius=2, max_candidates=20, min_joints=3,
                         max_people=7, refine=False, mean_bones=((float(np.float32(0.1)),) * 3,) * 19)
    assert config == plain and hash(config) == hash(plain)
    assert type(config.nms_radius) is int and type(config.det_threshold) is float and config.refine is False
    assert DecodeConfig.from_dict(config.to_dict()) == config
    hm, tg, om = maps()
    for backend in BACKENDS:
        assert_same(decode(hm, tg, om, config, backend=backend), decode(hm, tg, om, plain, backend=backend))


def test_largest_min_joints_keeps_nobody_in_every_backend():
    hm, tg, om = maps()
    config = DecodeConfig(min_joints=2**63 - 1)
    results = [decode(hm, tg, om, config, backend=b) for b in BACKENDS]
    assert results[0].num_people.sum() == 0
    assert_same(*results)


@pytest.mark.parametrize("refine", [False, True])
def test_refine_is_the_same_in_every_backend(refine):
    hm, tg, om = maps()
    assert_same(*(decode(hm, tg, om, DecodeConfig(refine=refine), backend=b) for b in BACKENDS))


# ---------------------------------------------------------------- decode arguments


@pytest.mark.parametrize("value", [2**31, 2**63, 10**5000], ids=["2**31", "2**63", "1e5000"])
def test_num_threads_beyond_a_cpp_int(value):
    with pytest.raises(ValueError, match="^num_threads: expected None or an int in"):
        decode(*maps(), backend="cpu", num_threads=value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("which", [0, 1, 2])
def test_meta_tensors_are_refused_by_name(backend, which):
    args = list(maps())
    args[which] = args[which].to("meta")
    name = ("heatmaps", "tags", "orpm")[which]
    with pytest.raises(ValueError, match=f"^{name}: expected a CPU or CUDA tensor"):
        decode(*args, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sparse_tensors_are_refused_by_name(backend):
    hm, tg, om = maps()
    with pytest.raises(TypeError, match="^heatmaps: expected a dense"):
        decode(hm.to_sparse(), tg, om, backend=backend)


# ---------------------------------------------------------------- infinities (decided: ordinary values)


@pytest.mark.parametrize("refine", [False, True])
def test_infinite_heatmap_values_decode_alike_in_every_backend(refine):
    hm, tg, om = maps(seed=4)
    hm[0, :, 5, 5] = float("inf")  # a plateau of +inf in every joint map
    hm[0, :, 5, 6] = float("inf")
    hm[0, 3, 9, 9] = float("-inf")
    hm[1, 2, 0, 0] = float("inf")
    config = DecodeConfig(refine=refine, person_score="detected")
    results = [decode(hm, tg, om, config, backend=b) for b in BACKENDS]
    assert_same(*results)
    r = results[0]
    peak = 5 * 16 + 5  # the first pixel of the plateau, in raster order
    assert (r.peaks[0] == peak).any() and not (r.peaks[0] == peak + 1).any()
    assert np.isinf(r.scores).any() and np.isposinf(r.person_scores).any()
    assert not (r.peaks[0, :, 3] == 9 * 16 + 9).any()


def test_float64_values_beyond_float32_become_infinities():
    hm, tg, om = maps()
    hm = hm.double()
    hm[0, 0, 3, 3] = 1e300
    inf = hm.clone()
    inf[0, 0, 3, 3] = float("inf")
    for backend in BACKENDS:
        assert_same(decode(hm, tg, om, backend=backend), decode(inf, tg, om, backend=backend))

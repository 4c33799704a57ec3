"""Fuzz test of every public op (:mod:`ssmp3d.ops`) and of :func:`ssmp3d.decoding.decode`.

Each case draws one call: random shapes (0- and 1-size dims included),
dtypes (float16 / bfloat16 / float32 / float64 / ints / bool / complex),
containers and layouts (numpy, torch, non-contiguous, stride 0, negative
strides, big-endian, negative / conjugate bit views, meta device, sparse),
values (NaN, infinities, values beyond float32), out-of-range scalars (huge
ints, negatives, NaN, bools, numpy scalars, strings) and now and then a
small input with size parameters far beyond the memory budget. The call must
either return or raise ``ValueError`` / ``TypeError`` whose message starts
with the name of an argument (``DecodeConfig.<field>`` for the decoder's
settings); any other exception fails the case. Also checked:

* a call on negative / conjugate bit views returns what the call on plain
  copies returns;
* ``decode`` with ``backend="cpu"`` and ``"python"`` agree: equal results,
  or the same error;
* the process's peak memory never grows by more than
  ``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (the budget check refuses first).

Quick profile (default, derandomized, so CI is reproducible):
``QUICK_EXAMPLES`` cases per target. Slow profile (``--run-slow``):
``SLOW_EXAMPLES`` random cases per target, 12,000 in all (environment
variable ``SSMP3D_FUZZ_EXAMPLES`` sets the number per target).
"""

from __future__ import annotations

import os
import re
import resource

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz_inputs import Maker, assert_same, count, plain
from ssmp3d.bones import tree_geometry
from ssmp3d.decoding import DecodeConfig, decode
from ssmp3d.geometry import MapTransform
from ssmp3d.ops import (MEMORY_BUDGET_BYTES, encode_heatmaps, encode_orpm, encode_tag_maps, group_candidates,
                        heatmap_nms, nms_gather, orpm_readout)
from ssmp3d.ops._ext import has_cpu_ext
from ssmp3d.skeleton import H36M17, PANOPTIC19

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

QUICK_EXAMPLES = 300
SLOW_EXAMPLES = int(os.environ.get("SSMP3D_FUZZ_EXAMPLES", "1500"))  # x 8 targets = 12,000 cases
_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
QUICK = settings(max_examples=QUICK_EXAMPLES, derandomize=True, **_COMMON)
SLOW = settings(max_examples=SLOW_EXAMPLES, derandomize=False, **_COMMON)

_BASE_RSS = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------- the cases


def case_heatmap_nms(mk: Maker):
    b, k, h, w = mk.dim(), mk.dim(), mk.dim(9), mk.dim(9)
    m = mk.integer("max_candidates", 1, 40)
    if mk.mistake(3, "budget"):  # 2.4 MB of maps, 29 GB of outputs
        b, k, h, w, m = 1, 600_000, 1, 1, 4096
    args = dict(heatmaps=mk.array("heatmaps", (b, k, h, w)), threshold=mk.real("threshold", -0.5, 1.0),
                radius=mk.integer("radius", 0, 4), max_candidates=m, num_threads=mk.threads())
    return heatmap_nms, args


def case_nms_gather(mk: Maker):
    b, k, h, w, d = mk.dim(), mk.dim(), mk.dim(8), mk.dim(8), mk.dim(3)
    m = mk.integer("max_candidates", 1, 40)
    if mk.mistake(3, "budget"):  # 800 KB of tags, 3.3 GB of tags_at
        b, k, h, w, d, m = 1, 1, 1, 1, 200_000, 4096
    tag_shape = (b, k, h, w) if d == 1 and mk.chance(50, "tags-4d") else (b, k, d, h, w)
    args = dict(heatmaps=mk.array("heatmaps", (b, k, h, w)), tags=mk.array("tags", tag_shape, low=-3, high=3),
                orpm=mk.array("orpm", (b, k, 3, h, w), low=-1, high=1), threshold=mk.real("threshold", -0.5, 1.0),
                radius=mk.integer("radius", 0, 4), max_candidates=m, num_threads=mk.threads())
    return nms_gather, args


def case_group_candidates(mk: Maker):
    grouping = mk.choice(("paper", "assign", "assign", "greedy", None) if not mk.clean else ("paper", "assign"),
                         "grouping")
    tree = grouping == "assign" and not mk.mistake(10, "no-tree")
    b, m, d = mk.dim(), mk.dim(6), mk.dim(3)
    k = 19 if tree else mk.dim(5)
    h = w = mk.draw(st.integers(1, 8), "map")
    if mk.mistake(3, "budget"):  # 80 KB of scores, 3.2 GB of assignment rows
        b, k, m, d, tree = 1, 20_000, 1, 1, False
    skeleton = (mk.choice((PANOPTIC19, tree_geometry(PANOPTIC19.parents, PANOPTIC19.topological_order,
                                                     PANOPTIC19.mean_bones_m()), "skeleton"), "skeleton")
                if tree else None)
    args = dict(scores=mk.array("scores", (b, k, m)), tags=mk.array("tags", (b, k, m, d), low=-2, high=2),
                counts=mk.array("counts", (b, k), "int", 0, m), neck=mk.integer("neck", -1, max(k - 1, -1)),
                tag_threshold=mk.real("tag_threshold", 0.01, 3.0), min_joints=mk.integer("min_joints", 1, 4),
                max_people=mk.integer("max_people", 1, 8), grouping=grouping, num_threads=mk.threads(),
                indices=mk.array("indices", (b, k, m), "int", 0, h * w - 1) if grouping == "assign" else None,
                width=mk.integer("width", 1, w) if grouping == "assign" else None, skeleton=skeleton,
                geometry_weight=mk.real("geometry_weight", 0.0, 1.0),
                person_score=mk.choice(("detected", "all", "best")[: 2 if mk.clean else 3], "person_score"),
                min_person_score=mk.real("min_person_score", 0.0, 0.5))
    if tree and mk.chance(30, "mean_bones"):
        args["mean_bones"] = mk.array("mean_bones", (19, 3), low=-0.3, high=0.3)
    return group_candidates, args


def case_orpm_readout(mk: Maker):
    skeleton = mk.choice((PANOPTIC19, H36M17), "skeleton")
    k = skeleton.num_joints
    b, q, p, h, w = mk.dim(2), mk.dim(5), mk.dim(5), mk.dim(6), mk.dim(6)
    if mk.mistake(3, "budget"):  # 20 000 joints on one pixel: 3.2 GB of crowding pairs
        b, q, h, w = 1, 20_000 // k + 1, 2, 2
    nf = mk.rng.integers(0, q + 1, size=b)
    people = np.stack([mk.rng.integers(0, max(int(n), 1), size=p) for n in nf]) if b and p else np.zeros((b, p))
    positions = np.stack([mk.rng.integers(0, max(w, 1), (b, q, k)), mk.rng.integers(0, max(h, 1), (b, q, k))], -1)
    if mk.chance(20, "crowd"):
        positions[:] = 0
    args = dict(orpm=mk.array("orpm", (b, k, 3, h, w), low=-0.5, high=0.5),
                positions=mk.array("positions", positions.shape, "int", values=positions),
                scores=mk.array("scores", (b, q, k)), detected=mk.array("detected", (b, q, k), "bool"),
                num_formed=mk.array("num_formed", nf.shape, "int", values=nf),
                people=mk.array("people", people.shape, "int", values=people),
                num_people=mk.array("num_people", nf.shape, "int",
                                    values=np.minimum(mk.rng.integers(0, p + 1, size=b), nf)),
                skeleton=skeleton if not mk.mistake(3, "bad-skeleton") else "panoptic19",
                readout=mk.choice(("full", "naive", "fast")[: 2 if mk.clean else 3], "readout"),
                readout_threshold=mk.real("readout_threshold", 0.0, 1.0),
                readout_min_dist=mk.real("readout_min_dist", 0.0, 5.0), num_threads=mk.threads())
    if mk.chance(30, "mean_bones"):
        args["mean_bones"] = mk.array("mean_bones", (k, 3), low=-0.3, high=0.3)
    return orpm_readout, args


def _encoder_base(mk: Maker, k: int):
    b, n = mk.dim(2), mk.dim(3)
    h, w = mk.integer("H", 1, 12, odd=5), mk.integer("W", 1, 12, odd=5)
    size = (1 << 15, 1 << 15) if mk.mistake(3, "budget") else (h, w)
    if mk.mistake(5, "bad-size"):
        size = mk.choice(((0, 4), (4,), (4.0, 4), "44", (np.int64(4), True), (2**63, 2)), "size")
    joints = mk.array("joints_map", (b, n, k, 2), low=-2, high=14)
    return b, n, size, joints, mk.array("valid", (b, n, k), "bool")


def case_encode_heatmaps(mk: Maker):
    b, n, size, joints, valid = _encoder_base(mk, mk.dim(4))
    args = dict(joints_map=joints, valid=valid, size=size, sigma=mk.real("sigma", 0.3, 3.0),
                num_threads=mk.threads())
    return encode_heatmaps, args


def case_encode_orpm(mk: Maker):
    skeleton = mk.choice((PANOPTIC19, H36M17), "skeleton")
    b, n, size, joints, valid = _encoder_base(mk, skeleton.num_joints)
    k = skeleton.num_joints
    args = dict(joints_map=joints, bones_m=mk.array("bones_m", (b, n, k, 3), low=-0.5, high=0.5), valid=valid,
                depth=mk.array("depth", (b, n), low=1, high=9), skeleton=skeleton, size=size,
                radius=mk.integer("radius", 0, 3), num_threads=mk.threads(),
                bones_valid=mk.array("bones_valid", (b, n, k), "bool") if mk.chance(50, "bones_valid") else None)
    return encode_orpm, args


def case_encode_tag_maps(mk: Maker):
    b, n, size, joints, valid = _encoder_base(mk, mk.dim(4))
    args = dict(joints_map=joints, valid=valid, depth=mk.array("depth", (b, n), low=1, high=9), size=size,
                tag_values=mk.array("tag_values", (b, n), low=-3, high=3) if mk.chance(50, "tags") else None,
                radius=mk.integer("radius", 0, 3), num_threads=mk.threads())
    return encode_tag_maps, args


def _config(mk: Maker) -> DecodeConfig:
    grouping = mk.choice(("assign", "paper"), "grouping") if not mk.mistake(5, "bad-grouping") else ["paper"]
    fields = dict(det_threshold=mk.real("det_threshold", 0.0, 0.9, odd=4),
                  nms_radius=mk.integer("nms_radius", 0, 3, odd=4),
                  max_candidates=mk.integer("max_candidates", 1, 12, odd=4), grouping=grouping,
                  tag_threshold=mk.real("tag_threshold", 0.05, 2.0, odd=4),
                  geometry_weight=mk.real("geometry_weight", 0.0, 1.0, odd=4),
                  min_joints=mk.integer("min_joints", 1, 5, odd=4),
                  person_score=mk.choice(("all", "detected"), "person_score"),
                  min_person_score=mk.real("min_person_score", 0.0, 0.5, odd=4),
                  max_people=mk.integer("max_people", 1, 8, odd=4),
                  readout=mk.choice(("full", "naive"), "readout"),
                  readout_threshold=mk.real("readout_threshold", 0.0, 0.9, odd=4),
                  readout_min_dist=mk.real("readout_min_dist", 0.0, 6.0, odd=4),
                  refine="no" if mk.mistake(3, "bad-refine") else mk.choice((True, False, np.bool_(True)), "refine"))
    if mk.chance(10, "mean_bones"):
        fields["mean_bones"] = mk.choice((PANOPTIC19.mean_bones_m(), np.full((19, 3), np.nan),
                                          (("a", "b", "c"),) * 19, ((0.1, 0.2),))[: 1 if mk.clean else 4],
                                         "mean_bones")
    return DecodeConfig(**fields)


def case_decode(mk: Maker):
    config = _config(mk)  # may raise: a named DecodeConfig error is a clean one
    b, h, w, d = mk.dim(2), mk.dim(8), mk.dim(8), mk.dim(3)
    k = 19
    if mk.mistake(3, "budget"):  # 600 KB of tags; 5 GB of K x M x D scratch
        b, h, w, d = 1, 1, 1, 8000
        config = DecodeConfig(grouping="paper", max_candidates=4096)
    last = mk.chance(20, "tags-last")
    tag_shape = (b, k, h, w, d) if last else (b, k, h, w) if d == 1 and mk.chance(50, "4d") else (b, k, d, h, w)
    args = dict(heatmaps=mk.array("heatmaps", (b, k, h, w)), tags=mk.array("tags", tag_shape, low=-2, high=2),
                orpm=mk.array("orpm", (b, k, 3, h, w), low=-0.5, high=0.5) if mk.chance(80, "orpm") else None,
                config=config, skeleton=PANOPTIC19 if not mk.mistake(3, "bad-skeleton") else H36M17,
                transform=MapTransform(stride=4) if not mk.mistake(3, "bad-transform") else "stride 4",
                backend=mk.choice(("cpu", "python", "auto", "gpu")[: 3 if mk.clean else 4], "backend"),
                num_threads=mk.threads(),
                tag_layout="BKHWD" if last else mk.choice(("BKDHW", "BKDHW", "NCHW")[: 2 if mk.clean else 3],
                                                          "tag_layout"))
    return decode, args


TARGETS = {f.__name__[5:]: f for f in (case_heatmap_nms, case_nms_gather, case_group_candidates, case_orpm_readout,
                                         case_encode_heatmaps, case_encode_orpm, case_encode_tag_maps, case_decode)}


# ---------------------------------------------------------------- running one case


def _names_an_argument(message: str, names: set[str]) -> bool:
    first = re.match(r"[A-Za-z_][\w.]*", message)
    return bool(first) and (first.group(0) in names or first.group(0).startswith("DecodeConfig."))


def _outcome(fn, args: dict):
    """("ok", result) or ("error", exception) for a clean ValueError / TypeError; re-raises anything else."""
    try:
        return "ok", fn(**args)
    except (ValueError, TypeError) as exc:
        return "error", exc


def _check_clean(exc: Exception, names: set[str], target: str) -> None:
    assert _names_an_argument(str(exc), names), f"{target}: {type(exc).__name__} names no argument: {exc}"


def run_case(target: str, data) -> None:
    mk = Maker(data)
    try:
        fn, args = TARGETS[target](mk)
    except (ValueError, TypeError) as exc:  # DecodeConfig(...) refused a field
        _check_clean(exc, {"DecodeConfig"}, target)
        count("clean error")
        return
    names = set(args) | {"skeleton_table", "chains", "positions"}
    kind, out = _outcome(fn, args)
    if kind == "error":
        _check_clean(out, names, target)
    if mk.views and kind == "ok":  # negative / conjugate bit views read by value
        assert_same(fn(**{key: plain(v) for key, v in args.items()}), out)
    if target == "decode" and args["backend"] in ("cpu", "python"):
        other = {**args, "backend": "python" if args["backend"] == "cpu" else "cpu"}
        kind2, out2 = _outcome(fn, other)
        assert kind2 == kind, f"backends disagree: {args['backend']} {kind} ({out!r}), other {kind2} ({out2!r})"
        if kind == "ok":
            assert_same(out2, out)
        else:  # the same error naming the same arguments (a budget message also names its backend)
            assert (type(out2), str(out2).split(":")[0]) == (type(out), str(out).split(":")[0]), (out, out2)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - _BASE_RSS
    assert grown < MEMORY_BUDGET_BYTES, f"peak memory grew by {grown / 2**30:.2f} GiB"
    count("returned" if kind == "ok" else "clean error")


@pytest.mark.parametrize("target", list(TARGETS))
@QUICK
@given(data=st.data())
def test_fuzz_quick(target, data):
    run_case(target, data)


@pytest.mark.slow
@pytest.mark.parametrize("target", list(TARGETS))
@SLOW
@given(data=st.data())
def test_fuzz_slow(target, data):
    run_case(target, data)

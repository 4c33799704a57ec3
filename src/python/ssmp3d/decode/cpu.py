"""The compiled CPU decoder (``backend="cpu"``): heatmaps to 3D people in one C++ call.

The C++ decoder (``src/csrc/decode.cpp``) does, per image, the NMS, the tag
gather, the greedy grouping, the ORPM read-out (reading the maps only at the
chosen locations) and the quarter-pixel refinement; images are split across
threads with the GIL released. The results equal the ``python`` reference
decoder (:mod:`.reference`) exactly, and its errors too.

Inputs are converted to contiguous float32 first (float16 / bfloat16 exactly;
float64 elementwise, which is what the reference does to every value it
reads). The refined map coordinates come back as float64 and go through
``MapTransform.map_to_image`` like the reference's.

The eager path calls ``ssmp3d._C.decode_cpu`` directly: a custom op costs
10-25 us of dispatch per call. ``torch.ops.ssmp3d.decode`` is the same
decoder as a custom op for ``torch.compile``; it returns map coordinates.
"""

from __future__ import annotations

import numpy as np
import torch

from ..geometry import MapTransform
from ..ops._ext import load_cpu
from ..ops.readout import skeleton_table
from ..skeleton import Skeleton
from .types import DecodeConfig, DecodeResult

_MEAN_BONES: dict[int, tuple[Skeleton, DecodeConfig, np.ndarray]] = {}


def _mean_bones(config: DecodeConfig, skeleton: Skeleton) -> np.ndarray:
    """``config.mean_bones_array(skeleton)``, cached per (config, skeleton) pair."""
    key = id(config) ^ (id(skeleton) << 1)
    hit = _MEAN_BONES.get(key)
    if hit is not None and hit[0] is skeleton and hit[1] is config:
        return hit[2]
    mb = np.ascontiguousarray(config.mean_bones_array(skeleton), dtype=np.float32)
    mb.setflags(write=False)
    if len(_MEAN_BONES) > 64:
        _MEAN_BONES.clear()
    _MEAN_BONES[key] = (skeleton, config, mb)
    return mb


def _float32(x: torch.Tensor | np.ndarray) -> tuple[object, int]:
    """A contiguous float32 CPU copy or view of ``x`` (kept alive by the caller) and its address."""
    if isinstance(x, torch.Tensor):
        if not (x.dtype == torch.float32 and x.device.type == "cpu" and x.is_contiguous()):
            x = x.detach().to(device="cpu", dtype=torch.float32).contiguous()
        return x, x.data_ptr()
    if not (x.dtype == np.float32 and x.flags.c_contiguous):
        x = np.ascontiguousarray(x, dtype=np.float32)
    return x, x.ctypes.data


def _raise(kind: int, image: int) -> None:
    if kind == 1:
        raise ValueError("heatmaps: contains NaN")
    if kind == 2:
        raise ValueError(f"tags: contains NaN at a candidate peak (image {image})")
    raise ValueError(f"orpm: contains NaN at a read-out location (image {image})")


def _decode_arrays(hm, tg, om, b: int, k: int, h: int, w: int, d: int, config: DecodeConfig,
                   table: np.ndarray, neck: int, pelvis: int, mean_bones: np.ndarray,
                   num_threads: int) -> tuple[np.ndarray, ...]:
    """Runs ``_C.decode_cpu``; returns the 10 output arrays (map coordinates first).

    ``table``: :func:`ssmp3d.ops.skeleton_table`; ``mean_bones``: contiguous
    float32 ``[K, 3]``. Both are checked in C++ before use.
    """
    hm, hp = _float32(hm)
    tg, tp = _float32(tg)
    om, op = _float32(om)
    p = config.max_people
    coords = np.empty((b, p, k, 2), np.float64)
    scores = np.empty((b, p, k), np.float32)
    detected = np.empty((b, p, k), np.bool_)
    peaks = np.empty((b, p, k), np.int64)
    joints3d = np.empty((b, p, k, 3), np.float32)
    rule = np.empty((b, p, k), np.int8)
    joint = np.empty((b, p, k), np.int16)
    person_scores = np.empty((b, p), np.float32)
    tags = np.empty((b, p, d), np.float64)
    num_people = np.empty((b,), np.int32)
    kind, image = load_cpu().decode_cpu(
        hp, tp, op, b, k, h, w, d, config.det_threshold, config.nms_radius, config.max_candidates,
        config.tag_threshold, config.min_joints, p, config.readout == "naive", config.readout_threshold,
        config.readout_min_dist, config.refine, table.ctypes.data, neck, pelvis, mean_bones.ctypes.data,
        coords.ctypes.data, scores.ctypes.data, detected.ctypes.data, peaks.ctypes.data,
        joints3d.ctypes.data, rule.ctypes.data, joint.ctypes.data, person_scores.ctypes.data,
        tags.ctypes.data, num_people.ctypes.data, num_threads)
    if kind:
        _raise(kind, image)
    return coords, scores, detected, peaks, joints3d, rule, joint, person_scores, tags, num_people


def decode_cpu(
    heatmaps: torch.Tensor | np.ndarray,
    tags: torch.Tensor | np.ndarray,
    orpm: torch.Tensor | np.ndarray,
    config: DecodeConfig,
    skeleton: Skeleton,
    transform: MapTransform,
    num_threads: int,
) -> DecodeResult:
    """Decodes a validated batch with the C++ decoder (see :func:`ssmp3d.decode.decode`).

    Args:
        heatmaps, tags, orpm: Validated by :func:`ssmp3d.decode.api.validate_inputs`.
        config: Decoding parameters.
        skeleton: Joint set.
        transform: Map -> image coordinates for the 2D output.
        num_threads: Threads (images are split across them); 0 = all cores.
    """
    b, k, h, w = heatmaps.shape
    d = 1 if tags.ndim == 4 else tags.shape[2]
    coords, *rest = _decode_arrays(heatmaps, tags, orpm, b, k, h, w, d, config, skeleton_table(skeleton),
                                   skeleton.neck, skeleton.pelvis, _mean_bones(config, skeleton), num_threads)
    joints2d = transform.map_to_image(coords).astype(np.float32)
    return DecodeResult(joints2d, *rest)


# ---------------------------------------------------------------- custom op


@torch.library.custom_op("ssmp3d::decode", mutates_args=())
def _decode_op(heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor, skeleton_table: torch.Tensor,
               neck: int, pelvis: int, mean_bones: torch.Tensor, det_threshold: float, nms_radius: int,
               max_candidates: int, tag_threshold: float, min_joints: int, max_people: int, naive: bool,
               readout_threshold: float, readout_min_dist: float, refine: bool) -> list[torch.Tensor]:
    """``torch.ops.ssmp3d.decode``: the cpu decoder as a custom op (CPU tensors, default threads).

    The skeleton is :func:`ssmp3d.ops.skeleton_table` plus ``neck`` and
    ``pelvis``; ``mean_bones`` is ``[K, 3]`` metres. Returns the fields of
    :class:`DecodeResult` in order, except that the first is ``coords
    [B, P, K, 2]`` float64 *map* coordinates (0 where not detected) instead
    of image pixels: apply ``MapTransform.map_to_image`` to the detected
    ones to get ``joints2d``.
    """
    from types import SimpleNamespace

    from .api import validate_inputs

    table = np.ascontiguousarray(skeleton_table.detach().cpu().numpy(), dtype=np.int64)
    k = table.shape[1] if table.ndim == 2 else -1
    if table.shape != (2 + 2 * k, k):
        raise ValueError(f"skeleton_table: expected [2 + 2K, K], got {list(table.shape)}")
    mb = np.ascontiguousarray(mean_bones.detach().cpu().numpy(), dtype=np.float32)
    if mb.shape != (k, 3):
        raise ValueError(f"mean_bones: expected [K = {k}, 3], got {list(mb.shape)}")
    config = DecodeConfig(det_threshold=det_threshold, nms_radius=nms_radius, max_candidates=max_candidates,
                          tag_threshold=tag_threshold, min_joints=min_joints, max_people=max_people,
                          readout="naive" if naive else "full", readout_threshold=readout_threshold,
                          readout_min_dist=readout_min_dist, refine=refine)
    shape_of = SimpleNamespace(num_joints=k, name="skeleton_table")
    b, _, h, w, d = validate_inputs(heatmaps, tags, orpm, shape_of)  # type: ignore[arg-type]
    coords, *rest = _decode_arrays(heatmaps, tags, orpm, b, k, h, w, d, config, table, neck, pelvis, mb,
                                   torch.get_num_threads())
    coords[~rest[1]] = 0.0  # no NaN in custom-op outputs: 0 where not detected
    return [torch.from_numpy(a) for a in (coords, *rest)]


@_decode_op.register_fake
def _decode_fake(heatmaps, tags, orpm, skeleton_table, neck, pelvis, mean_bones, det_threshold, nms_radius,
                 max_candidates, tag_threshold, min_joints, max_people, naive, readout_threshold, readout_min_dist,
                 refine):
    b, k = heatmaps.shape[0], heatmaps.shape[1]
    d = 1 if tags.dim() == 4 else tags.shape[2]
    p = max_people
    e = heatmaps.new_empty
    return [e((b, p, k, 2), dtype=torch.float64), e((b, p, k), dtype=torch.float32), e((b, p, k), dtype=torch.bool),
            e((b, p, k), dtype=torch.int64), e((b, p, k, 3), dtype=torch.float32), e((b, p, k), dtype=torch.int8),
            e((b, p, k), dtype=torch.int16), e((b, p), dtype=torch.float32), e((b, p, d), dtype=torch.float64),
            e((b,), dtype=torch.int32)]

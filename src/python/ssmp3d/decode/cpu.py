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

import functools

import numpy as np
import torch

from ..geometry import MapTransform
from ..ops._ext import load_cpu
from ..ops.readout import skeleton_table
from ..skeleton import Skeleton
from .types import DecodeConfig, DecodeResult

_TABLES: dict[int, tuple[Skeleton, DecodeConfig, np.ndarray, np.ndarray]] = {}


def _tables(config: DecodeConfig, skeleton: Skeleton) -> tuple[int, int]:
    """Addresses of ``skeleton_table(skeleton)`` and of ``config.mean_bones_array(skeleton)``
    (float32), cached per (config, skeleton) pair; the arrays stay alive in the cache."""
    key = id(config) ^ (id(skeleton) << 1)
    hit = _TABLES.get(key)
    if hit is None or hit[0] is not skeleton or hit[1] is not config:
        table = skeleton_table(skeleton)
        mb = np.ascontiguousarray(config.mean_bones_array(skeleton), dtype=np.float32)
        mb.setflags(write=False)
        if len(_TABLES) > 64:
            _TABLES.clear()
        hit = _TABLES[key] = (skeleton, config, table, mb)
    return hit[2].ctypes.data, hit[3].ctypes.data


@functools.lru_cache(maxsize=64)
def _layout(b: int, p: int, k: int, d: int) -> tuple[int, tuple[tuple[tuple[int, ...], np.dtype, int], ...]]:
    """Byte size and (shape, dtype, offset) of the 10 outputs packed in one buffer
    (64-byte aligned offsets): one allocation and one address lookup per call."""
    specs = [((b, p, k, 2), np.float64), ((b, p, k), np.float32), ((b, p, k), np.bool_), ((b, p, k), np.int64),
             ((b, p, k, 3), np.float32), ((b, p, k), np.int8), ((b, p, k), np.int16), ((b, p), np.float32),
             ((b, p, d), np.float64), ((b,), np.int32)]
    out, offset = [], 0
    for shape, dtype in specs:
        dt = np.dtype(dtype)
        out.append((shape, dt, offset))
        offset += -(-int(np.prod(shape)) * dt.itemsize // 64) * 64
    return offset, tuple(out)


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
                   table_ptr: int, neck: int, pelvis: int, mean_bones_ptr: int,
                   num_threads: int) -> tuple[np.ndarray, ...]:
    """Runs ``_C.decode_cpu``; returns the 10 output arrays (map coordinates first).

    ``table_ptr``: address of a :func:`ssmp3d.ops.skeleton_table` (checked in
    C++ before use); ``mean_bones_ptr``: of contiguous float32 ``[K, 3]``.
    """
    hm, hp = _float32(hm)
    tg, tp = _float32(tg)
    om, op = _float32(om)
    p = config.max_people
    size, layout = _layout(b, p, k, d)
    buf = np.empty(size, np.uint8)
    base = buf.ctypes.data
    out = tuple(np.ndarray(shape, dtype, buf, offset) for shape, dtype, offset in layout)
    ptr = [base + offset for _, _, offset in layout]
    kind, image = load_cpu().decode_cpu(
        hp, tp, op, b, k, h, w, d, config.det_threshold, config.nms_radius, config.max_candidates,
        config.tag_threshold, config.min_joints, p, config.readout == "naive", config.readout_threshold,
        config.readout_min_dist, config.refine, table_ptr, neck, pelvis, mean_bones_ptr, *ptr, num_threads)
    if kind:
        _raise(kind, image)
    return out


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
    table_ptr, mean_bones_ptr = _tables(config, skeleton)
    coords, *rest = _decode_arrays(heatmaps, tags, orpm, b, k, h, w, d, config, table_ptr, skeleton.neck,
                                   skeleton.pelvis, mean_bones_ptr, num_threads)
    joints2d = transform.map_to_image(coords).astype(np.float32)
    return DecodeResult(joints2d, *rest)


# ---------------------------------------------------------------- custom op


@torch.library.custom_op("ssmp3d::decode", mutates_args=())
def _decode_op(heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor, skeleton_table: torch.Tensor,
               neck: int, pelvis: int, mean_bones: torch.Tensor, det_threshold: float, nms_radius: int,
               max_candidates: int, tag_threshold: float, min_joints: int, max_people: int, naive: bool,
               readout_threshold: float, readout_min_dist: float, refine: bool) -> list[torch.Tensor]:
    """``torch.ops.ssmp3d.decode``: the decoder as a custom op (default threads).

    CPU tensors run the ``cpu`` decoder; CUDA tensors the ``cuda`` one, with
    the outputs copied back to the inputs' device.

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
    if heatmaps.device.type == "cuda":
        from .cuda import check_devices, decode_tables, gather_on_device, lists_of_table

        check_devices(heatmaps, tags, orpm)
        lists = lists_of_table(table)
        tables, _ = gather_on_device(heatmaps, tags, orpm, config, lists)
        coords, *rest = decode_tables(tables, b, k, h, w, d, config, lists, neck, pelvis, table.ctypes.data,
                                      mb.ctypes.data, torch.get_num_threads())
    else:
        coords, *rest = _decode_arrays(heatmaps, tags, orpm, b, k, h, w, d, config, table.ctypes.data, neck,
                                       pelvis, mb.ctypes.data, torch.get_num_threads())
    coords[~rest[1]] = 0.0  # no NaN in custom-op outputs: 0 where not detected
    return [torch.from_numpy(a).to(heatmaps.device) for a in (coords, *rest)]


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

"""What the compiled decoders share: argument tables, output buffers and error mapping.

The ``cpu`` backend (:mod:`.cpu`), the ``cuda`` backend's host half
(:mod:`.cuda`) and the custom op (:mod:`.op`) call the C++ decoder through
these helpers, so the three marshal the configuration the same way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from ..ops import _maps
from ..ops._ext import load_cpu
from ..ops.readout import skeleton_table
from ..skeleton import Skeleton
from ..bones import TreeGeometry, tree_geometry
from .types import DecodeConfig

__all__ = ["ConfigTables", "config_tables", "decode_arrays", "group_args", "output_buffers",
           "raise_status", "readout_code", "tree_of"]

GROUPING_CODES = {"paper": 0, "assign": 1}
PERSON_SCORE_CODES = {"detected": 0, "all": 1}
#: Read-out modes of the C++ decoders; 2 = none (2D only, no ORPM maps).
READOUT_NONE = 2


def readout_code(config: DecodeConfig, has_orpm: bool) -> int:
    """0 full, 1 naive, 2 none (``has_orpm`` False: 2D-only decoding)."""
    if not has_orpm:
        return READOUT_NONE
    return 1 if config.readout == "naive" else 0


@dataclass(frozen=True, eq=False)
class ConfigTables:
    """Arrays the C++ decoder reads by address, kept alive together.

    Attributes:
        table: :func:`ssmp3d.ops.skeleton_table` (int64 ``[2 + 2K, K]``).
        mean_bones: ``[K, 3]`` float32 metres (the read-out's last fallback).
        tree: The grouping's :class:`~ssmp3d.bones.TreeGeometry`
            (``path`` float64 ``[K, K]``) from the same mean bones.
        table_ptr, mean_bones_ptr, path_ptr: Their addresses, looked up once
            (``ndarray.ctypes.data`` costs microseconds per call).
    """

    table: np.ndarray
    mean_bones: np.ndarray
    tree: TreeGeometry
    table_ptr: int = field(init=False)
    mean_bones_ptr: int = field(init=False)
    path_ptr: int = field(init=False)

    def __post_init__(self) -> None:
        for name, array in (("table_ptr", self.table), ("mean_bones_ptr", self.mean_bones),
                            ("path_ptr", self.tree.path)):
            object.__setattr__(self, name, array.ctypes.data)


def tree_of(config: DecodeConfig, skeleton: Skeleton) -> TreeGeometry:
    """The skeleton tree with the decoder's mean bone lengths (cached)."""
    return tree_geometry(skeleton.parents, skeleton.topological_order, config.mean_bones_array(skeleton))


_TABLES: dict[int, tuple[Skeleton, DecodeConfig, ConfigTables]] = {}


def config_tables(config: DecodeConfig, skeleton: Skeleton) -> ConfigTables:
    """:class:`ConfigTables` of a (config, skeleton) pair, cached by identity."""
    key = id(config) ^ (id(skeleton) << 1)
    hit = _TABLES.get(key)
    if hit is None or hit[0] is not skeleton or hit[1] is not config:
        mb = np.ascontiguousarray(config.mean_bones_array(skeleton), dtype=np.float32)
        mb.setflags(write=False)
        tables = ConfigTables(skeleton_table(skeleton), mb, tree_of(config, skeleton))
        if len(_TABLES) > 64:
            _TABLES.clear()
        hit = _TABLES[key] = (skeleton, config, tables)
    return hit[2]


def group_args(config: DecodeConfig, path_ptr: int) -> tuple:
    """The grouping arguments of the C++ decoders, in binding order (``path_ptr``:
    :attr:`ConfigTables.path_ptr`)."""
    return (config.tag_threshold, GROUPING_CODES[config.grouping], config.geometry_weight,
            PERSON_SCORE_CODES[config.person_score], config.min_person_score, config.min_joints,
            config.max_people, path_ptr)


_FIELDS = tuple(f"f{i}" for i in range(10))


@functools.lru_cache(maxsize=64)
def _layout(b: int, p: int, k: int, d: int) -> tuple[np.dtype, tuple[int, ...]]:
    """The 10 outputs packed in one buffer (64-byte aligned offsets), as a structured
    dtype whose fields are the arrays, and the offsets: one allocation, one address
    lookup and 10 field views per call."""
    specs = [((b, p, k, 2), np.float64), ((b, p, k), np.float32), ((b, p, k), np.bool_), ((b, p, k), np.int64),
             ((b, p, k, 3), np.float32), ((b, p, k), np.int8), ((b, p, k), np.int16), ((b, p), np.float32),
             ((b, p, d), np.float64), ((b,), np.int32)]
    formats, offsets, offset = [], [], 0
    for shape, dtype in specs:
        dt = np.dtype(dtype)
        formats.append((dt, shape))
        offsets.append(offset)
        offset += -(-int(np.prod(shape)) * dt.itemsize // 64) * 64
    packed = np.dtype({"names": list(_FIELDS), "formats": formats, "offsets": offsets, "itemsize": max(offset, 1)})
    return packed, tuple(offsets)


def output_buffers(b: int, p: int, k: int, d: int) -> tuple[tuple[np.ndarray, ...], list[int]]:
    """The decoder's 10 output arrays (views of one buffer) and their addresses:
    coords ``[B, P, K, 2]`` float64, scores, detected, peaks, joints3d,
    readout_rule, readout_joint, person_scores, tags, num_people."""
    packed, offsets = _layout(b, p, k, d)
    buf = np.empty((), packed)
    base = buf.ctypes.data
    return tuple(buf[name] for name in _FIELDS), [base + offset for offset in offsets]


def map_inputs(hm, tg, om) -> tuple[tuple[object, ...], tuple[int, int, int], tuple[int, ...], tuple[int, int, int]]:
    """The decoder's three map inputs, read in place where possible (:mod:`ssmp3d.ops._maps`).

    Args:
        hm: ``[B, K, H, W]`` heatmaps.
        tg: ``[B, K, H, W]`` or ``[B, K, D, H, W]`` tags.
        om: ``[B, K, 3, H, W]`` ORPM maps, or None.

    Returns:
        ``(keep, addresses, strides, types)``: the objects to keep alive, the
        three addresses (0 for no ORPM), the 8 element strides of the C++
        decoder: heatmaps (batch, joint), tags (batch, joint, d), ORPM
        (batch, joint, component), and the three element type codes
        (float32 0, float16 1, bfloat16 2).
    """
    hk, hp, hs, ht = _maps.native_maps(hm)
    tk, tp, ts, tt = _maps.native_maps(tg)
    tag_strides = (ts[0], ts[1], ts[2] if len(ts) == 5 else 0)
    if om is None:
        ok, op, os_, ot = None, 0, (0, 0, 0), 0
    else:
        ok, op, os_, ot = _maps.native_maps(om)
    return (hk, tk, ok), (hp, tp, op), (hs[0], hs[1], *tag_strides, os_[0], os_[1], os_[2]), (ht, tt, ot)


def raise_status(kind: int, image: int) -> None:
    """Raises the ``ValueError`` of a C++ decoder status (kind 1-3; 0 is fine)."""
    if kind == 1:
        raise ValueError("heatmaps: contains NaN")
    if kind == 2:
        raise ValueError(f"tags: contains NaN at a candidate peak (image {image})")
    if kind == 3:
        raise ValueError(f"orpm: contains NaN at a read-out location (image {image})")


def decode_arrays(hm, tg, om, b: int, k: int, h: int, w: int, d: int, config: DecodeConfig,
                  tables: ConfigTables, neck: int, pelvis: int, num_threads: int) -> tuple[np.ndarray, ...]:
    """Runs ``_C.decode_cpu``; returns the 10 output arrays (map coordinates first).

    ``om`` may be None: 2D only, no read-out (3D outputs NaN, rules NONE).
    """
    keep, (hp, tp, op), strides, types = map_inputs(hm, tg, om)
    out, ptr = output_buffers(b, config.max_people, k, d)
    kind, image = load_cpu().decode_cpu(
        hp, tp, op, strides, types, b, k, h, w, d, config.det_threshold, config.nms_radius, config.max_candidates,
        *group_args(config, tables.path_ptr), readout_code(config, op != 0), config.readout_threshold,
        config.readout_min_dist, config.refine, tables.table_ptr, neck, pelvis, tables.mean_bones_ptr, *ptr,
        num_threads)
    del keep  # the inputs (or their copies) stay alive until the call returns
    raise_status(kind, image)
    return out

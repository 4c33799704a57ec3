"""The candidate tables of the ``cuda`` decoder and its host half (no GPU needed).

The kernel (:mod:`.cuda`) writes, per batch, one buffer of 64-byte aligned
sections (:func:`table_layout`): the top ``M`` peaks of each (image, joint)
with their scores, indices, tags and refinement signs, NaN flags, and the
ORPM vectors of the maps in each joint's *gather list* (:func:`gather_lists`).
:func:`decode_tables` is the host half: the C++ grouper and read-out
(``ssmp3d._C.decode_candidates_cpu``) on such a buffer in host memory.
:func:`pack_tables` packs tables made on the host (the kernel's twin,
``ssmp3d.ops._reference.nms_gather_tables``) into the same buffer, so the
host half runs and is tested without a GPU.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..ops._ext import load_cpu
from ..ops.readout import skeleton_table
from ..skeleton import Skeleton
from .native import ConfigTables, group_args, output_buffers, raise_status, readout_code
from .types import DecodeConfig

__all__ = ["SECTIONS", "GatherLists", "decode_tables", "gather_lists", "lists_of_table", "pack_tables", "table_layout"]


@dataclass(frozen=True)
class GatherLists:
    """The ORPM maps gathered at each joint's peaks.

    Attributes:
        start: ``[K + 1]`` int32 offsets; joint ``l``'s list is
            ``maps[start[l]:start[l + 1]]``.
        maps: ``[T]`` int32 map ids, ascending within each list.
        slot: ``[K, K]`` int32: position of map ``m`` in location ``l``'s
            list, -1 when not gathered.
    """

    start: np.ndarray
    maps: np.ndarray
    slot: np.ndarray

    @property
    def total(self) -> int:
        """``T``, the number of (location, map) pairs gathered per candidate rank."""
        return int(self.start[-1])


def gather_lists(skeleton: Skeleton, with_orpm: bool = True) -> GatherLists:
    """Gather lists of a skeleton: at location ``l``, every map ``m`` with ``S[m, l]``
    (the read-out sets, which hold ``S[l, l]``), so every value the read-out,
    full or naive, can read is gathered; empty lists when ``with_orpm`` is
    False (2D-only decoding reads no ORPM value). Cached."""
    return lists_of_table(skeleton_table(skeleton), with_orpm)


def lists_of_table(table: np.ndarray, with_orpm: bool = True) -> GatherLists:
    """:func:`gather_lists` of a :func:`ssmp3d.ops.skeleton_table` (cached by content)."""
    key = table.tobytes() + bytes([table.shape[1] & 0xFF, int(with_orpm)])
    hit = _LISTS.get(key)
    if hit is not None:
        return hit
    k = table.shape[1]
    sets = table[2 + k:]  # S[m, l]
    start, maps = [0], []
    slot = np.full((k, k), -1, np.int32)
    for loc in range(k):
        members = [m for m in range(k) if sets[m, loc] or m == loc] if with_orpm else []
        for s, m in enumerate(members):
            slot[m, loc] = s
        maps += members
        start.append(len(maps))
    out = GatherLists(np.asarray(start, np.int32), np.asarray(maps, np.int32), slot)
    for a in (out.start, out.maps, out.slot):
        a.setflags(write=False)
    if len(_LISTS) > 64:
        _LISTS.clear()
    _LISTS[key] = out
    return out


_LISTS: dict[bytes, GatherLists] = {}  # bounded (cleared beyond 64 entries), keyed by content


#: The sections of the buffer, in order.
SECTIONS = ("scores", "indices", "counts", "flags", "tags_at", "orpm_at", "refine")


@functools.lru_cache(maxsize=64)
def table_layout(b: int, k: int, m: int, d: int, t: int) -> tuple[int, dict[str, tuple[tuple[int, ...], np.dtype, int]]]:
    """Byte size and ``name -> (shape, dtype, offset)`` of the candidate tables packed
    in one buffer (64-byte aligned sections), as ``nms_gather_cuda`` writes them."""
    specs = [((b, k, m), np.float32), ((b, k, m), np.int64), ((b, k), np.int32), ((b, k), np.int32),
             ((b, k, m, d), np.float32), ((b, m * t, 3), np.float32), ((b, k, m, 2), np.int8)]
    out, offset = {}, 0
    for name, (shape, dtype) in zip(SECTIONS, specs):
        dt = np.dtype(dtype)
        out[name] = (shape, dt, offset)
        offset += -(-int(np.prod(shape)) * dt.itemsize // 64) * 64
    return offset, out


def decode_tables(tables: np.ndarray, b: int, k: int, h: int, w: int, d: int, config: DecodeConfig,
                  lists: GatherLists, neck: int, pelvis: int, arrays: ConfigTables, num_threads: int,
                  with_orpm: bool = True) -> tuple[np.ndarray, ...]:
    """The host half: candidate tables -> the 10 decoder outputs (map coordinates first).

    Args:
        tables: Contiguous uint8 host buffer in :func:`table_layout` order
            for ``(b, k, config.max_candidates, d, lists.total)``.
        b, k, h, w, d: Batch, joints, map size, tag dimension.
        config: Decoding parameters.
        lists: The gather lists that made the tables.
        neck, pelvis: Joint indices of the skeleton.
        arrays: The skeleton table, mean bones and tree of the decoder
            (:func:`ssmp3d.decoding.native.config_tables`).
        num_threads: Host threads; 0 = all cores.
        with_orpm: False for 2D-only decoding (no read-out; the lists may be empty).

    Raises:
        ValueError: NaN in the heatmaps or in a tag at a peak, or in an ORPM
            value read (the same messages as the ``cpu`` backend); gather
            lists that miss a read-out set.
    """
    m = config.max_candidates
    size_in, layout = table_layout(b, k, m, d, lists.total)
    if tables.dtype != np.uint8 or tables.shape != (size_in,) or not tables.flags.c_contiguous:
        raise ValueError(f"tables: expected a contiguous uint8 buffer of {size_in} bytes")
    base = tables.ctypes.data
    sec = [base + layout[name][2] for name in SECTIONS]
    out, ptr = output_buffers(b, config.max_people, k, d)
    kind, image = load_cpu().decode_candidates_cpu(
        *sec, lists.start.ctypes.data, lists.slot.ctypes.data, b, k, h, w, d, m,
        *group_args(config, arrays.path_ptr), readout_code(config, with_orpm), config.readout_threshold,
        config.readout_min_dist, config.refine, arrays.table_ptr, neck, pelvis,
        arrays.mean_bones_ptr, *ptr, num_threads)
    raise_status(kind, image)
    return out


def pack_tables(sections: dict[str, np.ndarray], b: int, k: int, m: int, d: int, t: int) -> np.ndarray:
    """Packs candidate tables (e.g. :func:`ssmp3d.ops._reference.nms_gather_tables`)
    into the :func:`table_layout` buffer that :func:`decode_tables` reads."""
    size, layout = table_layout(b, k, m, d, t)
    buf = np.zeros(size, np.uint8)
    for name in SECTIONS:
        shape, dtype, offset = layout[name]
        np.ndarray(shape, dtype, buf, offset)[...] = np.asarray(sections[name]).reshape(shape)
    return buf

"""The CUDA decoder (``backend="cuda"``): peaks and gathers on the GPU, grouping on the host.

One kernel launch (``ssmp3d._C_cuda.nms_gather_cuda``, one thread block per
(image, joint)) reads the heatmaps once, finds the peaks with the exact tie
rules and gathers, at each kept peak, its tags, the refinement signs and the
ORPM vectors of every map its location may be read for (the joint's *gather
list*: the maps ``m`` with ``S[m, l]``, about 99 of 19 x 19 for Panoptic).
All of it lands in one device buffer, copied to pinned host memory in one
transfer per batch; after one stream synchronisation the C++ grouper (either strategy)
and read-out (``ssmp3d._C.decode_candidates_cpu``, the back half of the
``cpu`` decoder, images split across threads) finish the batch.

Why the grouper stays on the host: it is a sequential search (greedy, or one assignment per joint type) over a
few hundred candidates per image, a poor fit for a GPU, while the compact
tables (about 45 KB per image) cross PCIe in microseconds. Results equal the
``cpu`` and ``python`` backends exactly: the same float32 values are
compared, and everything after the gather is the same C++ code.

Inputs are CUDA tensors (float32, float16 or bfloat16 read natively when all
three share the dtype; otherwise all are converted to float32 on the GPU,
as the other backends do). The call synchronises once (it returns host
results), so it cannot be captured in a CUDA graph; ``ssmp3d.ops.nms_gather``
and ``ssmp3d.ops.heatmap_nms`` can.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import MapTransform
from ..ops import _cuda, _device_cache, _maps
from ..ops._ext import load_cpu, load_cuda
from ..ops.readout import skeleton_table
from ..skeleton import Skeleton
from .native import ConfigTables, config_tables, group_args, output_buffers, raise_status, readout_code
from .types import DecodeConfig, DecodeResult

__all__ = ["GatherLists", "gather_lists", "lists_of_table", "table_layout", "pack_tables", "launch_gather", "decode_tables", "decode_cuda"]


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


def _device_lists(lists: GatherLists, device: torch.device) -> int:
    """Device address of ``start`` then ``maps`` of ``lists``, int32, on ``device``
    (``ssmp3d.ops._device_cache``: copied once per device and content)."""
    return _device_cache.device_address(np.concatenate([lists.start, lists.maps]), device)


_SECTIONS = ("scores", "indices", "counts", "flags", "tags_at", "orpm_at", "refine")


@functools.lru_cache(maxsize=64)
def table_layout(b: int, k: int, m: int, d: int, t: int) -> tuple[int, dict[str, tuple[tuple[int, ...], np.dtype, int]]]:
    """Byte size and ``name -> (shape, dtype, offset)`` of the candidate tables packed
    in one buffer (64-byte aligned sections), as ``nms_gather_cuda`` writes them."""
    specs = [((b, k, m), np.float32), ((b, k, m), np.int64), ((b, k), np.int32), ((b, k), np.int32),
             ((b, k, m, d), np.float32), ((b, m * t, 3), np.float32), ((b, k, m, 2), np.int8)]
    out, offset = {}, 0
    for name, (shape, dtype) in zip(_SECTIONS, specs):
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
    sec = [base + layout[name][2] for name in _SECTIONS]
    out, ptr = output_buffers(b, config.max_people, k, d)
    kind, image = load_cpu().decode_candidates_cpu(
        *sec, lists.start.ctypes.data, lists.slot.ctypes.data, b, k, h, w, d, m,
        *group_args(config, arrays.path_ptr), readout_code(config, with_orpm), config.readout_threshold,
        config.readout_min_dist, config.refine, arrays.table_ptr, neck, pelvis,
        arrays.mean_bones_ptr, *ptr, num_threads)
    raise_status(kind, image)
    return out


def check_devices(heatmaps: object, tags: object, orpm: object) -> torch.device:
    """The one CUDA device holding the inputs (``orpm`` may be None); ``ValueError``
    naming the first that is not."""
    device = None
    named = (("heatmaps", heatmaps), ("tags", tags), ("orpm", orpm))
    for name, x in (item for item in named if item[1] is not None):
        if not isinstance(x, torch.Tensor) or x.device.type != "cuda":
            where = x.device if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name}: backend 'cuda' needs CUDA tensors, got {where}")
        if device is None:
            device = x.device
        elif x.device != device:
            raise ValueError(f"{name}: expected the device of heatmaps ({device}), got {x.device}")
    return device


def launch_gather(hm: torch.Tensor, tg: torch.Tensor, om: torch.Tensor | None, config: DecodeConfig,
                  lists: GatherLists) -> tuple[torch.Tensor, int]:
    """Enqueues the kernel on the current stream; returns the device table buffer and ``D``.

    Inputs: CUDA tensors of one device, ``[B, K, H, W]``, ``[B, K, (D,) H, W]``,
    ``[B, K, 3, H, W]`` (None: 2D only; ``lists`` must then be empty). No
    synchronisation and no host-to-device copy once ``lists`` has been used
    on this device (cached by device and content, ``ops/_device_cache.py``),
    so the launch can be captured in a CUDA graph after one warm-up call.
    """
    if om is None and lists.total:
        raise ValueError("orpm: needed by non-empty gather lists")
    device = hm.device
    dtypes = {hm.dtype, tg.dtype} | ({om.dtype} if om is not None else set())
    dtype = hm.dtype if len(dtypes) == 1 and hm.dtype in _cuda.MAP_DTYPES else torch.float32
    b, k, h, w = hm.shape
    d = 1 if tg.dim() == 4 else tg.shape[2]
    hm, tg = (_maps.device_maps(x, dtype) for x in (hm, tg))  # views with contiguous maps: read in place
    om = None if om is None else _maps.device_maps(om, dtype)
    strides = _maps.layout_strides(hm, tg, om)
    om = hm if om is None else om  # never read when the lists are empty
    m, t = config.max_candidates, lists.total
    size, layout = table_layout(b, k, m, d, t)
    with _cuda.on_device(device) as stream:
        dev_lists = _device_lists(lists, device)
        dev_buf = torch.empty(size, dtype=torch.uint8, device=device)
        base = dev_buf.data_ptr()
        sec = [base + layout[name][2] for name in _SECTIONS]
        load_cuda().nms_gather_cuda(
            hm.data_ptr(), tg.data_ptr(), om.data_ptr(), strides, _cuda.dtype_code(dtype), b, k, h, w, d,
            config.det_threshold, config.nms_radius, m, dev_lists, dev_lists + 4 * (k + 1),
            t, *sec, stream)
    return dev_buf, d


def gather_on_device(hm: torch.Tensor, tg: torch.Tensor, om: torch.Tensor | None, config: DecodeConfig,
                     lists: GatherLists) -> tuple[np.ndarray, int]:
    """Runs the kernel and the one copy to pinned host memory; returns the host tables and ``D``."""
    dev_buf, d = launch_gather(hm, tg, om, config, lists)
    with torch.cuda.device(hm.device):
        host = torch.empty(dev_buf.numel(), dtype=torch.uint8, pin_memory=True)
        host.copy_(dev_buf, non_blocking=True)
        torch.cuda.current_stream(hm.device).synchronize()
    return host.numpy(), d


def decode_cuda_arrays(heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor | None,
                       config: DecodeConfig, skeleton: Skeleton, num_threads: int) -> tuple[np.ndarray, ...]:
    """The 10 decoder outputs as numpy arrays (map coordinates first) of validated CUDA inputs."""
    check_devices(heatmaps, tags, orpm)
    with_orpm = orpm is not None
    lists = gather_lists(skeleton, with_orpm)
    tables, d = gather_on_device(heatmaps, tags, orpm, config, lists)
    b, k, h, w = heatmaps.shape
    return decode_tables(tables, b, k, h, w, d, config, lists, skeleton.neck, skeleton.pelvis,
                         config_tables(config, skeleton), num_threads, with_orpm)


def decode_cuda(heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor | None, config: DecodeConfig,
                skeleton: Skeleton, transform: MapTransform, num_threads: int) -> DecodeResult:
    """Decodes a validated batch of CUDA tensors (see :func:`ssmp3d.decoding.decode`).

    Args:
        heatmaps, tags, orpm: Validated by :func:`ssmp3d.decoding.validate.validate_inputs`;
            CUDA tensors on one device (``orpm`` None: 2D only).
        config: Decoding parameters.
        skeleton: Joint set.
        transform: Map -> image coordinates for the 2D output.
        num_threads: Host threads of the grouping / read-out half; 0 = all cores.

    Raises:
        ValueError: an input is not on the CUDA device of ``heatmaps``; NaN
            (the message names the input, as the other backends).
    """
    coords, *rest = decode_cuda_arrays(heatmaps, tags, orpm, config, skeleton, num_threads)
    joints2d = transform.map_to_image(coords).astype(np.float32)
    return DecodeResult(joints2d, *rest)


def pack_tables(sections: dict[str, np.ndarray], b: int, k: int, m: int, d: int, t: int) -> np.ndarray:
    """Packs candidate tables (e.g. :func:`ssmp3d.ops._reference.nms_gather_tables`)
    into the :func:`table_layout` buffer that :func:`decode_tables` reads."""
    size, layout = table_layout(b, k, m, d, t)
    buf = np.zeros(size, np.uint8)
    for name in _SECTIONS:
        shape, dtype, offset = layout[name]
        np.ndarray(shape, dtype, buf, offset)[...] = np.asarray(sections[name]).reshape(shape)
    return buf

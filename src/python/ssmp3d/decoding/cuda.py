"""The CUDA decoder (``backend="cuda"``): peaks and gathers on the GPU, grouping on the host.

One kernel launch (``ssmp3d._C_cuda.nms_gather_cuda``, one thread block per
(image, joint)) reads the heatmaps once, finds the peaks with the exact tie
rules and gathers, at each kept peak, its tags, the refinement signs and the
ORPM vectors of every map its location may be read for (the joint's *gather
list*: the maps ``m`` with ``S[m, l]``, about 99 of 19 x 19 for Panoptic).
All of it lands in one device buffer (:mod:`.candidate_tables`), copied to
pinned host memory in one transfer per batch; the C++ grouper (either
strategy) and read-out (``ssmp3d._C.decode_candidates_cpu``, the back half
of the ``cpu`` decoder, images split across threads) finish the batch.

The decoder is two halves, which :func:`decode_cuda` runs one after the
other and the pipelined :class:`~ssmp3d.predict.Predictor`
(:mod:`ssmp3d.predict.stream_cuda`) runs on two threads:

* **device stage**, :func:`gather_tables` then :func:`copy_tables`: the
  kernel on the caller's current stream, then the copy of its buffer into
  pinned host memory, enqueued on the current stream or on a side stream
  that waits for the kernel (an event), ending with a *ready* event. Nothing
  waits on the host.
* **host stage**, :func:`decode_host`: waits for the ready event (the one
  synchronisation), then groups and reads out on the host.

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

from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import MapTransform
from ..ops import _cuda, _device_cache, _maps
from ..ops._ext import load_cuda
from ..skeleton import Skeleton
from .candidate_tables import (SECTIONS as _SECTIONS, GatherLists, decode_tables, gather_lists, lists_of_table,
                               pack_tables, table_layout)
from .native import config_tables
from .types import DecodeConfig, DecodeResult

__all__ = ["DeviceTables", "GatherLists", "HostTables", "check_devices", "copy_tables", "decode_cuda", "decode_host",
           "decode_tables", "gather_lists", "gather_on_device", "gather_tables", "launch_gather", "lists_of_table",
           "pack_tables", "table_layout"]


def _device_lists(lists: GatherLists, device: torch.device) -> int:
    """Device address of ``start`` then ``maps`` of ``lists``, int32, on ``device``
    (``ssmp3d.ops._device_cache``: copied once per device and content)."""
    return _device_cache.device_address(np.concatenate([lists.start, lists.maps]), device)



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
        splits, scratch = _cuda.nms_scratch(b * k, h, m, device)  # bands of rows per map (small batches)
        dev_lists = _device_lists(lists, device)
        dev_buf = torch.empty(size, dtype=torch.uint8, device=device)
        base = dev_buf.data_ptr()
        sec = [base + layout[name][2] for name in _SECTIONS]
        load_cuda().nms_gather_cuda(
            hm.data_ptr(), tg.data_ptr(), om.data_ptr(), strides, _cuda.dtype_code(dtype), b, k, h, w, d,
            config.det_threshold, config.nms_radius, m, dev_lists, dev_lists + 4 * (k + 1),
            t, *sec, stream, splits, 0 if scratch is None else scratch.data_ptr())
    return dev_buf, d


@dataclass(frozen=True, eq=False)
class DeviceTables:
    """The kernel's output for one batch, still on the device (or on the host, for tests).

    Attributes:
        buffer: ``[size]`` uint8 tensor in :func:`table_layout` order.
        shape: ``(B, K, H, W, D)`` of the decoded maps.
        lists: The gather lists that made the tables.
        with_orpm: False for 2D-only decoding.
    """

    buffer: torch.Tensor
    shape: tuple[int, int, int, int, int]
    lists: GatherLists
    with_orpm: bool

    @property
    def nbytes(self) -> int:
        """Size of :attr:`buffer` in bytes."""
        return self.buffer.numel()


@dataclass(frozen=True, eq=False)
class HostTables:
    """The tables on their way to host memory: what :func:`decode_host` reads.

    Attributes:
        tables: ``[size]`` uint8 host array (a view of the pinned buffer);
            valid once :meth:`wait` has returned.
        shape, lists, with_orpm: As :class:`DeviceTables`.
        ready: CUDA event recorded after the copy, or None when the tables
            are already on the host.
    """

    tables: np.ndarray
    shape: tuple[int, int, int, int, int]
    lists: GatherLists
    with_orpm: bool
    ready: torch.cuda.Event | None = None

    def wait(self) -> None:
        """Blocks until the copy is done (releases the GIL while waiting)."""
        if self.ready is not None:
            self.ready.synchronize()


def _launch(hm: torch.Tensor, tg: torch.Tensor, om: torch.Tensor | None, config: DecodeConfig,
            lists: GatherLists) -> DeviceTables:
    buffer, d = launch_gather(hm, tg, om, config, lists)
    b, k, h, w = hm.shape
    return DeviceTables(buffer, (b, k, h, w, d), lists, om is not None)


def gather_tables(heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor | None, config: DecodeConfig,
                  skeleton: Skeleton) -> DeviceTables:
    """Device stage, first step: the kernel on the current stream (nothing waits).

    Args:
        heatmaps, tags, orpm: Validated CUDA tensors of one device
            (:func:`ssmp3d.decoding.validate.validate_inputs`; ``orpm`` None: 2D only).
        config: Decoding parameters.
        skeleton: Joint set.

    Raises:
        ValueError: an input is not on the CUDA device of ``heatmaps``.
    """
    check_devices(heatmaps, tags, orpm)
    return _launch(heatmaps, tags, orpm, config, gather_lists(skeleton, orpm is not None))


def copy_tables(launched: DeviceTables, host: torch.Tensor | None = None, stream: torch.cuda.Stream | None = None,
                *, blocking: bool = False) -> HostTables:
    """Device stage, second step: enqueues the copy of the tables into host memory.

    Args:
        launched: :func:`gather_tables`' result.
        host: ``[launched.nbytes]`` uint8 CPU tensor to copy into (pinned, or
            the copy is synchronous; the caller must not reuse it before the
            result's ``ready`` event); None: a new pinned one.
        stream: Stream of the copy; None: the current stream. Another stream
            first waits for an event recorded on the current stream after the
            kernel, and the device buffer is marked as used by it
            (``record_stream``), so the caching allocator cannot hand it out
            again before the copy is done.
        blocking: Make ``ready`` a blocking-sync event (its waiter sleeps instead of spinning).

    Returns:
        The :class:`HostTables`, ``ready`` recorded on the copy's stream. Tables
        on the host (tests) are copied at once and have no event.

    Raises:
        ValueError: ``host`` is not a uint8 CPU tensor of ``launched.nbytes`` elements.
    """
    src = launched.buffer
    if host is not None and (not isinstance(host, torch.Tensor) or host.device.type != "cpu"
                             or host.dtype != torch.uint8 or tuple(host.shape) != tuple(src.shape)):
        got = (f"{host.dtype} {list(host.shape)} on {host.device}" if isinstance(host, torch.Tensor)
               else type(host).__name__)
        raise ValueError(f"host: expected a [{src.numel()}] uint8 CPU tensor, got {got}")
    ready = None
    if src.device.type != "cuda":
        host = src.clone() if host is None else host.copy_(src)
    else:
        with torch.cuda.device(src.device):
            current = torch.cuda.current_stream(src.device)
            copier = current if stream is None else stream
            if host is None:
                host = torch.empty(src.numel(), dtype=torch.uint8, pin_memory=True)
            if copier != current:
                launched_at = torch.cuda.Event()
                launched_at.record(current)
                copier.wait_event(launched_at)
                src.record_stream(copier)
            with torch.cuda.stream(copier):
                host.copy_(src, non_blocking=True)
            ready = torch.cuda.Event(blocking=blocking)
            ready.record(copier)
    return HostTables(host.numpy(), launched.shape, launched.lists, launched.with_orpm, ready)


def decode_host(staged: HostTables, config: DecodeConfig, skeleton: Skeleton, transform: MapTransform,
                num_threads: int) -> DecodeResult:
    """Host stage: waits for the copy, then groups and reads out (:func:`decode_tables`).

    Args:
        staged: :func:`copy_tables`' result (or tables packed on the host).
        config: Decoding parameters (those of the device stage).
        skeleton: Joint set.
        transform: Map -> image coordinates for the 2D output.
        num_threads: Host threads of the grouping / read-out; 0 = all cores.

    Raises:
        ValueError: NaN (the message names the input, as the other backends).
    """
    staged.wait()
    b, k, h, w, d = staged.shape
    coords, *rest = decode_tables(staged.tables, b, k, h, w, d, config, staged.lists, skeleton.neck, skeleton.pelvis,
                                  config_tables(config, skeleton), num_threads, staged.with_orpm)
    return DecodeResult(transform.map_to_image(coords).astype(np.float32), *rest)


def gather_on_device(hm: torch.Tensor, tg: torch.Tensor, om: torch.Tensor | None, config: DecodeConfig,
                     lists: GatherLists) -> tuple[np.ndarray, int]:
    """Runs the kernel and the one copy to pinned host memory; returns the host tables and ``D``."""
    staged = copy_tables(_launch(hm, tg, om, config, lists))
    staged.wait()
    return staged.tables, staged.shape[4]


def decode_cuda(heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor | None, config: DecodeConfig,
                skeleton: Skeleton, transform: MapTransform, num_threads: int) -> DecodeResult:
    """Decodes a validated batch of CUDA tensors (see :func:`ssmp3d.decoding.decode`): the
    device stage on the current stream, then the host stage.

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
    return decode_host(copy_tables(gather_tables(heatmaps, tags, orpm, config, skeleton)), config, skeleton,
                       transform, num_threads)

"""The pipelined :class:`~ssmp3d.predict.Predictor` with the ``cuda`` decoder.

In line, a CUDA batch runs network, kernel, copy, one synchronisation, then
the grouping on the host, and the GPU idles while the host groups.
:func:`run_cuda_batches` overlaps them. For batch ``i`` the caller's thread
enqueues, without waiting for the GPU:

1. **upload**: the letterboxed batch is stacked into a pinned staging buffer
   (a :class:`PinnedRing` of 2) and copied with ``non_blocking`` on the
   current stream; an event after the copy guards the slot (it is reused
   only once the event has completed);
2. **network** on the current stream;
3. **device stage** of each letterbox group (:mod:`ssmp3d.decoding.cuda`):
   the NMS + gather kernel on the current stream (:func:`gather_tables`),
   then an event; a side *copy stream* waits for it and copies the tables
   into a pinned host buffer (one per batch, from a second ring of 2, the
   groups at 64-byte aligned offsets; re-allocated only when a batch needs
   more bytes) and records a *ready* event (:func:`copy_tables`). The device
   buffer is ``record_stream``-ed on the copy stream, so the caching
   allocator cannot hand it out before the copy is done.

Then batch ``i + 1`` goes through the same steps while one worker thread
(:func:`~ssmp3d.predict.stream.in_order`) waits for batch ``i``'s ready
events (blocking-sync events, the GIL released) and runs the **host stage**
(:func:`decode_host`: grouping and read-out in C++, GIL released) on the
pinned buffer. So the GPU runs batch ``i + 1``'s network while the host
groups batch ``i`` and letterboxes batch ``i + 2``.

Ordering: results come back in batch order; an error in a batch's host stage
(NaN) is raised when that batch's results are due, after the batches before
it; an error while enqueueing (a bad image, the memory budget) is raised at
once. A table slot is released by the worker once it has read it (and all of
its copies are done); with two slots and at most one batch in the worker,
taking a slot never waits in practice. Each call makes its own
:class:`CudaStages`: pinned buffers are reused across the batches of a call
(and, freed, cached by torch's pinned-memory allocator across calls).
Results equal the in-line path exactly: the same kernels read the same
values and the host stage is the same function.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..decoding.cuda import HostTables, copy_tables, decode_host, gather_tables
from ..decoding.api import check_call as decode_checks
from .groups import LetterboxGroup, group_maps, letterbox_groups, place_poses
from .stream import in_order, network_outputs
from .types import ImagePoses

__all__ = ["CudaStages", "PinnedRing", "StagedBatch", "run_cuda_batches"]

#: Byte alignment of each letterbox group's tables inside a batch's host buffer.
ALIGN = 64


class PinnedRing:
    """A few host buffers used in turn; a slot is handed out again only once its last user is done.

    Args:
        slots: Number of buffers (>= 1).
        dtype: Their element type.
        pin_memory: Page-locked buffers (needed for asynchronous copies; False for CPU tests).

    Attributes:
        allocations: Buffers allocated so far (a slot is re-allocated only
            when a request is larger than its buffer).
    """

    def __init__(self, slots: int = 2, dtype: torch.dtype = torch.uint8, pin_memory: bool = True) -> None:
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise ValueError(f"slots: expected an int >= 1, got {slots!r}")
        if not isinstance(dtype, torch.dtype):
            raise TypeError(f"dtype: expected a torch.dtype, got {type(dtype).__name__}")
        self.dtype, self.pin_memory = dtype, bool(pin_memory)
        self._buffers: list[torch.Tensor | None] = [None] * slots
        self._holds: list[Callable[[], object] | None] = [None] * slots
        self._next = 0
        self.allocations = 0

    @property
    def slots(self) -> int:
        """Number of buffers."""
        return len(self._buffers)

    def take(self, numel: int) -> tuple[int, torch.Tensor]:
        """The next slot and the first ``numel`` elements of its buffer (1-D).

        Waits for the slot's hold (:meth:`hold`) first, so the previous user is done.
        """
        if isinstance(numel, bool) or not isinstance(numel, int) or numel < 0:
            raise ValueError(f"numel: expected an int >= 0, got {numel!r}")
        slot = self._next
        self._next = (slot + 1) % self.slots
        until, self._holds[slot] = self._holds[slot], None
        if until is not None:
            until()
        buf = self._buffers[slot]
        if buf is None or buf.numel() < numel:
            buf = self._buffers[slot] = torch.empty(max(numel, 1), dtype=self.dtype, pin_memory=self.pin_memory)
            self.allocations += 1
        return slot, buf[:numel]

    def hold(self, slot: int, until: Callable[[], object]) -> None:
        """Keeps ``slot`` in use until ``until()`` returns (the next :meth:`take` of it calls it)."""
        self._holds[slot] = until

    def release_all(self) -> None:
        """Forgets every hold; only when no one reads or writes the buffers any more."""
        self._holds = [None] * self.slots

    def buffers(self) -> list[torch.Tensor]:
        """The buffers allocated so far, by slot (for tests)."""
        return [b for b in self._buffers if b is not None]


def _queued_work(device: torch.device) -> Callable[[], object]:
    """A wait for the work enqueued so far on ``device``'s current stream (nothing to wait for on the CPU)."""
    if device.type != "cuda":
        return lambda: None
    event = torch.cuda.Event(blocking=True)
    event.record(torch.cuda.current_stream(device))
    return event.synchronize


def check_call(heat: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor | None, config, skeleton,
               num_threads: int) -> None:
    """What :func:`ssmp3d.decoding.decode` checks before the ``cuda`` backend runs (shapes,
    mean bones, the memory budget), so the pipeline refuses what the in-line path refuses."""
    decode_checks(heat, tags, orpm, config, skeleton, "cuda", num_threads)


@dataclass(frozen=True, eq=False)
class StagedBatch:
    """A batch whose tables are on their way to the host.

    Attributes:
        groups: Its letterbox groups.
        tables: Their :class:`HostTables`, one per group (views of one pinned buffer).
        sizes: ``(width, height)`` of each image.
        num_threads: Host threads of its host stage.
        done: Set once the host stage no longer reads the buffer.
    """

    groups: list[LetterboxGroup]
    tables: list[HostTables]
    sizes: list[tuple[int, int]]
    num_threads: int
    done: threading.Event


class CudaStages:
    """The per-batch stages of :func:`run_cuda_batches` and the buffers they reuse.

    Args:
        predictor: A :class:`~ssmp3d.predict.Predictor` with the ``cuda`` decoder
            (on the CPU, for tests, no stream or event is made).
        slots: Buffers in each ring.
        pin_memory: Pinned rings; default: on CUDA devices.

    Attributes:
        inputs: :class:`PinnedRing` of float32 network inputs.
        tables: :class:`PinnedRing` of the tables' bytes.
        stream: The side stream of the device-to-host copies (None on the CPU).
    """

    def __init__(self, predictor, *, slots: int = 2, pin_memory: bool | None = None) -> None:
        self.predictor = predictor
        cuda = predictor.device.type == "cuda"
        pin = cuda if pin_memory is None else pin_memory
        self.inputs = PinnedRing(slots, torch.float32, pin)
        self.tables = PinnedRing(slots, torch.uint8, pin)
        self.stream = torch.cuda.Stream(device=predictor.device) if cuda else None

    def upload(self, images: Sequence[np.ndarray], color: str) -> tuple[torch.Tensor, np.ndarray]:
        """:meth:`~ssmp3d.predict.Predictor.preprocess` through a staging slot (asynchronous upload)."""
        p = self.predictor
        s = p.input_size
        slot, flat = self.inputs.take(len(images) * 3 * s * s)
        inputs, affines = p.preprocess(images, color, staging=flat.view(len(images), 3, s, s))
        self.inputs.hold(slot, _queued_work(p.device))
        return inputs, affines

    def stage(self, maps, affines: np.ndarray, sizes: list[tuple[int, int]], num_threads: int) -> StagedBatch:
        """Device stage of a batch: kernels on the current stream, copies on :attr:`stream`."""
        p = self.predictor
        config, skeleton = p.decode_config, p.skeleton
        groups = letterbox_groups(affines, p.model.config.stride)
        launched = []
        for group in groups:
            heat, tags, orpm = group_maps(maps, group, len(sizes))
            check_call(heat, tags, orpm, config, skeleton, num_threads)
            launched.append(gather_tables(heat, tags, orpm, config, skeleton))
        offsets, total = [], 0
        for t in launched:
            offsets.append(total)
            total += -(-t.nbytes // ALIGN) * ALIGN
        slot, host = self.tables.take(total)
        staged = [copy_tables(t, host[o:o + t.nbytes], self.stream, blocking=True) for t, o in zip(launched, offsets)]
        done = threading.Event()
        self.tables.hold(slot, done.wait)
        return StagedBatch(groups, staged, sizes, num_threads, done)

    def finish(self, staged: StagedBatch) -> list[ImagePoses]:
        """Host stage of a batch (in the worker thread): its poses."""
        p = self.predictor
        try:
            out: list[ImagePoses | None] = [None] * len(staged.sizes)
            for group, tables in zip(staged.groups, staged.tables):
                result = decode_host(tables, p.decode_config, p.skeleton, group.transform, staged.num_threads)
                place_poses(out, result, group, staged.sizes, p.skeleton)
            return out  # type: ignore[return-value]
        finally:
            for tables in staged.tables:  # after an error too: no copy may still write into the slot
                tables.wait()
            staged.done.set()

    def close(self) -> None:
        """Waits for the copies and uploads still queued; frees every slot (no worker may run)."""
        if self.stream is not None:
            self.stream.synchronize()
            torch.cuda.current_stream(self.predictor.device).synchronize()
        self.tables.release_all()
        self.inputs.release_all()


def run_cuda_batches(predictor, batches: Iterable[Sequence[np.ndarray]], color: str, *,
                     stages: CudaStages | None = None) -> Iterator[list[ImagePoses]]:
    """The poses of each batch, in order, the host stage of batch ``i`` beside the GPU's batch ``i + 1``.

    Args:
        predictor: A :class:`~ssmp3d.predict.Predictor` with the ``cuda`` decoder.
        batches: Lists of ``[H, W, 3]`` uint8 images (at most ``batch_size`` each).
        color: Their channel order (``"rgb"`` or ``"bgr"``).
        stages: The stages and buffers to use (default: new ones for this call).

    Yields:
        One list of :class:`ImagePoses` per batch.
    """
    stages = CudaStages(predictor) if stages is None else stages
    tuner = predictor.thread_tuner
    enqueued = (stages.stage(maps, affines, sizes, tuner.threads)
                for maps, affines, sizes in network_outputs(predictor, batches, color, stages.upload))
    try:
        yield from in_order(enqueued, stages.finish)
    finally:
        stages.close()

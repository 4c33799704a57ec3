"""Small constant int32 arrays (gather lists) kept on each device, keyed by value.

The CUDA kernels read a few hundred int32 of per-skeleton tables (the gather
lists of :func:`ssmp3d.ops.nms_gather` and of the ``cuda`` decoder). Copying
them to the device at every call would cost a host-to-device copy (a hidden
stream synchronisation) and would break CUDA graph capture. Instead
:func:`device_address` returns the address of one device copy per

    (device type, device index, dtype, shape, content bytes)

made at the first call for that key (outside graph capture) and reused.

State: one module-level ordered dict, bounded to :data:`CAPACITY` entries
(least recently used evicted first): the only mutable state of this module,
keyed by value, so the same content on the same device is always the same
buffer. Entries are never mutated: the tensors stay private to this module
and callers only get their address, which the kernels read through
``const int32_t*``. An entry looked up during CUDA graph capture is pinned
(never evicted, since the graph keeps its address for every replay); the
pinned entries count toward the bound, and a miss when every entry is pinned
raises ``RuntimeError``. Before an unpinned entry is dropped its device is
synchronised, so no kernel still queued on any stream can read freed memory.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import torch

__all__ = ["CAPACITY", "device_address", "cache_size", "clear"]

#: Most entries kept (each a few KiB; typical programs use one or two per device).
CAPACITY = 64

_Key = tuple[str, int, str, tuple[int, ...], bytes]
_ENTRIES: "OrderedDict[_Key, tuple[torch.Tensor, bool]]" = OrderedDict()  # key -> (tensor, pinned)
_LOCK = threading.Lock()


def _device_index(device: torch.device) -> int:
    if device.type == "cuda":
        return device.index if device.index is not None else torch.cuda.current_device()
    return -1 if device.index is None else device.index


def _capturing(device: torch.device) -> bool:
    if device.type != "cuda":
        return False
    with torch.cuda.device(device):
        return torch.cuda.is_current_stream_capturing()


def device_address(values: np.ndarray, device: torch.device) -> int:
    """Address of a cached copy of ``values`` on ``device`` (made on the first call).

    Args:
        values: A small 1-D int32 host array (its bytes are the key); not kept.
        device: The device the kernel runs on (``cuda:i``; ``cpu`` for tests).
            A CUDA device without index means the current one.

    Returns:
        The ``data_ptr()`` of a contiguous int32 tensor on ``device`` equal
        to ``values``; the same address for the same content and device
        while the entry is cached. Never write through it.

    Raises:
        TypeError: ``values`` is not a 1-D int32 numpy array, or ``device``
            not a torch.device.
        RuntimeError: a miss during CUDA graph capture (no copy can be made
            there: call the op once before capturing), or every cached entry
            is pinned by graph captures.
    """
    if not isinstance(values, np.ndarray) or values.dtype != np.int32 or values.ndim != 1:
        raise TypeError(f"values: expected a 1-D int32 numpy array, got {type(values).__name__} "
                        f"{getattr(values, 'dtype', '')}")
    if not isinstance(device, torch.device):
        raise TypeError(f"device: expected a torch.device, got {type(device).__name__}")
    index = _device_index(device)
    key: _Key = (device.type, index, values.dtype.str, values.shape, values.tobytes())
    capturing = _capturing(device)
    with _LOCK:
        hit = _ENTRIES.get(key)
        if hit is not None:
            _ENTRIES.move_to_end(key)
            if capturing and not hit[1]:
                _ENTRIES[key] = (hit[0], True)
            return hit[0].data_ptr()
        if capturing:
            raise RuntimeError(
                f"gather lists for this call are not on {device.type}:{index} yet and cannot be copied "
                "during CUDA graph capture: run the op once before capturing (warm-up)")
        while len(_ENTRIES) >= CAPACITY:
            _evict_one()
        target = torch.device(device.type, index) if index >= 0 else device
        tensor = torch.from_numpy(values.copy()).to(target)  # synchronous copy
        _ENTRIES[key] = (tensor, False)
        return tensor.data_ptr()


def _evict_one() -> None:
    """Drops the least recently used unpinned entry (lock held)."""
    for key, (tensor, pinned) in _ENTRIES.items():
        if not pinned:
            if tensor.device.type == "cuda":
                torch.cuda.synchronize(tensor.device)  # no queued kernel may still read it
            del _ENTRIES[key]
            return
    raise RuntimeError(f"device constant cache: all {CAPACITY} entries are pinned by CUDA graph captures")


def cache_size() -> int:
    """Number of cached entries (for tests)."""
    return len(_ENTRIES)


def clear() -> None:
    """Drops every unpinned entry (synchronising their devices); pinned ones stay."""
    with _LOCK:
        for key in [k for k, (_, pinned) in _ENTRIES.items() if not pinned]:
            tensor = _ENTRIES[key][0]
            if tensor.device.type == "cuda":
                torch.cuda.synchronize(tensor.device)
            del _ENTRIES[key]

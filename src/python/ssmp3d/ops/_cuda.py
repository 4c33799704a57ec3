"""What every CUDA op wrapper does the same way: device, stream, NaN flag, NMS scratch.

The compiled CUDA functions take raw device addresses and a stream handle
(DESIGN.md section 2). A wrapper enters :func:`on_device` (makes the tensors'
device current and yields its current stream handle, read at every call, never
cached), allocates its outputs with torch on that device, enqueues the kernel,
then calls :func:`raise_if_flagged` on the int32 NaN counter the kernel
incremented. Reading that counter synchronises the stream, except during CUDA
graph capture, where no synchronisation is possible: the check is then skipped
and the outputs (always well defined) are returned as they are.

The NMS kernels split each map into bands of rows when the batch is small
(fewer ``B * K`` maps than SMs: ``_C_cuda.nms_split_count``); the split path
needs a scratch buffer, which :func:`nms_scratch` allocates with torch (the
caching allocator, on the current stream: no ``cudaMalloc`` per call, and
CUDA graph capture keeps working).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["on_device", "raise_if_flagged", "capturing", "dtype_code", "nms_scratch", "MAP_DTYPES"]

#: Map dtypes the CUDA kernels read natively, with their code (``MapDtype`` in C++).
MAP_DTYPES = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}


@contextlib.contextmanager
def on_device(device: torch.device) -> Iterator[int]:
    """Makes ``device`` current; yields the integer handle of its current stream."""
    with torch.cuda.device(device):
        yield torch.cuda.current_stream(device).cuda_stream


def capturing(device: torch.device) -> bool:
    """Whether the current stream of ``device`` is capturing a CUDA graph."""
    with torch.cuda.device(device):
        return torch.cuda.is_current_stream_capturing()


def raise_if_flagged(flag: torch.Tensor, error: type[Exception], message: str) -> None:
    """Raises ``error(message.format(n))`` when the device counter ``flag`` (one int32) is > 0.

    Skipped during CUDA graph capture (no synchronisation is allowed there).
    """
    if capturing(flag.device):
        return
    n = int(flag.item())
    if n:
        raise error(message.format(n))


def dtype_code(dtype: torch.dtype) -> int:
    """The kernels' code for a map dtype (float32 0, float16 1, bfloat16 2)."""
    return MAP_DTYPES[dtype]


def nms_scratch(maps: int, h: int, m: int, device: torch.device,
                splits: int | None = None) -> tuple[int, torch.Tensor | None]:
    """Bands per map and the scratch buffer of an NMS launch on ``device`` (made current by the caller).

    Args:
        maps: ``B * K``, the number of ``[H, W]`` maps.
        h: Rows ``H`` of each map.
        m: ``max_candidates``.
        device: The CUDA device of the maps.
        splits: Bands per map; ``None`` picks them with ``_C_cuda.nms_split_count`` (by the
            device's SM count, cached per device). Tests force values to compare the paths;
            the outputs never depend on it.

    Returns:
        ``(splits, scratch)``: ``scratch`` is ``None`` when ``splits == 1``, else a uint8
        tensor of ``nms_scratch_bytes(maps, splits, m)`` bytes on ``device`` (per-band keys
        ``[maps, splits, m]`` uint64, then per-band words ``[maps, splits]`` uint32), which
        the caller keeps alive until the kernels are enqueued.

    Raises:
        ValueError: ``splits`` is outside ``[1, _C_cuda.NMS_MAX_SPLITS]``.
    """
    from ._ext import load_cuda

    ext = load_cuda()
    if splits is None:
        index = device.index if device.index is not None else torch.cuda.current_device()
        splits = ext.nms_split_count(maps, h, index)
    elif isinstance(splits, bool) or not isinstance(splits, int) or not 1 <= splits <= ext.NMS_MAX_SPLITS:
        raise ValueError(f"splits: expected an int in [1, {ext.NMS_MAX_SPLITS}], got {splits!r}")
    if splits == 1:
        return 1, None
    return splits, torch.empty(ext.nms_scratch_bytes(maps, splits, m), dtype=torch.uint8, device=device)

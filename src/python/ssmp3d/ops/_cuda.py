"""What every CUDA op wrapper does the same way: device, stream, NaN flag.

The compiled CUDA functions take raw device addresses and a stream handle
(DESIGN.md section 2). A wrapper enters :func:`on_device` (makes the tensors'
device current and yields its current stream handle, read at every call, never
cached), allocates its outputs with torch on that device, enqueues the kernel,
then calls :func:`raise_if_flagged` on the int32 NaN counter the kernel
incremented. Reading that counter synchronises the stream, except during CUDA
graph capture, where no synchronisation is possible: the check is then skipped
and the outputs (always well defined) are returned as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["on_device", "raise_if_flagged", "capturing", "dtype_code", "MAP_DTYPES"]

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

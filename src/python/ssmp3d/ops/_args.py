"""Argument checks shared by the decoder ops (``nms_gather``, ``group_candidates``,
``orpm_readout``): every error names the argument.

Inputs are numpy arrays or CPU torch tensors; they are turned into contiguous
native-byte-order numpy arrays of the dtype the kernel reads (a copy only when
needed; torch tensors are detached and shared). Ops that run on CUDA use
:func:`device_tensor` instead: tensors on the op's device, converted there.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

_FLOAT_TORCH = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INT_TORCH = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def is_torch(*xs: object) -> bool:
    """Whether any of ``xs`` is a torch tensor (outputs are then torch tensors)."""
    return any(isinstance(x, torch.Tensor) for x in xs)


def array(name: str, x: object, kind: str, ndims: tuple[int, ...], dtype: type) -> np.ndarray:
    """``x`` as a contiguous numpy array of ``dtype`` after checking its kind and rank.

    Args:
        name: Argument name for error messages.
        x: numpy array or CPU torch tensor.
        kind: ``"float"``, ``"int"`` or ``"bool"``: the accepted dtype family.
        ndims: Accepted numbers of dimensions.
        dtype: numpy dtype of the result (values are converted elementwise).
    """
    if isinstance(x, torch.Tensor):
        if x.device.type != "cpu":
            raise ValueError(f"{name}: expected a CPU tensor, got device {x.device}")
        if x.layout != torch.strided:
            raise TypeError(f"{name}: expected a dense (strided) tensor, got layout {x.layout}")
        ok = {"float": x.dtype in _FLOAT_TORCH, "int": x.dtype in _INT_TORCH,
              "bool": x.dtype == torch.bool}[kind]
        found = str(x.dtype)
        if ok:
            x = x.detach()
            if x.dtype == torch.bfloat16:
                x = x.to(torch.float32)
            x = x.numpy()
    elif isinstance(x, np.ndarray):
        k = x.dtype.kind
        ok = {"float": k == "f" and x.dtype.itemsize in (2, 4, 8), "int": k in "iu",
              "bool": k == "b"}[kind]
        found = str(x.dtype)
    else:
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if not ok:
        raise TypeError(f"{name}: expected a {kind} array, got dtype {found}")
    if x.ndim not in ndims:
        dims = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name}: expected {dims} dimensions, got shape {list(x.shape)}")
    return np.ascontiguousarray(x, dtype=dtype)


def shape(name: str, x: np.ndarray, expected: tuple[int, ...], what: str) -> None:
    """Raises ``ValueError`` naming ``name`` unless ``x.shape == expected``."""
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{name}: expected shape {list(expected)} ({what}), got {list(x.shape)}")


def integer(name: str, v: object, low: int | None = None, high: int | None = None) -> int:
    """``v`` as an int in ``[low, high]`` (bools are not ints)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(v).__name__}")
    v = int(v)
    if (low is not None and v < low) or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name}: expected an int {bound}, got {v}")
    return v


def real(name: str, v: object, low: float | None = None, strict: bool = False) -> float:
    """``v`` as a finite float, ``>= low`` (``> low`` when ``strict``)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected a finite float, got {type(v).__name__}")
    v = float(v)
    if not math.isfinite(v) or (low is not None and (v <= low if strict else v < low)):
        bound = "" if low is None else f" {'>' if strict else '>='} {low}"
        raise ValueError(f"{name}: expected a finite float{bound}, got {v}")
    return v


def threads(num_threads: object) -> int:
    """``None`` -> ``torch.get_num_threads()``; otherwise an int >= 0 (0 = all cores)."""
    if num_threads is None:
        return torch.get_num_threads()
    if isinstance(num_threads, bool) or not isinstance(num_threads, numbers.Integral):
        raise TypeError(f"num_threads: expected None or an int >= 0, got {type(num_threads).__name__}")
    if int(num_threads) < 0:
        raise ValueError(f"num_threads: expected None or an int >= 0 (0 = all cores), got {int(num_threads)}")
    return int(num_threads)


def outputs(arrays: tuple[np.ndarray, ...], as_torch: bool) -> tuple:
    """The outputs as torch tensors (sharing memory) when the inputs were torch."""
    if as_torch:
        return tuple(torch.from_numpy(a) for a in arrays)
    return arrays


def device_tensor(name: str, x: object, kind: str, ndims: tuple[int, ...], dtype: torch.dtype,
                  device: torch.device) -> torch.Tensor:
    """``x`` as a contiguous tensor of ``dtype`` on ``device`` (a CUDA device), after the checks of :func:`array`.

    Only torch tensors already on ``device`` are accepted (no host copies: the
    caller may be capturing a CUDA graph). Reads no values, so never synchronises.

    Raises:
        TypeError: not a tensor / array, not dense, or the wrong dtype family.
        ValueError: on another device (numpy arrays included), or the wrong rank.
    """
    if isinstance(x, np.ndarray):
        raise ValueError(f"{name}: expected a tensor on {device} (the device of orpm), got a numpy array")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if x.device != device:
        raise ValueError(f"{name}: expected a tensor on {device} (the device of orpm), got device {x.device}")
    if x.layout != torch.strided:
        raise TypeError(f"{name}: expected a dense (strided) tensor, got layout {x.layout}")
    ok = {"float": x.dtype in _FLOAT_TORCH, "int": x.dtype in _INT_TORCH, "bool": x.dtype == torch.bool}[kind]
    if not ok:
        raise TypeError(f"{name}: expected a {kind} array, got dtype {x.dtype}")
    if x.dim() not in ndims:
        dims = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name}: expected {dims} dimensions, got shape {list(x.shape)}")
    return x.detach().to(dtype).contiguous()

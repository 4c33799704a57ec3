"""Argument checks shared by the ops and the decoder: every error names the argument.

Inputs are numpy arrays or CPU torch tensors; they are turned into contiguous
native-byte-order numpy arrays of the dtype the kernel reads (a copy only when
needed; torch tensors are detached and shared, their negative and conjugate
bits resolved first: :func:`resolve`). Ops that run on CUDA use
:func:`device_tensor` instead: tensors on the op's device, converted there.

Scalars: ints are bounded to what the compiled side takes (``int64``, or
``int32`` for thread counts), bools are never ints or floats, numpy integer
and floating scalars are accepted, and a Python int too large for a float is
refused as out of range (``ValueError``), never an ``OverflowError``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = ["INT32_MAX", "INT64_MAX", "INT64_MIN", "array", "bones", "device_tensor", "integer", "is_torch", "outputs",
           "real", "resolve", "shape", "show", "threads"]

#: Largest value of a C++ ``int`` (thread counts).
INT32_MAX = 2**31 - 1
#: Range of a C++ ``int64_t`` (sizes, radii, counts).
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

_FLOAT_TORCH = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_INT_TORCH = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)


def show(v: object) -> str:
    """``v`` for an error message: huge ints by their size (``str`` of an int over
    4300 digits raises), long reprs cut."""
    if isinstance(v, numbers.Integral) and not isinstance(v, bool) and abs(int(v)) > 10**30:
        return f"an int of {int(v).bit_length()} bits"
    try:
        text = repr(v)
    except Exception:  # noqa: BLE001  (a repr that fails must not hide the real error)
        text = f"<{type(v).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def resolve(x: torch.Tensor) -> torch.Tensor:
    """``x`` detached with its conjugate and negative bits materialised.

    A tensor with the negative bit set (``torch._neg_view``, or ``z.conj().imag``)
    shares memory holding the *negated* values; its raw buffer (``data_ptr``,
    ``numpy()``) must not be read before this. No copy when neither bit is set.
    """
    return x.detach().resolve_conj().resolve_neg()


def is_torch(*xs: object) -> bool:
    """Whether any of ``xs`` is a torch tensor (outputs are then torch tensors)."""
    return any(isinstance(x, torch.Tensor) for x in xs)


def _kind_ok(kind: str, dtype: torch.dtype) -> bool:
    return {"float": dtype in _FLOAT_TORCH, "int": dtype in _INT_TORCH, "bool": dtype == torch.bool}[kind]


_NATIVE_TORCH = (torch.float32, torch.float16, torch.bfloat16)


def _rank(name: str, x: torch.Tensor | np.ndarray, ndims: tuple[int, ...]) -> None:
    if x.ndim not in ndims:
        dims = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name}: expected {dims} dimensions, got shape {list(x.shape)}")


def array(name: str, x: object, kind: str, ndims: tuple[int, ...], dtype: type,
          contiguous: bool = True, native: bool = False) -> np.ndarray:
    """``x`` as a contiguous numpy array of ``dtype`` after checking its kind and rank.

    Args:
        name: Argument name for error messages.
        x: numpy array or CPU torch tensor.
        kind: ``"float"``, ``"int"`` or ``"bool"``: the accepted dtype family.
        ndims: Accepted numbers of dimensions.
        dtype: numpy dtype of the result (values are converted elementwise;
            float64 values beyond the float32 range become infinities).
        contiguous: False keeps the strides of an input already of ``dtype``
            (no copy; the caller handles the layout, e.g. :mod:`._maps`).
        native: With ``contiguous=False``, float32 / float16 / bfloat16
            tensors and float32 / float16 arrays are returned as they are
            (the bits of a tensor resolved; a tensor stays a tensor): the C++
            map readers take those dtypes in place (:mod:`._maps`).
    """
    if isinstance(x, torch.Tensor):
        if x.device.type != "cpu":
            raise ValueError(f"{name}: expected a CPU tensor, got device {x.device}")
        if x.layout != torch.strided:
            raise TypeError(f"{name}: expected a dense (strided) tensor, got layout {x.layout}")
        ok = _kind_ok(kind, x.dtype)
        found = str(x.dtype)
        if ok:
            x = resolve(x)
            if native and not contiguous and x.dtype in _NATIVE_TORCH:
                _rank(name, x, ndims)
                return x  # type: ignore[return-value]
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
    _rank(name, x, ndims)
    if native and not contiguous and x.dtype in (np.float16, np.float32):
        return x
    with np.errstate(over="ignore", invalid="ignore"):
        return np.ascontiguousarray(x, dtype=dtype) if contiguous else np.asarray(x, dtype=dtype)


def shape(name: str, x: np.ndarray, expected: tuple[int, ...], what: str) -> None:
    """Raises ``ValueError`` naming ``name`` unless ``x.shape == expected``."""
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{name}: expected shape {list(expected)} ({what}), got {list(x.shape)}")


def integer(name: str, v: object, low: int | None = None, high: int | None = None) -> int:
    """``v`` as an int in ``[low, high]``, and always within ``int64`` (what the C++ side takes).

    Python and numpy integers are accepted; bools (``bool``, ``numpy.bool_``) are not ints.

    Raises:
        TypeError: not an integer.
        ValueError: out of range (the message gives the range).
    """
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(v).__name__}")
    v = int(v)
    if (low is not None and v < low) or (high is not None and v > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name}: expected an int {bound}, got {show(v)}")
    if not INT64_MIN <= v <= INT64_MAX:
        raise ValueError(f"{name}: expected an int in the int64 range [-2**63, 2**63 - 1], got {show(v)}")
    return v


def real(name: str, v: object, low: float | None = None, strict: bool = False) -> float:
    """``v`` as a finite float, ``>= low`` (``> low`` when ``strict``).

    Python and numpy reals are accepted; bools are not numbers here; an int too
    large for a float is not finite (``ValueError``, not ``OverflowError``).
    """
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: expected a finite float, got {type(v).__name__}")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f) or (low is not None and (f <= low if strict else f < low)):
        bound = "" if low is None else f" {'>' if strict else '>='} {low}"
        raise ValueError(f"{name}: expected a finite float{bound}, got {show(v) if math.isinf(f) else f}")
    return f


def threads(num_threads: object) -> int:
    """``None`` -> ``torch.get_num_threads()``; otherwise an int in ``[0, 2**31 - 1]`` (0 = all cores)."""
    if num_threads is None:
        return torch.get_num_threads()
    if isinstance(num_threads, (bool, np.bool_)) or not isinstance(num_threads, numbers.Integral):
        raise TypeError(f"num_threads: expected None or an int >= 0, got {type(num_threads).__name__}")
    n = int(num_threads)
    if n < 0:
        raise ValueError(f"num_threads: expected None or an int >= 0 (0 = all cores), got {show(n)}")
    if n > INT32_MAX:
        raise ValueError(f"num_threads: expected None or an int in [0, 2**31 - 1] (0 = all cores), got {show(n)}")
    return n


def bones(name: str, x: object, k: int) -> np.ndarray:
    """``x`` (numpy, CPU tensor or nested sequence) as finite float32 ``[K, 3]`` bone vectors in metres.

    Raises:
        TypeError: not real numbers (strings, objects, complex, bools).
        ValueError: not ``[K, 3]``, or NaN / infinite after rounding to float32.
    """
    if isinstance(x, torch.Tensor):
        if x.device.type != "cpu" or x.layout != torch.strided:
            raise ValueError(f"{name}: expected host data (numpy, list or a dense CPU tensor), got "
                             f"{x.layout} on {x.device}")
        x = resolve(x)
        x = (x if x.dtype.is_complex or x.dtype == torch.bool else x.to(torch.float64)).numpy()
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected [K = {k}, 3] real bone vectors in metres ({exc})") from None
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected [K = {k}, 3] real bone vectors in metres, got dtype {a.dtype}")
    if a.shape != (k, 3):
        raise ValueError(f"{name}: expected shape [{k}, 3] (K bone vectors in metres), got {list(a.shape)}")
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: expected finite bone vectors in metres, got NaN or infinite values "
                         f"(as float32)")
    return a


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
    if not _kind_ok(kind, x.dtype):
        raise TypeError(f"{name}: expected a {kind} array, got dtype {x.dtype}")
    if x.dim() not in ndims:
        dims = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name}: expected {dims} dimensions, got shape {list(x.shape)}")
    return resolve(x).to(dtype).contiguous()

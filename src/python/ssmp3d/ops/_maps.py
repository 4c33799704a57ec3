"""Map inputs read in place: float32, float16 or bfloat16 arrays whose ``[H, W]`` maps are contiguous.

The C++ NMS ops and decoder take each input as an address, the element
strides of its leading dimensions (``src/csrc/map_strides.h``) and its
element type (``src/csrc/map_types.h``), so the non-contiguous channel
slices of one network output ``[B, 95, H, W]``
(:func:`ssmp3d.model.split_prediction`) are decoded without a copy, in
their own dtype. An input is read in place when it is a float32, float16
or bfloat16 CPU tensor, or a native-order, aligned float32 or float16 numpy
array, whose ``[H, W]`` maps are contiguous (x stride 1, y stride W) and
whose other strides are non-negative. The C++ side widens float16 and
bfloat16 values to float32 as it reads them (exact), so every result equals
the one of a float32 copy. Anything else (float64, a transposed map, a
negative-bit view) is first converted to a contiguous float32 copy.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _args

__all__ = ["device_maps", "element_strides", "native_maps", "in_place", "layout_strides", "maps_contiguous",
           "TYPE_CODES"]

#: CPU tensor dtypes the C++ side reads in place, with their ``MapType`` code (map_types.h).
TYPE_CODES = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}
_NUMPY_CODES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1}


def maps_contiguous(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """Whether element ``strides`` leave each trailing ``[H, W]`` map contiguous, all of them >= 0."""
    h, w = shape[-2], shape[-1]
    return min(strides) >= 0 and (w == 1 or strides[-1] == 1) and (h == 1 or strides[-2] == w)


def element_strides(a: np.ndarray) -> tuple[int, ...] | None:
    """Strides of ``a`` in elements, or None when some byte stride is not a whole number of them."""
    size = a.dtype.itemsize
    if any(s % size for s in a.strides):
        return None
    return tuple(s // size for s in a.strides)


def in_place(x: object) -> bool:
    """Whether :func:`native_maps` reads ``x`` (a checked map input) without a copy."""
    if isinstance(x, torch.Tensor):
        # Ordered cheapest first: this runs on every decode call.
        return ((x.dtype is torch.float32 or x.dtype in TYPE_CODES) and x.is_cpu and x.layout is torch.strided
                and not x.is_neg() and not x.is_conj() and maps_contiguous(x.shape, x.stride()))
    if isinstance(x, np.ndarray):
        if x.dtype not in _NUMPY_CODES or not x.dtype.isnative or not x.flags.aligned or x.ndim < 2:
            return False
        strides = element_strides(x)
        return strides is not None and maps_contiguous(x.shape, strides)
    return False


def native_maps(x: torch.Tensor | np.ndarray) -> tuple[object, int, tuple[int, ...], int]:
    """``x`` (``[..., H, W]``) as maps the C++ side can read.

    Args:
        x: A checked numpy array or tensor (on the CPU, or on CUDA: then copied to the host).

    Returns:
        ``(keep, address, strides, code)``: the object to keep alive while
        the address is in use (``x`` itself when read in place, else a
        contiguous float32 copy), the address of its first element, its
        element strides (one per dimension) and its element type code
        (:data:`TYPE_CODES`).
    """
    if isinstance(x, torch.Tensor):
        if in_place(x):  # no negative or conjugate bit: its memory holds its values
            return x, x.data_ptr(), x.stride(), TYPE_CODES[x.dtype]
        x = _args.resolve(x)  # a negative-bit view holds the negated values in memory
        if not in_place(x):
            x = x.to(device="cpu", dtype=x.dtype if x.dtype in TYPE_CODES else torch.float32)
            if not in_place(x):
                x = x.contiguous()
        return x, x.data_ptr(), tuple(x.stride()), TYPE_CODES[x.dtype]
    if not in_place(x):
        with np.errstate(over="ignore", invalid="ignore"):
            x = np.ascontiguousarray(x, dtype=np.float32)
    return x, x.ctypes.data, element_strides(x), _NUMPY_CODES[x.dtype]  # type: ignore[return-value]


def device_maps(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` (a CUDA tensor ``[..., H, W]``) as ``dtype`` maps the kernels read in place: no copy
    when it already has that dtype and contiguous ``[H, W]`` maps (its bits resolved first)."""
    x = _args.resolve(x).to(dtype)
    return x if maps_contiguous(tuple(x.shape), x.stride()) else x.contiguous()


def layout_strides(hm: torch.Tensor, tg: torch.Tensor, om: torch.Tensor | None) -> tuple[int, ...]:
    """The 8 element strides of the kernels' ``MapLayout``: heatmaps ``[B, K, H, W]`` (batch,
    joint), tags ``[B, K, D, H, W]`` or ``[B, K, H, W]`` (batch, joint, d), ORPM ``[B, K, 3, H, W]``
    (batch, joint, component; zeros for None)."""
    hs, ts = hm.stride(), tg.stride()
    os_ = om.stride() if om is not None else (0, 0, 0)
    return (hs[0], hs[1], ts[0], ts[1], ts[2] if tg.dim() == 5 else 0, os_[0], os_[1], os_[2])

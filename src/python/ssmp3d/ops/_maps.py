"""Map inputs read in place: float32 arrays whose individual ``[H, W]`` maps are contiguous.

The C++ NMS ops and decoder take each input as an address plus the element
strides of its leading dimensions (``src/csrc/map_strides.h``), so the
non-contiguous channel slices of one network output ``[B, 95, H, W]``
(:func:`ssmp3d.model.split_prediction`) are decoded without a copy. An
input is read in place when it is a float32 CPU tensor or a native-order,
aligned float32 numpy array whose ``[H, W]`` maps are contiguous (x stride
1, y stride W) and whose other strides are non-negative; anything else
(another dtype, a transposed map, a negative-bit view) is first converted
to a contiguous float32 copy, as before.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _args

__all__ = ["device_maps", "element_strides", "float32_maps", "in_place", "layout_strides", "maps_contiguous"]


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
    """Whether :func:`float32_maps` reads ``x`` (a checked map input) without a copy."""
    if isinstance(x, torch.Tensor):
        # Ordered cheapest first: this runs on every decode call.
        return (x.dtype is torch.float32 and x.layout is torch.strided and x.device.type == "cpu"
                and not x.is_neg() and not x.is_conj() and maps_contiguous(x.shape, x.stride()))
    if isinstance(x, np.ndarray):
        if x.dtype != np.float32 or not x.dtype.isnative or not x.flags.aligned or x.ndim < 2:
            return False
        strides = element_strides(x)
        return strides is not None and maps_contiguous(x.shape, strides)
    return False


def float32_maps(x: torch.Tensor | np.ndarray) -> tuple[object, int, tuple[int, ...]]:
    """``x`` (``[..., H, W]``) as float32 maps the C++ side can read.

    Args:
        x: A checked numpy array or tensor (on the CPU, or on CUDA: then copied to the host).

    Returns:
        ``(keep, address, strides)``: the object to keep alive while the
        address is in use (``x`` itself when read in place, else a contiguous
        float32 copy), the address of its first element and its element
        strides (one per dimension).
    """
    if isinstance(x, torch.Tensor):
        if in_place(x):  # no negative or conjugate bit: its memory holds its values
            return x, x.data_ptr(), x.stride()
        x = _args.resolve(x)  # a negative-bit view holds the negated values in memory
        if not in_place(x):
            x = x.to(device="cpu", dtype=torch.float32)
            if not in_place(x):
                x = x.contiguous()
        return x, x.data_ptr(), tuple(x.stride())
    if not in_place(x):
        with np.errstate(over="ignore", invalid="ignore"):
            x = np.ascontiguousarray(x, dtype=np.float32)
    return x, x.ctypes.data, element_strides(x)  # type: ignore[return-value]


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

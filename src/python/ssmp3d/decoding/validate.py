"""Checks shared by the decoder entry points (:func:`ssmp3d.decoding.decode` and the custom op)."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..skeleton import Skeleton

__all__ = ["TAG_LAYOUTS", "channel_first_tags", "has_nan", "validate_inputs"]

#: Tag layouts :func:`ssmp3d.decoding.decode` accepts: channel-first (ours) or
#: tag-last (pose-ae-train / HigherHRNet).
TAG_LAYOUTS = ("BKDHW", "BKHWD")

_TORCH_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _check_array(name: str, x: object, ndims: tuple[int, ...]) -> tuple[int, ...]:
    """Checks type, dtype and rank of one input; returns its shape."""
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided:
            raise TypeError(f"{name}: expected a dense (strided) tensor, got layout {x.layout}")
        if x.dtype not in _TORCH_FLOATS:
            raise TypeError(f"{name}: expected a float16/bfloat16/float32/float64 tensor, got {x.dtype}")
        if x.device.type not in ("cpu", "cuda"):
            raise ValueError(f"{name}: expected a CPU or CUDA tensor (or a numpy array), got device {x.device}")
    elif isinstance(x, np.ndarray):
        if x.dtype.kind != "f" or x.dtype.itemsize not in (2, 4, 8):
            raise TypeError(f"{name}: expected a float16/float32/float64 array, got {x.dtype}")
    else:
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    shape = tuple(int(s) for s in x.shape)
    if len(shape) not in ndims:
        dims = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name}: expected {dims} dimensions, got shape {list(shape)}")
    return shape


def has_nan(x: torch.Tensor | np.ndarray) -> bool:
    """True when ``x`` contains a NaN.

    A sum in the array's own dtype is one cheap pass and is finite when ``x``
    holds no NaN (it may also be non-finite through infinities or overflow);
    only then does the exact element test run.
    """
    if isinstance(x, torch.Tensor):
        if math.isfinite(float(x.detach().sum())):
            return False
        return bool(torch.isnan(x).any())
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(x.sum())):
            return False
    return bool(np.isnan(x).any())


def validate_inputs(
    heatmaps: object, tags: object, orpm: object, skeleton: Skeleton
) -> tuple[int, int, int, int, int]:
    """Checks the three decoder inputs against each other and the skeleton.

    Args:
        heatmaps: ``[B, K, H, W]``.
        tags: ``[B, K, H, W]`` or ``[B, K, D, H, W]``.
        orpm: ``[B, K, 3, H, W]``, or None (2D-only decoding).
        skeleton: Joint set; ``K`` must equal ``skeleton.num_joints``.

    Returns:
        ``(B, K, H, W, D)``.

    Raises:
        TypeError: an input is not a dense tensor / array or not floating point.
        ValueError: wrong rank, mismatched or empty sizes, a device other
            than CPU / CUDA. (NaN is each backend's check: see :func:`decode`.)
    """
    hs = _check_array("heatmaps", heatmaps, (4,))
    ts = _check_array("tags", tags, (4, 5))
    os_ = _check_array("orpm", orpm, (5,)) if orpm is not None else None
    b, k, h, w = hs
    if b == 0:
        raise ValueError(f"heatmaps: empty batch (B = 0), shape {list(hs)}")
    if h == 0 or w == 0:
        raise ValueError(f"heatmaps: empty maps (H = {h}, W = {w})")
    if k != skeleton.num_joints:
        raise ValueError(f"heatmaps: expected K = {skeleton.num_joints} joints for skeleton "
                         f"{skeleton.name!r}, got shape {list(hs)}")
    d = 1 if len(ts) == 4 else ts[2]
    if ts[:2] != (b, k) or ts[-2:] != (h, w):
        raise ValueError(f"tags: expected [B, K, H, W] or [B, K, D, H, W] with B, K, H, W = "
                         f"{b}, {k}, {h}, {w} (from heatmaps), got shape {list(ts)}")
    if d == 0:
        raise ValueError(f"tags: the tag dimension D must be >= 1, got shape {list(ts)}")
    if os_ is None:
        return b, k, h, w, d
    if os_[:2] != (b, k) or os_[-2:] != (h, w):
        raise ValueError(f"orpm: expected [B, K, 3, H, W] with B, K, H, W = {b}, {k}, {h}, {w} "
                         f"(from heatmaps), got shape {list(os_)}")
    if os_[2] != 3:
        raise ValueError(f"orpm: dimension 2 must be 3 (X, Y, Z), got shape {list(os_)}")
    return b, k, h, w, d


def channel_first_tags(tags: object, tag_layout: str) -> object:
    """``tags`` as ``[B, K, H, W]`` / ``[B, K, D, H, W]`` (a view where possible).

    Args:
        tags: A tensor or array in ``tag_layout``.
        tag_layout: ``"BKDHW"`` (``[B, K, D, H, W]``, or ``[B, K, H, W]`` for
            ``D = 1``; returned as it is) or ``"BKHWD"`` (``[B, K, H, W, D]``,
            the layout of pose-ae-train and HigherHRNet; moved to ``[B, K, D, H, W]``).

    Raises:
        ValueError: an unknown layout, or a ``"BKHWD"`` input that is not 5-D.
    """
    if not isinstance(tag_layout, str) or tag_layout not in TAG_LAYOUTS:
        raise ValueError(f"tag_layout: expected one of {TAG_LAYOUTS}, got {tag_layout!r}")
    if tag_layout == "BKDHW":
        return tags
    _check_array("tags", tags, (5,))
    if isinstance(tags, torch.Tensor):
        return tags.permute(0, 1, 4, 2, 3)
    return np.moveaxis(tags, 4, 2)

"""Argument checks of the batched encoders (:mod:`ssmp3d.ops.encode`): every error names the argument.

Host inputs become contiguous numpy arrays (torch tensors detached, their
negative and conjugate bits resolved); sizes are checked against the map,
output and per-call memory bounds before anything is allocated.
"""

from __future__ import annotations

import numpy as np
import torch

from ..encode.heatmaps import _as_bool_array, _as_float_array, _check_positive_float, _check_radius
from ..skeleton import Skeleton
from . import _args, _budget

__all__ = ["MAX_OUTPUT_VALUES", "MAX_PIXELS", "readout_chains"]

#: Largest accepted ``H * W``.
MAX_PIXELS = 1 << 30
#: Largest accepted number of values of one output (``B * K * 3 * H * W`` for the ORPM).
MAX_OUTPUT_VALUES = 1 << 34


def _array(x, name: str) -> np.ndarray:
    """numpy view of a numpy array, CPU tensor or array-like."""
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided:
            raise TypeError(f"{name}: expected a dense (strided) tensor, got layout {x.layout}")
        if x.device.type != "cpu":
            where = "a CPU or CUDA tensor" if name == "joints_map" else "a CPU tensor (joints_map is on the CPU)"
            raise ValueError(f"{name}: expected {where}, got device {x.device}")
        x = x.detach()
        if x.dtype in (torch.bfloat16,):
            x = x.to(torch.float32)
        if x.is_complex():
            raise TypeError(f"{name}: expected a real numeric array, got dtype {x.dtype}")
        return x.resolve_conj().resolve_neg().numpy()
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged or odd sequences
        raise TypeError(f"{name}: expected a real numeric array, got {type(x).__name__} ({exc})") from None


def _check_output(b: int, k: int, h: int, w: int, channels: int = 1, planes: int = 1, n: int = 0) -> None:
    """Map and output sizes; then ``planes`` float32 ``[B, K, H, W]`` outputs (and the write orders of
    ``N`` people, the disc table) against the per-call memory budget."""
    if h * w > MAX_PIXELS:
        raise ValueError(f"size: H * W must be <= 2**30, got {(h, w)}")
    if b * k * channels * h * w > MAX_OUTPUT_VALUES:
        raise ValueError(f"size: the output [B={b}, K={k}, {channels}x H={h}, W={w}] would hold "
                         f"more than 2**34 values")
    _budget.check(planes * b * k * h * w * 4 + 8 * b * n + 8 * (h + w + 1), "size / joints_map",
                  f"an encoder with B = {b}, K = {k}, H = {h}, W = {w}")


def _sigma(sigma: object) -> float:
    """A finite ``sigma > 0`` (an int too large for a float is out of range, not an OverflowError)."""
    try:
        return _check_positive_float(sigma, "sigma")
    except OverflowError:
        raise ValueError(f"sigma: must be finite and > 0, got {_args.show(sigma)}") from None


def _radius(radius: object) -> int:
    """A disc radius in ``[0, 2**63 - 1]`` (the kernels take an int64; they clip it to ``H + W``)."""
    r = _check_radius(radius)
    if r > _args.INT64_MAX:
        raise ValueError(f"radius: must be <= 2**63 - 1, got {_args.show(r)}")
    return r


def _check_joints(joints_map, valid) -> tuple[np.ndarray, np.ndarray]:
    """``joints_map [B, N, K, 2]`` float64 and ``valid [B, N, K]`` bool, contiguous."""
    joints = _as_float_array(_array(joints_map, "joints_map"), "joints_map", "[B, N, K, 2]", 4, 2)
    b, n, k = joints.shape[:3]
    if b == 0 or k == 0:
        raise ValueError(f"joints_map: expected a non-empty batch (B >= 1 images, K >= 1 joints; "
                         f"N = 0 people is fine), got shape {joints.shape}")
    valid = _as_bool_array(_array(valid, "valid"), "valid", (b, n, k))
    if not np.all(np.isfinite(joints[valid])):
        raise ValueError("joints_map: valid joints must have finite coordinates")
    return np.ascontiguousarray(joints), np.ascontiguousarray(valid)


def _check_per_person(x, name: str, b: int, n: int) -> np.ndarray:
    """A finite float64 ``[B, N]``, contiguous."""
    arr = _as_float_array(_array(x, name), name, "[B, N]", 2, None)
    if arr.shape != (b, n):
        raise ValueError(f"{name}: expected shape {(b, n)} (images, people), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite")
    return np.ascontiguousarray(arr)


def _check_bones(bones_m, bones_valid, b: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``bones_m`` as float32 ``[B, N, K, 3]`` (one rounding, as the reference) and ``bones_valid``."""
    bones = _as_float_array(_array(bones_m, "bones_m"), "bones_m", "[B, N, K, 3]", 4, 3)
    if bones.shape[:3] != (b, n, k):
        raise ValueError(f"bones_m: expected shape {(b, n, k, 3)}, got {bones.shape}")
    if bones_valid is None:
        bvalid = np.ones((b, n, k), dtype=bool)
    else:
        bvalid = np.ascontiguousarray(_as_bool_array(_array(bones_valid, "bones_valid"), "bones_valid",
                                                     (b, n, k)))
    if not np.all(np.isfinite(bones[bvalid])):
        raise ValueError("bones_m: bone vectors must be finite where bones_valid")
    with np.errstate(over="ignore", invalid="ignore"):
        bones32 = np.ascontiguousarray(bones.astype(np.float32))
    return bones32, bvalid


def _check_chains(chains, k: int) -> np.ndarray:
    """Read-out chains ``[K, C]`` int64 with entries in ``[-1, K)``."""
    arr = _array(chains, "chains")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"chains: expected an integer array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != k or arr.shape[1] == 0:
        raise ValueError(f"chains: expected shape [K={k}, C >= 1], got {arr.shape}")
    if arr.size and (arr.min() < -1 or arr.max() >= k):
        raise ValueError(f"chains: entries must be joint indices in [0, {k}) or -1 (padding)")
    return np.ascontiguousarray(arr, dtype=np.int64)


def readout_chains(skeleton: Skeleton) -> np.ndarray:
    """``[K, K]`` int64: row ``m`` = :meth:`Skeleton.readout_chain` ``(m)``, -1 padded.

    The form in which :func:`encode_orpm` hands the skeleton to the kernel
    and to ``torch.ops.ssmp3d.encode_orpm``.
    """
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    k = skeleton.num_joints
    out = np.full((k, k), -1, dtype=np.int64)
    for m in range(k):
        chain = skeleton.readout_chain(m)
        out[m, : len(chain)] = chain
    return out

"""CUDA execution of the batched encoders (:mod:`ssmp3d.ops.encode`): mirrors of the host checks on
device tensors, value checks through one flag read, kernels on the device's current stream."""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..encode.tags import ORACLE_TAG_SPACING
from ..skeleton import Skeleton
from . import _args, _cuda
from ._encode_args import _check_output
from ._ext import load_cuda

__all__ = ["on_cuda", "heatmaps_cuda", "orpm_cuda", "tag_maps_cuda"]


def on_cuda(x) -> bool:
    return isinstance(x, torch.Tensor) and x.device.type == "cuda"


def _encoders_cuda():
    """``ssmp3d._C_cuda`` (its interface version, checked on load, guarantees the encoders)."""
    return load_cuda()


def _tensor_on(x, name: str, device: torch.device) -> torch.Tensor:
    """``x`` detached, after checking it is a dense tensor on ``device`` (joints_map's)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name}: expected a tensor on {device} (the device of joints_map), "
                         f"got {type(x).__name__} (host memory)")
    if x.layout != torch.strided:
        raise TypeError(f"{name}: expected a dense (strided) tensor, got layout {x.layout}")
    if x.device != device:
        raise ValueError(f"{name}: expected a tensor on {device} (the device of joints_map), got device {x.device}")
    return _args.resolve(x)


def _is_int(t: torch.Tensor) -> bool:
    return not (t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool)


def _float64_on(x, name: str, device: torch.device, shape_desc: str, ndim: int, last: int | None) -> torch.Tensor:
    """Mirror of ``_as_float_array``: a real tensor of ``ndim`` dims as contiguous float64."""
    t = _tensor_on(x, name, device)
    if t.dtype.is_complex:
        raise TypeError(f"{name}: expected a real numeric array, got dtype {t.dtype}")
    if t.dim() != ndim or (last is not None and t.shape[-1] != last):
        raise ValueError(f"{name}: expected shape {shape_desc}, got {tuple(t.shape)}")
    return t.to(torch.float64).contiguous()


def _flags_on(x, name: str, device: torch.device, shape: tuple[int, ...], checks: list) -> torch.Tensor:
    """Mirror of ``_as_bool_array``: contiguous uint8 0/1; integer flags other than 0/1 go to ``checks``."""
    t = _tensor_on(x, name, device)
    if t.dtype != torch.bool and not _is_int(t):
        raise TypeError(f"{name}: expected a bool array, got dtype {t.dtype}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}")
    if t.dtype == torch.bool:
        return t.contiguous().view(torch.uint8)
    if checks is not None:
        checks.append((((t != 0) & (t != 1)).any(), f"{name}: integer flags must be 0 or 1"))
    return (t != 0).contiguous().view(torch.uint8)


def _per_person_on(x, name: str, device: torch.device, b: int, n: int, checks: list) -> torch.Tensor:
    """Mirror of ``_check_per_person``: float64 ``[B, N]``, finiteness checked through ``checks``."""
    t = _float64_on(x, name, device, "[B, N]", 2, None)
    if tuple(t.shape) != (b, n):
        raise ValueError(f"{name}: expected shape {(b, n)} (images, people), got {tuple(t.shape)}")
    if checks is not None:
        checks.append(((~torch.isfinite(t)).any(), f"{name}: must be finite"))
    return t


def _value_checks(device: torch.device) -> list | None:
    """A list to collect ``(flag, message)`` value checks into; None during CUDA graph capture."""
    return None if _cuda.capturing(device) else []


def _raise_first(checks: list | None) -> None:
    """Raises ``ValueError`` with the message of the first set flag (one synchronisation)."""
    if not checks:
        return
    flags = torch.stack([flag for flag, _ in checks]).tolist()
    for flag, (_, message) in zip(flags, checks):
        if flag:
            raise ValueError(message)


def _joints_on_cuda(joints_map, valid, checks: list | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror of ``_check_joints`` for a CUDA ``joints_map``."""
    device = joints_map.device
    joints = _float64_on(joints_map, "joints_map", device, "[B, N, K, 2]", 4, 2)
    b, n, k = joints.shape[:3]
    if b == 0 or k == 0:
        raise ValueError(f"joints_map: expected a non-empty batch (B >= 1 images, K >= 1 joints; "
                         f"N = 0 people is fine), got shape {tuple(joints.shape)}")
    flags = _flags_on(valid, "valid", device, (b, n, k), checks)
    if checks is not None:
        checks.append(((~torch.isfinite(joints) & flags.bool()[..., None]).any(),
                       "joints_map: valid joints must have finite coordinates"))
    return joints, flags


@functools.lru_cache(maxsize=64)
def _chains_cached(data: bytes, k: int, c: int, device: torch.device) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.int64).reshape(k, c).to(device)


def _chains_on(chains, k: int, device: torch.device, checks: list | None) -> torch.Tensor:
    """Read-out chains ``[K, C]`` int64 on ``device``: a cached copy of a numpy table, or a checked tensor."""
    if isinstance(chains, np.ndarray):  # from readout_chains(skeleton), already valid
        return _chains_cached(chains.tobytes(), k, chains.shape[1], device)
    t = _tensor_on(chains, "chains", device)
    if not _is_int(t):
        raise TypeError(f"chains: expected an integer array, got dtype {t.dtype}")
    if t.dim() != 2 or t.shape[0] != k or t.shape[1] == 0:
        raise ValueError(f"chains: expected shape [K={k}, C >= 1], got {tuple(t.shape)}")
    t = t.to(torch.int64).contiguous()
    if checks is not None:
        checks.append((((t < -1) | (t >= k)).any(),
                       f"chains: entries must be joint indices in [0, {k}) or -1 (padding)"))
    return t


def heatmaps_cuda(joints_map: torch.Tensor, valid, h: int, w: int, sigma: float) -> torch.Tensor:
    ext = _encoders_cuda()
    dev = joints_map.device
    with _cuda.on_device(dev) as stream:
        checks = _value_checks(dev)
        joints, flags = _joints_on_cuda(joints_map, valid, checks)
        b, n, k = flags.shape
        _raise_first(checks)
        _check_output(b, k, h, w, n=n)
        out = torch.empty((b, k, h, w), dtype=torch.float32, device=dev)
        ext.encode_heatmaps_cuda(joints.data_ptr(), flags.data_ptr(), b, n, k, h, w, sigma, out.data_ptr(),
                                 stream)
    return out


def orpm_cuda(joints_map: torch.Tensor, bones_m, valid, bones_valid, depth, chains, h: int, w: int,
               radius: int, skeleton: Skeleton | None) -> tuple[torch.Tensor, torch.Tensor]:
    ext = _encoders_cuda()
    dev = joints_map.device
    with _cuda.on_device(dev) as stream:
        checks = _value_checks(dev)
        joints, flags = _joints_on_cuda(joints_map, valid, checks)
        b, n, k = flags.shape
        if skeleton is not None and k != skeleton.num_joints:
            raise ValueError(f"joints_map: skeleton {skeleton.name!r} has {skeleton.num_joints} joints, "
                             f"got K={k}")
        chains = _chains_on(chains, k, dev, checks)
        bones = _float64_on(bones_m, "bones_m", dev, "[B, N, K, 3]", 4, 3)
        if tuple(bones.shape[:3]) != (b, n, k):
            raise ValueError(f"bones_m: expected shape {(b, n, k, 3)}, got {tuple(bones.shape)}")
        if bones_valid is None:
            bflags = torch.ones((b, n, k), dtype=torch.uint8, device=dev)
        else:
            bflags = _flags_on(bones_valid, "bones_valid", dev, (b, n, k), checks)
        if checks is not None:
            checks.append(((~torch.isfinite(bones) & bflags.bool()[..., None]).any(),
                           "bones_m: bone vectors must be finite where bones_valid"))
        bones32 = bones.to(torch.float32)  # one rounding of the float64 values, as the CPU path
        depth = _per_person_on(depth, "depth", dev, b, n, checks)
        _raise_first(checks)
        _check_output(b, k, h, w, 3, planes=4, n=n)
        orpm = torch.empty((b, k, 3, h, w), dtype=torch.float32, device=dev)
        weight = torch.empty((b, k, h, w), dtype=torch.float32, device=dev)
        ext.encode_orpm_cuda(joints.data_ptr(), bones32.data_ptr(), flags.data_ptr(), bflags.data_ptr(),
                             depth.data_ptr(), chains.data_ptr(), b, n, k, chains.shape[1], h, w, radius,
                             orpm.data_ptr(), weight.data_ptr(), stream)
    return orpm, weight


def tag_maps_cuda(joints_map: torch.Tensor, valid, depth, tag_values, h: int, w: int,
                   radius: int) -> torch.Tensor:
    ext = _encoders_cuda()
    dev = joints_map.device
    with _cuda.on_device(dev) as stream:
        checks = _value_checks(dev)
        joints, flags = _joints_on_cuda(joints_map, valid, checks)
        b, n, k = flags.shape
        depth = _per_person_on(depth, "depth", dev, b, n, checks)
        if tag_values is None:  # oracle_tag_values(n): small integers, exact in float64
            tags = (torch.arange(n, dtype=torch.float64, device=dev) * ORACLE_TAG_SPACING + 1.0).expand(b, n)
        else:
            tags = _per_person_on(tag_values, "tag_values", dev, b, n, checks)
        tags32 = tags.to(torch.float32).contiguous()
        _raise_first(checks)
        _check_output(b, k, h, w, n=n)
        out = torch.empty((b, k, h, w), dtype=torch.float32, device=dev)
        ext.encode_tag_maps_cuda(joints.data_ptr(), flags.data_ptr(), depth.data_ptr(), tags32.data_ptr(), b, n,
                                 k, h, w, radius, out.data_ptr(), stream)
    return out

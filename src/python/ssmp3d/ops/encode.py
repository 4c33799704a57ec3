"""Batched training-target encoders (DESIGN.md section 5): the checked public ops.

:func:`encode_heatmaps`, :func:`encode_orpm` and :func:`encode_tag_maps`
take a batch of images with up to ``N`` people each (padded: a padding
person is a slot whose ``valid`` flags are all False) and run the compiled
CPU kernels of ``ssmp3d._C``. Per image they equal the numpy reference
encoders of :mod:`ssmp3d.encode` bit for bit (batched twins in
:mod:`ssmp3d.ops._reference`), whatever the number of threads. They are also
registered as the custom ops ``torch.ops.ssmp3d.encode_heatmaps``,
``encode_orpm`` and ``encode_tag_maps`` (with fake implementations) for
``torch.compile`` and ``torch.ops`` users; the skeleton crosses the custom
op as its read-out chains (:func:`readout_chains`).

Inputs are numpy arrays or CPU torch tensors; the outputs are torch tensors
when ``joints_map`` is one, else numpy arrays. Everything is checked before
the kernel runs (``TypeError`` / ``ValueError`` naming the argument): shapes
that disagree between arguments, non-numeric dtypes, ``valid`` flags other
than 0/1, non-finite coordinates of valid joints, non-finite depths or tags,
bone vectors non-finite where ``bones_valid``, negative radius, sigma <= 0,
an empty batch (``B == 0`` or ``K == 0``; ``N == 0`` people is fine), maps
of more than ``2**30`` pixels or outputs of more than ``2**34`` values.

CUDA: when ``joints_map`` is a CUDA tensor, every other array argument must
be a tensor on the same device (else ``ValueError`` naming it) and the
kernels of ``ssmp3d._C_cuda`` run on the device's current stream, returning
tensors on that device, equal to the CPU kernels bit for bit (the heatmap's
``exp``: see :func:`encode_heatmaps`). The same dtype and shape checks run
first; the value checks (flags, finiteness, chain entries) then read one
device flag vector, which synchronises the stream. During CUDA graph capture
no synchronisation is possible: the value checks are skipped and invalid
values give well-defined but unspecified maps (the kernels never read out of
bounds). A first call outside capture is needed for ``encode_orpm``, which
copies the skeleton's read-out chains to the device once and caches them.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from ..encode.heatmaps import (
    _as_bool_array,
    _as_float_array,
    _check_positive_float,
    _check_radius,
    _check_size,
)
from ..encode.tags import ORACLE_TAG_SPACING, oracle_tag_values
from ..skeleton import Skeleton
from . import _cuda
from ._ext import load_cpu, load_cuda
from .heatmap_nms import _check_threads

__all__ = ["MAX_OUTPUT_VALUES", "MAX_PIXELS", "encode_heatmaps", "encode_orpm", "encode_tag_maps",
           "readout_chains"]

#: Largest accepted ``H * W``.
MAX_PIXELS = 1 << 30
#: Largest accepted number of values of one output (``B * K * 3 * H * W`` for the ORPM).
MAX_OUTPUT_VALUES = 1 << 34


# ---------------------------------------------------------------- validation


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
    return np.asarray(x)


def _check_output(b: int, k: int, h: int, w: int, channels: int = 1) -> None:
    if h * w > MAX_PIXELS:
        raise ValueError(f"size: H * W must be <= 2**30, got {(h, w)}")
    if b * k * channels * h * w > MAX_OUTPUT_VALUES:
        raise ValueError(f"size: the output [B={b}, K={k}, {channels}x H={h}, W={w}] would hold "
                         f"more than 2**34 values")


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


# ---------------------------------------------------------------- execution


def _empty(shape: tuple[int, ...], as_torch: bool):
    if as_torch:
        t = torch.empty(shape, dtype=torch.float32)
        return t, t.data_ptr()
    a = np.empty(shape, dtype=np.float32)
    return a, a.ctypes.data


def _heatmaps(joints_map, valid, h: int, w: int, sigma: float, threads: int, as_torch: bool):
    if _on_cuda(joints_map):
        return _heatmaps_cuda(joints_map, valid, h, w, sigma)
    joints, valid = _check_joints(joints_map, valid)
    b, n, k = valid.shape
    _check_output(b, k, h, w)
    out, ptr = _empty((b, k, h, w), as_torch)
    load_cpu().encode_heatmaps_cpu(joints.ctypes.data, valid.ctypes.data, b, n, k, h, w, sigma, ptr,
                                   threads)
    return out


def _orpm(joints_map, bones_m, valid, bones_valid, depth, chains, h: int, w: int, radius: int,
          threads: int, as_torch: bool, skeleton: Skeleton | None = None):
    if _on_cuda(joints_map):
        return _orpm_cuda(joints_map, bones_m, valid, bones_valid, depth, chains, h, w, radius, skeleton)
    joints, valid = _check_joints(joints_map, valid)
    b, n, k = valid.shape
    if skeleton is not None and k != skeleton.num_joints:
        raise ValueError(f"joints_map: skeleton {skeleton.name!r} has {skeleton.num_joints} joints, "
                         f"got K={k}")
    chains = _check_chains(chains, k)
    bones32, bvalid = _check_bones(bones_m, bones_valid, b, n, k)
    depth = _check_per_person(depth, "depth", b, n)
    _check_output(b, k, h, w, 3)
    orpm, orpm_ptr = _empty((b, k, 3, h, w), as_torch)
    weight, weight_ptr = _empty((b, k, h, w), as_torch)
    load_cpu().encode_orpm_cpu(joints.ctypes.data, bones32.ctypes.data, valid.ctypes.data,
                               bvalid.ctypes.data, depth.ctypes.data, chains.ctypes.data, b, n, k,
                               chains.shape[1], h, w, radius, orpm_ptr, weight_ptr, threads)
    return orpm, weight


def _tag_maps(joints_map, valid, depth, tag_values, h: int, w: int, radius: int, threads: int,
              as_torch: bool):
    if _on_cuda(joints_map):
        return _tag_maps_cuda(joints_map, valid, depth, tag_values, h, w, radius)
    joints, valid = _check_joints(joints_map, valid)
    b, n, k = valid.shape
    depth = _check_per_person(depth, "depth", b, n)
    if tag_values is None:
        tags = np.broadcast_to(oracle_tag_values(n), (b, n))
    else:
        tags = _check_per_person(tag_values, "tag_values", b, n)
    with np.errstate(over="ignore"):
        tags32 = np.ascontiguousarray(tags.astype(np.float32))
    _check_output(b, k, h, w)
    out, ptr = _empty((b, k, h, w), as_torch)
    load_cpu().encode_tag_maps_cpu(joints.ctypes.data, valid.ctypes.data, depth.ctypes.data,
                                   tags32.ctypes.data, b, n, k, h, w, radius, ptr, threads)
    return out


# ---------------------------------------------------------------- CUDA execution


def _on_cuda(x) -> bool:
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
    return x.detach()


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


def _heatmaps_cuda(joints_map: torch.Tensor, valid, h: int, w: int, sigma: float) -> torch.Tensor:
    ext = _encoders_cuda()
    dev = joints_map.device
    with _cuda.on_device(dev) as stream:
        checks = _value_checks(dev)
        joints, flags = _joints_on_cuda(joints_map, valid, checks)
        b, n, k = flags.shape
        _raise_first(checks)
        _check_output(b, k, h, w)
        out = torch.empty((b, k, h, w), dtype=torch.float32, device=dev)
        ext.encode_heatmaps_cuda(joints.data_ptr(), flags.data_ptr(), b, n, k, h, w, sigma, out.data_ptr(),
                                 stream)
    return out


def _orpm_cuda(joints_map: torch.Tensor, bones_m, valid, bones_valid, depth, chains, h: int, w: int,
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
        _check_output(b, k, h, w, 3)
        orpm = torch.empty((b, k, 3, h, w), dtype=torch.float32, device=dev)
        weight = torch.empty((b, k, h, w), dtype=torch.float32, device=dev)
        ext.encode_orpm_cuda(joints.data_ptr(), bones32.data_ptr(), flags.data_ptr(), bflags.data_ptr(),
                             depth.data_ptr(), chains.data_ptr(), b, n, k, chains.shape[1], h, w, radius,
                             orpm.data_ptr(), weight.data_ptr(), stream)
    return orpm, weight


def _tag_maps_cuda(joints_map: torch.Tensor, valid, depth, tag_values, h: int, w: int,
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
        _check_output(b, k, h, w)
        out = torch.empty((b, k, h, w), dtype=torch.float32, device=dev)
        ext.encode_tag_maps_cuda(joints.data_ptr(), flags.data_ptr(), depth.data_ptr(), tags32.data_ptr(), b, n,
                                 k, h, w, radius, out.data_ptr(), stream)
    return out


# ---------------------------------------------------------------- custom ops


def _fake_bnk(joints_map: torch.Tensor, valid: torch.Tensor, **others: torch.Tensor) -> tuple:
    """``(B, N, K)`` of the fake inputs, after the shape and device checks the real op makes.

    The outputs of every fake are ``joints_map.new_empty(...)``: on the input device.
    """
    if joints_map.dim() != 4 or joints_map.shape[3] != 2:
        raise ValueError(f"joints_map: expected shape [B, N, K, 2], got {tuple(joints_map.shape)}")
    b, n, k = joints_map.shape[:3]
    if tuple(valid.shape) != (b, n, k):
        raise ValueError(f"valid: expected shape {(b, n, k)}, got {tuple(valid.shape)}")
    if joints_map.device.type not in ("cpu", "cuda"):
        raise ValueError(f"joints_map: expected a CPU or CUDA tensor, got device {joints_map.device}")
    for name, t in {"valid": valid, **others}.items():
        if t.device != joints_map.device:
            raise ValueError(f"{name}: expected a tensor on {joints_map.device} (the device of joints_map), "
                             f"got device {t.device}")
    return b, n, k


@torch.library.custom_op("ssmp3d::encode_heatmaps", mutates_args=())
def _encode_heatmaps_op(joints_map: torch.Tensor, valid: torch.Tensor, H: int, W: int,
                        sigma: float) -> torch.Tensor:
    """``torch.ops.ssmp3d.encode_heatmaps``: see :func:`encode_heatmaps` (default threads)."""
    h, w = _check_size((H, W))
    sigma = _check_positive_float(sigma, "sigma")
    return _heatmaps(joints_map, valid, h, w, sigma, torch.get_num_threads(), True)


@_encode_heatmaps_op.register_fake
def _(joints_map, valid, H, W, sigma):
    b, _, k = _fake_bnk(joints_map, valid)
    return joints_map.new_empty((b, k, H, W), dtype=torch.float32)


@torch.library.custom_op("ssmp3d::encode_orpm", mutates_args=())
def _encode_orpm_op(joints_map: torch.Tensor, bones_m: torch.Tensor, valid: torch.Tensor,
                    bones_valid: torch.Tensor, depth: torch.Tensor, chains: torch.Tensor, H: int,
                    W: int, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.ops.ssmp3d.encode_orpm``: see :func:`encode_orpm`; ``chains`` from :func:`readout_chains`.

    Every tensor, ``chains`` included, is on the device of ``joints_map``.
    """
    h, w = _check_size((H, W))
    radius = _check_radius(radius)
    return _orpm(joints_map, bones_m, valid, bones_valid, depth, chains, h, w, radius,
                 torch.get_num_threads(), True)


@_encode_orpm_op.register_fake
def _(joints_map, bones_m, valid, bones_valid, depth, chains, H, W, radius):
    b, _, k = _fake_bnk(joints_map, valid, bones_m=bones_m, bones_valid=bones_valid, depth=depth,
                        chains=chains)
    return (joints_map.new_empty((b, k, 3, H, W), dtype=torch.float32),
            joints_map.new_empty((b, k, H, W), dtype=torch.float32))


@torch.library.custom_op("ssmp3d::encode_tag_maps", mutates_args=())
def _encode_tag_maps_op(joints_map: torch.Tensor, valid: torch.Tensor, depth: torch.Tensor,
                        tag_values: torch.Tensor, H: int, W: int, radius: int) -> torch.Tensor:
    """``torch.ops.ssmp3d.encode_tag_maps``: see :func:`encode_tag_maps` (explicit ``tag_values``)."""
    h, w = _check_size((H, W))
    radius = _check_radius(radius)
    return _tag_maps(joints_map, valid, depth, tag_values, h, w, radius, torch.get_num_threads(), True)


@_encode_tag_maps_op.register_fake
def _(joints_map, valid, depth, tag_values, H, W, radius):
    b, _, k = _fake_bnk(joints_map, valid, depth=depth, tag_values=tag_values)
    return joints_map.new_empty((b, k, H, W), dtype=torch.float32)


# ---------------------------------------------------------------- public API


def encode_heatmaps(joints_map, valid, size, sigma: float = 2.0, *, num_threads: int | None = None):
    """Gaussian joint heatmaps of a batch, max over people (DESIGN.md section 5).

    Per image equal to :func:`ssmp3d.encode.encode_heatmaps` bit for bit: a
    joint is drawn iff ``valid`` and its nearest pixel ``floor(c + 0.5)`` is
    inside the map, on the square window of half-width ``ceil(3 * sigma)``,
    value ``float32(exp(-(dx*dx + dy*dy) / ((2*sigma)*sigma)))`` (float64,
    the C library's ``exp``).

    On CUDA the GPU has no C library ``exp``: a value is the float32 rounding
    of the correctly rounded float64 ``exp`` where that matters, i.e. where
    the float64 ``exp`` lies within ``2**-49`` (relative) of a float32
    rounding midpoint, and equals the CPU's everywhere else (proved by the
    error bounds, see ``docs/decisions.md``). So the GPU equals the CPU
    unless the C library's ``exp`` is misrounded at an argument whose
    float64 result sits within about one ulp of a float32 midpoint: 18 of
    2e7 arguments chosen next to midpoints with glibc 2.36, about 1e-12 of
    random values; none among the 139160 distinct arguments of pixel-grid
    joints with sigma in 0.5..8.

    Args:
        joints_map: ``[B, N, K, 2]`` continuous map coordinates ``(x, y)``
            (numpy, CPU or CUDA torch; invalid joints may be NaN). A CUDA
            tensor runs the CUDA kernel; the other arguments must then be
            tensors on its device.
        valid: ``[B, N, K]`` bool (or 0/1 ints); padding people are all False.
        size: ``(H, W)`` of the maps.
        sigma: Gaussian standard deviation in map pixels (finite, > 0).
        num_threads: CPU threads; ``None`` = ``torch.get_num_threads()``,
            ``0`` = all cores. Ignored on CUDA. Results do not depend on it.

    Returns:
        ``[B, K, H, W]`` float32, a torch tensor (on the device of
        ``joints_map``) if ``joints_map`` is one, else numpy.

    Raises:
        TypeError, ValueError: see the module docstring.
        ImportError: ``ssmp3d._C`` (``ssmp3d._C_cuda`` for CUDA tensors) is not built.
    """
    h, w = _check_size(size)
    sigma = _check_positive_float(sigma, "sigma")
    if torch.compiler.is_compiling():
        return torch.ops.ssmp3d.encode_heatmaps(joints_map, valid, h, w, sigma)
    return _heatmaps(joints_map, valid, h, w, sigma, _check_threads(num_threads),
                     isinstance(joints_map, torch.Tensor))


def encode_orpm(joints_map, bones_m, valid, depth, *, skeleton: Skeleton, size, radius: int = 2,
                bones_valid=None, num_threads: int | None = None):
    """ORPM targets and their weight mask for a batch (DESIGN.md section 5).

    Per image equal to :func:`ssmp3d.encode.encode_orpm` bit for bit: map
    ``m`` of person ``p`` holds ``float32(bones_m[p, m])`` on discs
    ``dx^2 + dy^2 <= r^2`` around each valid in-map read-out location of
    ``m`` (:meth:`Skeleton.readout_chain`), people written far to near
    (stable sort of ``depth`` descending: nearer wins, equal depth -> higher
    index wins).

    Args:
        joints_map: ``[B, N, K, 2]`` map coordinates of the read-out locations
            (numpy, CPU or CUDA torch; a CUDA tensor runs the CUDA kernel,
            equal to the CPU's bit for bit).
        bones_m: ``[B, N, K, 3]`` bone vectors in metres (any real dtype;
            rounded once to float32).
        valid: ``[B, N, K]`` bool: usable read-out locations (padding: False).
        depth: ``[B, N]`` finite pelvis depths, larger = farther.
        skeleton: The joint set (``K == skeleton.num_joints``).
        size: ``(H, W)`` of the maps.
        radius: Disc radius in map pixels (int >= 0).
        bones_valid: Optional ``[B, N, K]`` bool: map ``m`` of person ``p`` is
            written only where True (the vector may be NaN elsewhere).
            Default all True (then every bone vector must be finite).
        num_threads: As :func:`encode_heatmaps`.

    Returns:
        ``(orpm [B, K, 3, H, W], weight [B, K, H, W])`` float32 (weight 0/1),
        torch tensors (on the device of ``joints_map``) if ``joints_map`` is
        one, else numpy.

    Raises:
        TypeError, ValueError: see the module docstring; also a skeleton
            that is not a :class:`Skeleton` or whose ``K`` differs.
        ImportError: ``ssmp3d._C`` (``ssmp3d._C_cuda`` for CUDA tensors) is not built.
    """
    chains = readout_chains(skeleton)
    h, w = _check_size(size)
    radius = _check_radius(radius)
    if torch.compiler.is_compiling():
        if bones_valid is None:
            bones_valid = torch.ones(valid.shape, dtype=torch.bool, device=valid.device)
        return torch.ops.ssmp3d.encode_orpm(joints_map, bones_m, valid, bones_valid, depth,
                                            torch.from_numpy(chains).to(joints_map.device), h, w, radius)
    return _orpm(joints_map, bones_m, valid, bones_valid, depth, chains, h, w, radius,
                 _check_threads(num_threads), isinstance(joints_map, torch.Tensor), skeleton)


def encode_tag_maps(joints_map, valid, depth, size, tag_values=None, radius: int = 2, *,
                    num_threads: int | None = None):
    """Oracle tag maps of a batch: each person's tag on discs around its joints.

    Per image equal to :func:`ssmp3d.encode.encode_tag_maps` bit for bit
    (same disc and write order as :func:`encode_orpm`).

    Args:
        joints_map: ``[B, N, K, 2]`` map coordinates (numpy, CPU or CUDA
            torch; a CUDA tensor runs the CUDA kernel, equal to the CPU's
            bit for bit).
        valid: ``[B, N, K]`` bool (padding: False).
        depth: ``[B, N]`` finite depths, larger = farther.
        size: ``(H, W)`` of the maps.
        tag_values: ``[B, N]`` finite tags, written as float32; default
            :func:`ssmp3d.encode.oracle_tag_values` ``(N)`` in every image.
        radius: Disc radius in map pixels (int >= 0).
        num_threads: As :func:`encode_heatmaps`.

    Returns:
        ``[B, K, H, W]`` float32 (0 where nobody wrote), a torch tensor (on
        the device of ``joints_map``) if ``joints_map`` is one, else numpy.

    Raises:
        TypeError, ValueError: see the module docstring.
        ImportError: ``ssmp3d._C`` (``ssmp3d._C_cuda`` for CUDA tensors) is not built.
    """
    h, w = _check_size(size)
    radius = _check_radius(radius)
    if torch.compiler.is_compiling():
        if tag_values is None:
            b, n = joints_map.shape[:2]
            tag_values = torch.from_numpy(oracle_tag_values(n)).to(joints_map.device).expand(b, n)
        return torch.ops.ssmp3d.encode_tag_maps(joints_map, valid, depth, tag_values, h, w, radius)
    return _tag_maps(joints_map, valid, depth, tag_values, h, w, radius, _check_threads(num_threads),
                     isinstance(joints_map, torch.Tensor))

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
of more than ``2**30`` pixels or outputs of more than ``2**34`` values, a
``sigma`` or ``radius`` beyond what the kernels take, and outputs beyond the
per-call memory budget ``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (2 GiB: ``4 * B * K
* H * W`` bytes per output plane, 4 planes for :func:`encode_orpm`).
Tensors with the negative or conjugate bit set are read by their values.

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

import numpy as np
import torch

from ..encode.heatmaps import _check_size
from ..encode.tags import oracle_tag_values
from ..skeleton import Skeleton
from ._encode_args import (
    MAX_OUTPUT_VALUES,
    MAX_PIXELS,
    _check_bones,
    _check_chains,
    _check_joints,
    _check_output,
    _check_per_person,
    _radius,
    _sigma,
    readout_chains,
)
from ._encode_cuda import heatmaps_cuda, on_cuda, orpm_cuda, tag_maps_cuda
from ._ext import load_cpu
from .heatmap_nms import _check_threads

__all__ = ["MAX_OUTPUT_VALUES", "MAX_PIXELS", "encode_heatmaps", "encode_orpm", "encode_tag_maps",
           "readout_chains"]


# ---------------------------------------------------------------- execution


def _empty(shape: tuple[int, ...], as_torch: bool):
    if as_torch:
        t = torch.empty(shape, dtype=torch.float32)
        return t, t.data_ptr()
    a = np.empty(shape, dtype=np.float32)
    return a, a.ctypes.data


def _heatmaps(joints_map, valid, h: int, w: int, sigma: float, threads: int, as_torch: bool):
    if on_cuda(joints_map):
        return heatmaps_cuda(joints_map, valid, h, w, sigma)
    joints, valid = _check_joints(joints_map, valid)
    b, n, k = valid.shape
    _check_output(b, k, h, w, n=n)
    out, ptr = _empty((b, k, h, w), as_torch)
    load_cpu().encode_heatmaps_cpu(joints.ctypes.data, valid.ctypes.data, b, n, k, h, w, sigma, ptr,
                                   threads)
    return out


def _orpm(joints_map, bones_m, valid, bones_valid, depth, chains, h: int, w: int, radius: int,
          threads: int, as_torch: bool, skeleton: Skeleton | None = None):
    if on_cuda(joints_map):
        return orpm_cuda(joints_map, bones_m, valid, bones_valid, depth, chains, h, w, radius, skeleton)
    joints, valid = _check_joints(joints_map, valid)
    b, n, k = valid.shape
    if skeleton is not None and k != skeleton.num_joints:
        raise ValueError(f"joints_map: skeleton {skeleton.name!r} has {skeleton.num_joints} joints, "
                         f"got K={k}")
    chains = _check_chains(chains, k)
    bones32, bvalid = _check_bones(bones_m, bones_valid, b, n, k)
    depth = _check_per_person(depth, "depth", b, n)
    _check_output(b, k, h, w, 3, planes=4, n=n)
    orpm, orpm_ptr = _empty((b, k, 3, h, w), as_torch)
    weight, weight_ptr = _empty((b, k, h, w), as_torch)
    load_cpu().encode_orpm_cpu(joints.ctypes.data, bones32.ctypes.data, valid.ctypes.data,
                               bvalid.ctypes.data, depth.ctypes.data, chains.ctypes.data, b, n, k,
                               chains.shape[1], h, w, radius, orpm_ptr, weight_ptr, threads)
    return orpm, weight


def _tag_maps(joints_map, valid, depth, tag_values, h: int, w: int, radius: int, threads: int,
              as_torch: bool):
    if on_cuda(joints_map):
        return tag_maps_cuda(joints_map, valid, depth, tag_values, h, w, radius)
    joints, valid = _check_joints(joints_map, valid)
    b, n, k = valid.shape
    depth = _check_per_person(depth, "depth", b, n)
    if tag_values is None:
        tags = np.broadcast_to(oracle_tag_values(n), (b, n))
    else:
        tags = _check_per_person(tag_values, "tag_values", b, n)
    with np.errstate(over="ignore"):
        tags32 = np.ascontiguousarray(tags.astype(np.float32))
    _check_output(b, k, h, w, n=n)
    out, ptr = _empty((b, k, h, w), as_torch)
    load_cpu().encode_tag_maps_cpu(joints.ctypes.data, valid.ctypes.data, depth.ctypes.data,
                                   tags32.ctypes.data, b, n, k, h, w, radius, ptr, threads)
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
    sigma = _sigma(sigma)
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
    radius = _radius(radius)
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
    radius = _radius(radius)
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
    sigma = _sigma(sigma)
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
    radius = _radius(radius)
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
    radius = _radius(radius)
    if torch.compiler.is_compiling():
        if tag_values is None:
            b, n = joints_map.shape[:2]
            tag_values = torch.from_numpy(oracle_tag_values(n)).to(joints_map.device).expand(b, n)
        return torch.ops.ssmp3d.encode_tag_maps(joints_map, valid, depth, tag_values, h, w, radius)
    return _tag_maps(joints_map, valid, depth, tag_values, h, w, radius, _check_threads(num_threads),
                     isinstance(joints_map, torch.Tensor))

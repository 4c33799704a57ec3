"""Public decoding entry point: input validation and backend selection."""

from __future__ import annotations

import math

from typing import Callable

import numpy as np
import torch

from ..geometry import MapTransform
from ..ops._args import threads as _check_threads
from ..ops._ext import has_cpu_ext, has_cuda_ext
from ..skeleton import PANOPTIC19, Skeleton
from .cpu import decode_cpu
from .cuda import decode_cuda
from .reference import decode_reference
from .types import BACKENDS, DecodeConfig, DecodeResult

_TORCH_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

_DEFAULT_TRANSFORM = MapTransform(stride=4)

_Backend = Callable[..., DecodeResult]
# name -> (decoder, whether this installation can run it; checked when asked, so
# that importing ssmp3d loads no extension).
_IMPLEMENTED: dict[str, tuple[_Backend, Callable[[], bool]]] = {
    "python": (decode_reference, lambda: True),
    "cpu": (decode_cpu, has_cpu_ext),
    "cuda": (decode_cuda, lambda: has_cpu_ext() and has_cuda_ext() and torch.cuda.is_available()),
}


def available_backends() -> tuple[str, ...]:
    """Names of the decoder backends usable in this installation and machine
    (``"cpu"`` when ``ssmp3d._C`` is built; ``"cuda"`` when ``ssmp3d._C_cuda``
    is built too and torch sees a GPU)."""
    return tuple(name for name in BACKENDS if name in _IMPLEMENTED and _IMPLEMENTED[name][1]())


def _check_array(name: str, x: object, ndims: tuple[int, ...]) -> tuple[int, ...]:
    """Checks type, dtype and rank of one input; returns its shape."""
    if isinstance(x, torch.Tensor):
        if x.dtype not in _TORCH_FLOATS:
            raise TypeError(f"{name}: expected a float16/bfloat16/float32/float64 tensor, got {x.dtype}")
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
        orpm: ``[B, K, 3, H, W]``.
        skeleton: Joint set; ``K`` must equal ``skeleton.num_joints``.

    Returns:
        ``(B, K, H, W, D)``.

    Raises:
        TypeError: an input is not a tensor/array or not floating point.
        ValueError: wrong rank, mismatched or empty sizes. (NaN is each
            backend's check: see :func:`decode`.)
    """
    hs = _check_array("heatmaps", heatmaps, (4,))
    ts = _check_array("tags", tags, (4, 5))
    os_ = _check_array("orpm", orpm, (5,))
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
    if os_[:2] != (b, k) or os_[-2:] != (h, w):
        raise ValueError(f"orpm: expected [B, K, 3, H, W] with B, K, H, W = {b}, {k}, {h}, {w} "
                         f"(from heatmaps), got shape {list(os_)}")
    if os_[2] != 3:
        raise ValueError(f"orpm: dimension 2 must be 3 (X, Y, Z), got shape {list(os_)}")
    return b, k, h, w, d


def decode(
    heatmaps: torch.Tensor | np.ndarray,
    tags: torch.Tensor | np.ndarray,
    orpm: torch.Tensor | np.ndarray,
    config: DecodeConfig = DecodeConfig(),
    *,
    skeleton: Skeleton = PANOPTIC19,
    transform: MapTransform | None = None,
    backend: str = "python",
    num_threads: int | None = None,
) -> DecodeResult:
    """Decodes network outputs into multi-person 2D/3D poses (DESIGN.md section 6).

    Steps: heatmap NMS, gathering of tags at the peaks, greedy grouping seeded
    by the necks, ORPM read-out with the fallback chain (or the naive one),
    summation of the bone vectors down the tree.

    Args:
        heatmaps: ``[B, K, H, W]`` joint heatmaps.
        tags: ``[B, K, H, W]`` (``D = 1``) or ``[B, K, D, H, W]`` embeddings.
        orpm: ``[B, K, 3, H, W]`` parent-relative bone vectors in metres
            (the pelvis maps are ignored).
            All three: torch tensors (any device) or numpy arrays, float16,
            bfloat16 (torch only), float32 or float64. NaN is an error
            anywhere in ``heatmaps``, and in ``tags`` / ``orpm`` where the
            decoder reads them: the tags at the candidate peaks, the ORPM
            vectors at the read-out locations of the people kept.
        config: Decoding parameters.
        skeleton: Joint set (``K == skeleton.num_joints``).
        transform: Map -> image coordinates; default ``MapTransform(stride=4)``
            (identity affine).
        backend: ``"python"`` (the reference decoder), ``"cpu"`` (the C++
            decoder) or ``"cuda"`` (peaks and gathers on the GPU, grouping
            and read-out in C++ on the host; inputs must be CUDA tensors of
            one device); see :func:`available_backends`. Results are identical.
        num_threads: Host threads of the ``cpu`` and ``cuda`` backends, which
            split the images across them; ``None`` = ``torch.get_num_threads()``,
            ``0`` = all cores. The ``python`` backend ignores it.

    Returns:
        A :class:`DecodeResult` with ``P = config.max_people`` slots per image.

    Raises:
        TypeError: bad argument types or non-floating inputs.
        ValueError: bad shapes, NaN values (the message names the input:
            ``heatmaps``, ``tags`` or ``orpm``) or an unavailable backend.
    """
    if not isinstance(config, DecodeConfig):
        raise TypeError(f"config: expected a DecodeConfig, got {type(config).__name__}")
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    if transform is None:
        transform = _DEFAULT_TRANSFORM
    elif not isinstance(transform, MapTransform):
        raise TypeError(f"transform: expected a MapTransform or None, got {type(transform).__name__}")
    impl = _IMPLEMENTED.get(backend) if isinstance(backend, str) else None
    if impl is None or not impl[1]():
        available = list(available_backends())
        if isinstance(backend, str) and backend in BACKENDS:
            raise ValueError(f"backend: {backend!r} is not available in this build; available: {available}")
        raise ValueError(f"backend: expected one of {available}, got {backend!r}")
    threads = _check_threads(num_threads)
    validate_inputs(heatmaps, tags, orpm, skeleton)
    if config.mean_bones is not None:
        config.mean_bones_array(skeleton)  # raises ValueError on a [K][3] mismatch
    return impl[0](heatmaps, tags, orpm, config, skeleton, transform, threads)

"""Public decoding entry point: input validation and backend selection."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ..geometry import MapTransform
from ..ops import _budget
from ..ops._args import threads as _check_threads
from ..ops._ext import cuda_unavailable_reason, has_cpu_ext
from ..skeleton import PANOPTIC19, Skeleton
from .cpu import decode_cpu
from .cuda import decode_cuda
from .reference import decode_reference
from .types import BACKENDS, DecodeConfig, DecodeResult
from .validate import channel_first_tags, validate_inputs

_DEFAULT_TRANSFORM = MapTransform(stride=4)

_Backend = Callable[..., DecodeResult]
_IMPLEMENTED: dict[str, _Backend] = {"python": decode_reference, "cpu": decode_cpu, "cuda": decode_cuda}


def backend_unavailable_reason(name: str) -> str | None:
    """Why backend ``name`` cannot run in this installation and machine, in one
    line; None when it can. Checked when asked (importing ssmp3d loads no
    extension); the CUDA check is cached (:func:`ssmp3d.ops._ext.cuda_unavailable_reason`).

    Args:
        name: A backend name (``"python"``, ``"cpu"``, ``"cuda"``).
    """
    if name == "python":
        return None
    if name in ("cpu", "cuda") and not has_cpu_ext():
        return "ssmp3d._C (the compiled CPU extension) is not built"
    if name == "cuda":
        return cuda_unavailable_reason()
    return None if name in _IMPLEMENTED else f"unknown backend {name!r}"


def available_backends() -> tuple[str, ...]:
    """Names of the decoder backends usable in this installation and machine
    (``"cpu"`` when ``ssmp3d._C`` is built; ``"cuda"`` when ``ssmp3d._C_cuda``
    is built too, its CUDA runtime finds a usable driver and device, and
    torch sees a GPU: :func:`backend_unavailable_reason` says why not)."""
    return tuple(name for name in BACKENDS if name in _IMPLEMENTED and backend_unavailable_reason(name) is None)


def auto_backend(heatmaps: object) -> str:
    """The fastest available backend for inputs like ``heatmaps``: ``"cuda"`` for
    CUDA tensors when it is available, else ``"cpu"`` when ``ssmp3d._C`` is
    built, else ``"python"`` (the CUDA check runs only for CUDA tensors)."""
    if (isinstance(heatmaps, torch.Tensor) and heatmaps.device.type == "cuda"
            and backend_unavailable_reason("cuda") is None):
        return "cuda"
    return "cpu" if backend_unavailable_reason("cpu") is None else "python"


def decode(
    heatmaps: torch.Tensor | np.ndarray,
    tags: torch.Tensor | np.ndarray,
    orpm: torch.Tensor | np.ndarray | None = None,
    config: DecodeConfig = DecodeConfig(),
    *,
    skeleton: Skeleton = PANOPTIC19,
    transform: MapTransform | None = None,
    backend: str = "auto",
    num_threads: int | None = None,
    tag_layout: str = "BKDHW",
) -> DecodeResult:
    """Decodes network outputs into multi-person 2D/3D poses (DESIGN.md section 6).

    Steps: heatmap NMS, gathering of tags at the peaks, grouping
    (``config.grouping``), ORPM read-out with the fallback chain (or the naive
    one), summation of the bone vectors down the tree.

    Args:
        heatmaps: ``[B, K, H, W]`` joint heatmaps.
        tags: ``[B, K, H, W]`` (``D = 1``) or ``[B, K, D, H, W]`` embeddings;
            ``[B, K, H, W, D]`` with ``tag_layout="BKHWD"``.
        orpm: ``[B, K, 3, H, W]`` parent-relative bone vectors in metres
            (the pelvis maps are ignored), or None to decode 2D people only:
            no read-out is done, ``joints3d`` is NaN, ``readout_rule`` is
            ``NONE`` (-1) and ``readout_joint`` -1 for every slot.
            All three: dense torch tensors (CPU or CUDA; any strides;
            negative / conjugate bit views are read by their values) or
            numpy arrays, float16, bfloat16 (torch only), float32 or float64.
            NaN is an error anywhere in ``heatmaps``, and in ``tags`` /
            ``orpm`` where the decoder reads them: the tags at the candidate
            peaks, the ORPM vectors at the read-out locations of the people
            kept. Infinities are not errors: they are values like any other,
            the same in every backend (float64 values beyond the float32
            range become infinities in the float32 conversion). A ``+inf``
            heatmap pixel is a peak above any threshold (first in raster
            order on a plateau), and its score, ``+inf``, makes its person's
            score ``+inf``; ``-inf`` is never a peak; an infinite tag is never
            within ``tag_threshold`` of a finite one; an infinite ORPM value
            read gives infinite 3D joints.
        config: Decoding parameters.
        skeleton: Joint set (``K == skeleton.num_joints``).
        transform: Map -> image coordinates; default ``MapTransform(stride=4)``
            (identity affine).
        backend: ``"auto"`` (the fastest available for the inputs:
            :func:`auto_backend`), ``"python"`` (the reference decoder),
            ``"cpu"`` (the C++ decoder) or ``"cuda"`` (peaks and gathers on
            the GPU, grouping and read-out in C++ on the host; inputs must be
            CUDA tensors of one device); see :func:`available_backends`.
            Results are identical.
        num_threads: Host threads of the ``cpu`` and ``cuda`` backends, which
            split the images across them; ``None`` = ``torch.get_num_threads()``,
            ``0`` = all cores, at most ``2**31 - 1``. The ``python`` backend
            ignores it.
        tag_layout: ``"BKDHW"`` (the default, channel-first) or ``"BKHWD"``
            (tag dimension last, as pose-ae-train and HigherHRNet output).

    Returns:
        A :class:`DecodeResult` with ``P = config.max_people`` slots per image.

    Raises:
        TypeError: bad argument types or non-floating inputs.
        ValueError: bad shapes, NaN values (the message names the input:
            ``heatmaps``, ``tags`` or ``orpm``), an unknown ``tag_layout``,
            an unavailable backend, or a call whose outputs, working memory
            (per thread) and input copies could exceed the per-call budget
            ``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (2 GiB), checked from the
            shapes and ``config`` before anything is allocated: the working
            memory grows as ``K * max_candidates * D`` per image, and the
            read-out's crowding test with the candidates present (at most
            ``ceil(H / (r + 1)) * ceil(W / (r + 1))`` per joint for
            ``r = nms_radius``) and ``readout_min_dist``.
    """
    if not isinstance(config, DecodeConfig):
        raise TypeError(f"config: expected a DecodeConfig, got {type(config).__name__}")
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    if transform is None:
        transform = _DEFAULT_TRANSFORM
    elif not isinstance(transform, MapTransform):
        raise TypeError(f"transform: expected a MapTransform or None, got {type(transform).__name__}")
    if backend == "auto":
        backend = auto_backend(heatmaps)
    impl = _IMPLEMENTED.get(backend) if isinstance(backend, str) else None
    reason = backend_unavailable_reason(backend) if impl is not None else None
    if impl is None or reason is not None:
        available = list(available_backends())
        if reason is not None:
            raise ValueError(f"backend: {backend!r} is not available: {reason}; available: {available}")
        raise ValueError(f"backend: expected 'auto' or one of {available}, got {backend!r}")
    threads = _check_threads(num_threads)
    tags = channel_first_tags(tags, tag_layout)
    check_call(heatmaps, tags, orpm, config, skeleton, backend, threads)
    return impl(heatmaps, tags, orpm, config, skeleton, transform, threads)


def check_call(heatmaps: object, tags: object, orpm: object, config: DecodeConfig, skeleton: Skeleton,
               backend: str, num_threads: int) -> tuple[int, int, int, int, int]:
    """The input checks of :func:`decode` once the backend is chosen: shapes
    (:func:`~ssmp3d.decoding.validate.validate_inputs`), the config's mean
    bones against the skeleton and the memory budget.

    Args:
        heatmaps, tags, orpm: As for :func:`decode` (``tags`` channel-first).
        config: Decoding parameters.
        skeleton: Joint set.
        backend: ``"python"``, ``"cpu"`` or ``"cuda"``.
        num_threads: Host threads (0 = all cores).

    Returns:
        ``(B, K, H, W, D)``.

    Raises:
        TypeError, ValueError: as :func:`decode`.
    """
    b, k, h, w, d = validate_inputs(heatmaps, tags, orpm, skeleton)
    if config.mean_bones is not None:
        config.mean_bones_array(skeleton)  # raises ValueError on a [K][3] mismatch
    # Outputs and working memory (cached per config and sizes), plus every input's float32 copy
    # as an upper bound; only when that bound does not fit are the copies actually made counted.
    inputs = (heatmaps, tags, orpm)
    nbytes = _budget.decode_bytes(b, k, h, w, d, config, backend, num_threads, (), orpm is not None)
    if nbytes + 4 * sum(x.numel() if isinstance(x, torch.Tensor) else x.size for x in inputs if x is not None) \
            > _budget.MEMORY_BUDGET_BYTES:
        nbytes = _budget.decode_bytes(b, k, h, w, d, config, backend, num_threads, inputs, orpm is not None)
    if nbytes > _budget.MEMORY_BUDGET_BYTES:  # the message only when it is needed
        _budget.check(nbytes, "heatmaps / tags / DecodeConfig.max_candidates",
                      f"decode (backend {backend!r}) with B = {b}, K = {k}, H = {h}, W = {w}, D = {d}, "
                      f"M = {config.max_candidates}")
    return b, k, h, w, d

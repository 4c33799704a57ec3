"""Fused heatmap NMS + gather (DESIGN.md sections 6.1-6.2): the checked public op.

:func:`nms_gather` runs, in one C++ pass per (image, joint), the NMS of
:func:`ssmp3d.ops.heatmap_nms` and reads, at each kept peak, the joint's tags
and the ORPM vectors of every map. It is also the custom op
``torch.ops.ssmp3d.nms_gather`` (fixed output shapes, ``register_fake``);
the pure torch twin is :func:`ssmp3d.ops._reference.nms_gather`.

Numerics follow the decoder (``ssmp3d.decoding``): every value is read as
float32: float16 / bfloat16 maps are read in place on the CPU and widened as
they are read (exact), float64 maps are converted first (elementwise
rounding, the same as converting the gathered values); the NMS and its
threshold comparison run in float32.

NaN: anywhere in ``heatmaps`` raises ``ValueError("heatmaps: ...")``; in
``tags`` / ``orpm`` only where the op reads them (at a kept peak) raises
``ValueError("tags: ...")`` / ``ValueError("orpm: ...")``. Infinities are
ordinary values (as in :func:`ssmp3d.ops.heatmap_nms`; float64 values beyond
the float32 range become infinities in the conversion), gathered as they are.

Memory: the outputs hold ``B * K * M * (K * 3 + D + 3)`` values whatever the
number of peaks; with the float32 working copies of the inputs they must fit
the per-call budget ``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (2 GiB), checked
before anything is allocated (``ValueError`` naming the arguments).
"""

from __future__ import annotations

import numpy as np
import torch

from . import _args, _budget, _cuda, _device_cache, _maps
from ._ext import load_cpu, load_cuda
from .heatmap_nms import MAX_CANDIDATES, MAX_PIXELS, MAX_RADIUS

__all__ = ["nms_gather"]


def _check_budget(b: int, k: int, m: int, d: int, copies: int) -> None:
    """Outputs (``orpm_at [B, K, M, K, 3]`` dominates) plus ``copies`` bytes of input copies."""
    out = b * k * (m * (4 + 8 + 4 * d + 12 * k) + 4)
    _budget.check(out + copies, "heatmaps / tags / max_candidates",
                  f"nms_gather with B = {b}, K = {k}, M = {m}, D = {d}")


def _check(heatmaps, tags, orpm, threshold, radius, max_candidates):
    thr = _args.real("threshold", threshold)
    r = _args.integer("radius", radius, 0, MAX_RADIUS)
    m = _args.integer("max_candidates", max_candidates, 1, MAX_CANDIDATES)
    copies = sum(_budget.copy_bytes(x, 4) for x in (heatmaps, tags, orpm) if not _maps.in_place(x))
    hm = _args.array("heatmaps", heatmaps, "float", (4,), np.float32, contiguous=False, native=True)
    b, k, h, w = hm.shape
    if 0 in hm.shape:
        raise ValueError(f"heatmaps: expected a non-empty [B, K, H, W] array, got shape {list(hm.shape)}")
    if h * w > MAX_PIXELS:
        raise ValueError(f"heatmaps: H * W must be <= 2**30, got shape {list(hm.shape)}")
    tg = _args.array("tags", tags, "float", (4, 5), np.float32, contiguous=False, native=True)
    if tg.ndim == 4:
        tg = tg.reshape(b, k, 1, h, w) if tg.shape == hm.shape else tg
    if tg.ndim != 5 or tg.shape[:2] != (b, k) or tg.shape[3:] != (h, w) or tg.shape[2] == 0:
        raise ValueError(f"tags: expected [B, K, H, W] or [B, K, D >= 1, H, W] with B, K, H, W = "
                         f"{b}, {k}, {h}, {w}, got shape {list(np.shape(tags))}")
    om = _args.array("orpm", orpm, "float", (5,), np.float32, contiguous=False, native=True)
    _args.shape("orpm", om, (b, k, 3, h, w), "[B, K, 3, H, W] from heatmaps")
    _check_budget(b, k, m, tg.shape[2], copies)
    return hm, tg, om, thr, r, m


def _run(hm, tg, om, thr: float, r: int, m: int, num_threads: int):
    """``hm [B, K, H, W]``, ``tg [B, K, D, H, W]``, ``om [B, K, 3, H, W]``: float32, float16 or bfloat16
    (tensors or arrays), read in place when their ``[H, W]`` maps are contiguous (:mod:`._maps`)."""
    b, k, h, w = hm.shape
    d = tg.shape[2]
    (hm, hp, hs, ht), (tg, tp, ts, tt), (om, op, os_, ot) = (_maps.native_maps(x) for x in (hm, tg, om))
    scores = np.empty((b, k, m), np.float32)
    indices = np.empty((b, k, m), np.int64)
    counts = np.empty((b, k), np.int32)
    tags_at = np.empty((b, k, m, d), np.float32)
    orpm_at = np.empty((b, k, m, k, 3), np.float32)
    nan_h, nan_t, nan_o = load_cpu().nms_gather_cpu(
        hp, tp, op, (hs[0], hs[1], ts[0], ts[1], ts[2], os_[0], os_[1], os_[2]), (ht, tt, ot), b, k, h, w, d, thr, r, m, scores.ctypes.data,
        indices.ctypes.data, counts.ctypes.data, tags_at.ctypes.data, orpm_at.ctypes.data, num_threads)
    if nan_h:
        raise ValueError(f"heatmaps: contains NaN ({nan_h} values)")
    if nan_t:
        raise ValueError(f"tags: contains NaN at a candidate peak ({nan_t} values)")
    if nan_o:
        raise ValueError(f"orpm: contains NaN at a candidate peak ({nan_o} values)")
    return scores, indices, counts, tags_at, orpm_at


# ---------------------------------------------------------------- CUDA


def _check_cuda(heatmaps: torch.Tensor, tags, orpm, threshold, radius, max_candidates):
    """Checks CUDA inputs; returns them as ``[B, K, H, W]``, ``[B, K, D, H, W]``,
    ``[B, K, 3, H, W]`` of one dtype the kernel reads, each ``[H, W]`` map contiguous (views of a
    network output are kept as they are: :func:`ssmp3d.ops._maps.device_maps`), and the parameters."""
    thr = _args.real("threshold", threshold)
    r = _args.integer("radius", radius, 0, MAX_RADIUS)
    m = _args.integer("max_candidates", max_candidates, 1, MAX_CANDIDATES)
    dev = heatmaps.device
    for name, x in (("heatmaps", heatmaps), ("tags", tags), ("orpm", orpm)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor on {dev} like heatmaps, got {type(x).__name__}")
        if x.device != dev:
            raise ValueError(f"{name}: expected the device of heatmaps ({dev}), got {x.device}")
        if x.layout != torch.strided or not x.dtype.is_floating_point:
            raise TypeError(f"{name}: expected a dense floating tensor, got {x.dtype} ({x.layout})")
    if heatmaps.dim() != 4 or heatmaps.numel() == 0:
        raise ValueError(f"heatmaps: expected a non-empty [B, K, H, W] tensor, got shape {list(heatmaps.shape)}")
    b, k, h, w = heatmaps.shape
    if h * w > MAX_PIXELS:
        raise ValueError(f"heatmaps: H * W must be <= 2**30, got shape {list(heatmaps.shape)}")
    tg = tags.reshape(b, k, 1, h, w) if tags.dim() == 4 and tags.shape == heatmaps.shape else tags
    if tg.dim() != 5 or tg.shape[:2] != (b, k) or tg.shape[3:] != (h, w) or tg.shape[2] == 0:
        raise ValueError(f"tags: expected [B, K, H, W] or [B, K, D >= 1, H, W] with B, K, H, W = "
                         f"{b}, {k}, {h}, {w}, got shape {list(tags.shape)}")
    if tuple(orpm.shape) != (b, k, 3, h, w):
        raise ValueError(f"orpm: expected shape {[b, k, 3, h, w]} ([B, K, 3, H, W] from heatmaps), "
                         f"got {list(orpm.shape)}")
    dtypes = {heatmaps.dtype, tg.dtype, orpm.dtype}
    dtype = heatmaps.dtype if len(dtypes) == 1 and heatmaps.dtype in _cuda.MAP_DTYPES else torch.float32
    copies = sum(_budget.copy_bytes(x, dtype.itemsize) for x in (heatmaps, tg, orpm)
                 if not (x.dtype == dtype and _maps.maps_contiguous(tuple(x.shape), x.stride())))
    _check_budget(b, k, m, tg.shape[2], copies + 4 * k * k)
    hm, tg, om = (_maps.device_maps(x, dtype) for x in (heatmaps, tg, orpm))
    return hm, tg, om, thr, r, m


def _all_maps(k: int) -> np.ndarray:
    """Gather lists naming every map at every joint: ``start [K + 1]`` then ``maps [K * K]``, int32."""
    start = np.arange(k + 1, dtype=np.int32) * k
    return np.concatenate([start, np.tile(np.arange(k, dtype=np.int32), k)])


def _run_cuda(hm: torch.Tensor, tg: torch.Tensor, om: torch.Tensor, thr: float, r: int, m: int,
              splits: int | None = None):
    """Checked CUDA inputs (:func:`_check_cuda`) -> the five outputs, on the device's current stream.

    ``splits``: bands of rows per map (``None``: the kernels' rule for small batches,
    :func:`ssmp3d.ops._cuda.nms_scratch`); the outputs do not depend on it.
    """
    b, k, h, w = hm.shape
    d = tg.shape[2]
    dev = hm.device
    with _cuda.on_device(dev) as stream:
        splits, scratch = _cuda.nms_scratch(b * k, h, m, dev, splits)  # scratch: [B*K, splits] band lists
        lists = _device_cache.device_address(_all_maps(k), dev)  # cached: no copy after the first call
        scores = torch.empty((b, k, m), dtype=torch.float32, device=dev)
        indices = torch.empty((b, k, m), dtype=torch.int64, device=dev)
        counts = torch.empty((b, k), dtype=torch.int32, device=dev)
        flags = torch.empty((b, k), dtype=torch.int32, device=dev)
        tags_at = torch.empty((b, k, m, d), dtype=torch.float32, device=dev)
        orpm_at = torch.empty((b, k, m, k, 3), dtype=torch.float32, device=dev)
        load_cuda().nms_gather_cuda(
            hm.data_ptr(), tg.data_ptr(), om.data_ptr(), _maps.layout_strides(hm, tg, om), _cuda.dtype_code(hm.dtype),
            b, k, h, w, d, thr, r, m,
            lists, lists + 4 * (k + 1), k * k, scores.data_ptr(), indices.data_ptr(),
            counts.data_ptr(), flags.data_ptr(), tags_at.data_ptr(), orpm_at.data_ptr(), 0, stream,
            splits, 0 if scratch is None else scratch.data_ptr())
    if not _cuda.capturing(dev):
        bits = torch.stack([(flags & bit).ne(0).sum() for bit in (1, 2, 4)]).tolist()  # one sync
        for n, what in zip(bits, ("heatmaps: contains NaN", "tags: contains NaN at a candidate peak",
                                  "orpm: contains NaN at a candidate peak")):
            if n:
                raise ValueError(f"{what} (in {n} of the {b * k} maps)")
    return scores, indices, counts, tags_at, orpm_at


def _dispatch(heatmaps, tags, orpm, threshold, radius, max_candidates, num_threads: int):
    if isinstance(heatmaps, torch.Tensor) and heatmaps.device.type == "cuda":
        return _run_cuda(*_check_cuda(heatmaps, tags, orpm, threshold, radius, max_candidates))
    out = _run(*_check(heatmaps, tags, orpm, threshold, radius, max_candidates), num_threads)
    return _args.outputs(out, _args.is_torch(heatmaps, tags, orpm))


# ---------------------------------------------------------------- custom op


@torch.library.custom_op("ssmp3d::nms_gather", mutates_args=())
def _nms_gather_op(heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor, threshold: float,
                   radius: int, max_candidates: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                              torch.Tensor, torch.Tensor]:
    """``torch.ops.ssmp3d.nms_gather``: see :func:`nms_gather` (default threads)."""
    return tuple(_dispatch(heatmaps, tags, orpm, threshold, radius, max_candidates,  # type: ignore[return-value]
                           torch.get_num_threads()))


@_nms_gather_op.register_fake
def _nms_gather_fake(heatmaps, tags, orpm, threshold, radius, max_candidates):
    b, k = heatmaps.shape[0], heatmaps.shape[1]
    d = 1 if tags.dim() == 4 else tags.shape[2]
    m = max_candidates
    f32 = dict(dtype=torch.float32)
    return (heatmaps.new_empty((b, k, m), **f32), heatmaps.new_empty((b, k, m), dtype=torch.int64),
            heatmaps.new_empty((b, k), dtype=torch.int32), heatmaps.new_empty((b, k, m, d), **f32),
            heatmaps.new_empty((b, k, m, k, 3), **f32))


def nms_gather(heatmaps, tags, orpm, threshold: float = 0.1, radius: int = 1, max_candidates: int = 30, *,
               num_threads: int | None = None):
    """Heatmap NMS, then the tags and ORPM vectors at each kept peak (one C++ pass).

    Peaks and their order are exactly those of :func:`ssmp3d.ops.heatmap_nms`
    on the float32 heatmaps.

    Args:
        heatmaps: ``[B, K, H, W]`` numpy array, CPU or CUDA tensor, float16,
            bfloat16 (torch), float32 or float64, without NaN (any strides;
            negative / conjugate bit views are read by value). On CUDA the
            kernel runs on the current stream of the tensors' device and
            reads float32 / float16 / bfloat16 natively when all three
            inputs share the dtype (else all are converted to float32); on
            the CPU each input is read in place in its own dtype when its
            ``[H, W]`` maps are contiguous (float16 / bfloat16 widened as
            read); the
            NaN check then reads a device flag (one synchronisation, skipped
            during CUDA graph capture). The gather lists live in a per-device
            cache (``ops/_device_cache.py``) filled by the first call for a
            (device, K): run one call before capturing a CUDA graph.
        tags: ``[B, K, H, W]`` (``D = 1``) or ``[B, K, D, H, W]``, same kinds
            (on the device of ``heatmaps``).
        orpm: ``[B, K, 3, H, W]``, same kinds.
        threshold: Detection threshold (finite), compared in float32.
        radius: NMS window radius in ``[0, 32]``.
        max_candidates: Peaks kept per (image, joint), ``M`` in ``[1, 4096]``.
        num_threads: CPU threads; ``None`` = ``torch.get_num_threads()``,
            ``0`` = all cores, at most ``2**31 - 1``. Results do not depend on it.

    Returns:
        ``(scores, indices, counts, tags_at, orpm_at)``, torch tensors (on
        the inputs' device) if any input is a tensor, else numpy arrays:

        * ``scores [B, K, M]`` float32 (0 padding), ``indices [B, K, M]``
          int64 flat ``y * W + x`` (-1 padding), ``counts [B, K]`` int32;
        * ``tags_at [B, K, M, D]`` float32: ``tags[b, k, :, y, x]`` at peak
          ``(b, k, r)`` (0 padding);
        * ``orpm_at [B, K, M, K, 3]`` float32: ``orpm[b, m, :, y, x]`` of
          every map ``m`` at peak ``(b, k, r)`` (0 padding).

    Raises:
        TypeError: an input is not a float array / tensor, or a parameter has
            the wrong type.
        ValueError: wrong or mismatched shapes, inputs on different devices,
            a parameter out of range, NaN where it is read (the message
            names the input), or outputs and input copies beyond
            ``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (2 GiB; ``orpm_at`` alone is
            ``12 * B * K * M * K`` bytes).
    """
    if torch.compiler.is_compiling():
        # Traced: the custom op resolves the default thread count when it runs
        # (torch.get_num_threads() would break the graph here).
        if num_threads is not None:
            _args.threads(num_threads)
        return torch.ops.ssmp3d.nms_gather(heatmaps, tags, orpm, threshold, radius, max_candidates)
    return _dispatch(heatmaps, tags, orpm, threshold, radius, max_candidates, _args.threads(num_threads))

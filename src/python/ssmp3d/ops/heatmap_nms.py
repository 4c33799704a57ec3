"""Heatmap non-maximum suppression (DESIGN.md section 6.1): the checked public op.

:func:`heatmap_nms` validates its arguments and runs the compiled kernel
(``ssmp3d._C`` on the CPU, ``ssmp3d._C_cuda`` on CUDA). The same computation
is registered as the custom op ``torch.ops.ssmp3d.heatmap_nms`` (with a fake
implementation of fixed output shapes) for ``torch.compile`` and
``torch.ops`` users; both paths give identical results, equal to
:func:`ssmp3d.ops._reference.heatmap_nms`.

Semantics shared by every path:

* ``h > threshold`` is evaluated in the map's dtype, as torch does for
  ``tensor > float``: the threshold is rounded to float32 for float32 maps
  (so a float32 value equal to ``float32(0.1)`` is *not* above threshold
  0.1) and used as is for float64 maps. float16 / bfloat16 maps are read in
  their own dtype and widened to float32 (exact) before they are compared,
  in float32; their scores are returned in the input dtype (also exact).
* On the CPU, float16 / bfloat16 / float32 / float64 inputs whose individual
  ``[H, W]`` maps are contiguous are read in place whatever their batch and
  joint strides (e.g. the heatmap channels of a network output; a float16 /
  bfloat16 map is widened into a per-thread float32 scratch of one map, not
  copied whole); other layouts are made contiguous (a copy). Inputs that require grad are detached (the op is
  not differentiable).
* A map containing NaN raises ``ValueError("heatmaps: contains NaN ...")``
  after the kernel ran (on CUDA this reads a device flag, i.e. synchronises;
  during CUDA graph capture the check is skipped, see ``ops/_cuda.py``).
* Infinities are values like any other (decided, not refused): ``+inf`` is
  above every threshold and beats every finite neighbour (on a plateau of
  ``+inf`` the first pixel in raster order is the peak, as on any plateau),
  ``-inf`` is never above the threshold; the scores are returned as they are.
  float64 values beyond the float32 range compare as themselves in float64
  maps (they become infinities only where a float64 map is converted, e.g.
  by :func:`ssmp3d.ops.nms_gather` and the decoder).
* Tensors with the negative or conjugate bit set (``torch._neg_view``,
  ``z.conj().imag``) are read by their values (the bits are resolved first).
* Outputs and copies are bounded before anything is allocated: a call that
  would allocate more than ``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (2 GiB) raises
  ``ValueError`` naming ``heatmaps / max_candidates``.
* float64 CUDA tensors are processed by the CPU kernel (copy to and from the
  host); float32 / float16 / bfloat16 CUDA tensors run on the GPU, read in
  their own dtype (no upcast copy), on the current stream of their device.
  Small batches (fewer ``B * K`` maps than the GPU has SMs) split each map
  into bands of rows, one thread block each, merged by a second kernel
  (``src/cuda/nms_split.cuh``; scratch from torch's caching allocator); the
  results are the same bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _args, _budget, _cuda, _maps
from ._args import threads as _check_threads
from ._ext import load_cpu, load_cuda

__all__ = ["heatmap_nms", "MAX_RADIUS", "MAX_CANDIDATES", "MAX_PIXELS"]

#: Largest accepted window radius (the window is ``(2r+1)^2`` pixels).
MAX_RADIUS = 32
#: Largest accepted ``max_candidates`` (bound of the CUDA kernel's on-chip buffer).
MAX_CANDIDATES = 4096
#: Largest accepted ``H * W``.
MAX_PIXELS = 1 << 30
_MAX_SLICES = (1 << 31) - 1

_NATIVE = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16"}
_UPCAST = (torch.float16, torch.bfloat16)  # scores come back as float32 (the values widened)
_FLOAT_NAMES = "float16, bfloat16, float32 or float64"

NmsResult = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


# ---------------------------------------------------------------- validation


def _check_params(threshold: object, radius: object, max_candidates: object) -> tuple[float, int, int]:
    thr = _args.real("threshold", threshold)
    r = _args.integer("radius", radius, 0, MAX_RADIUS)
    m = _args.integer("max_candidates", max_candidates, 1, MAX_CANDIDATES)
    return thr, r, m


def _check_shape(shape: tuple) -> None:
    if len(shape) != 4:
        raise ValueError(f"heatmaps: expected 4 dims [B, K, H, W], got shape {list(shape)}")
    b, k, h, w = shape
    if b == 0 or k == 0 or h == 0 or w == 0:
        raise ValueError(f"heatmaps: expected a non-empty [B, K, H, W] array, got shape {list(shape)}")
    if h * w > MAX_PIXELS:
        raise ValueError(f"heatmaps: H * W must be <= 2**30, got shape {list(shape)}")
    if b * k > _MAX_SLICES:
        raise ValueError(f"heatmaps: B * K must be < 2**31, got shape {list(shape)}")


def _check_tensor(x: torch.Tensor) -> None:
    if x.layout != torch.strided:
        raise TypeError(f"heatmaps: expected a dense (strided) tensor, got layout {x.layout}")
    if x.dtype not in _NATIVE and x.dtype not in _UPCAST:
        raise TypeError(f"heatmaps: expected a floating dtype ({_FLOAT_NAMES}), got {x.dtype}")
    _check_shape(tuple(x.shape))
    if x.device.type not in ("cpu", "cuda"):
        raise ValueError(f"heatmaps: expected a CPU or CUDA tensor, got device {x.device}")


def _check_budget(x: torch.Tensor | np.ndarray, m: int) -> None:
    """Outputs ``[B, K, M]`` scores and indices (on the host too for float64 CUDA maps) and the
    contiguous float32 / float64 working copy, against the per-call memory budget."""
    b, k = int(x.shape[0]), int(x.shape[1])
    wide = x.dtype == torch.float64 if isinstance(x, torch.Tensor) else x.dtype.itemsize == 8
    out = b * k * (m * ((8 if wide else 4) + 8) + 4)
    narrow = x.dtype in _UPCAST if isinstance(x, torch.Tensor) else x.dtype.itemsize == 2
    copy = _budget.copy_bytes(x, 8 if wide else 2 if narrow else 4)  # float16 / bfloat16 read as they are
    if isinstance(x, torch.Tensor) and x.device.type == "cuda":  # half maps are read as they are
        out, copy = (2 * out, x.numel() * 8) if wide else (out, _budget.copy_bytes(x, x.element_size()))
    _budget.check(out + copy, "heatmaps / max_candidates", f"heatmap_nms of shape {list(x.shape)} with M = {m}")


# ---------------------------------------------------------------- execution


def _nan_error(what: str) -> ValueError:
    return ValueError(f"heatmaps: contains NaN ({what})")


def _run_cpu(x: torch.Tensor, thr: float, r: int, m: int, num_threads: int) -> NmsResult:
    """``x``: CPU float16/bfloat16/float32/float64 ``[B, K, H, W]`` with contiguous ``[H, W]`` maps;
    float64 scores for float64 maps, float32 otherwise."""
    b, k, h, w = x.shape
    scores = torch.empty((b, k, m), dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
    indices = torch.empty((b, k, m), dtype=torch.int64)
    counts = torch.empty((b, k), dtype=torch.int32)
    nan = load_cpu().heatmap_nms_cpu(x.data_ptr(), x.stride(0), x.stride(1), _NATIVE[x.dtype], b, k, h, w, thr, r, m,
                                     scores.data_ptr(), indices.data_ptr(), counts.data_ptr(), num_threads)
    if nan:
        raise _nan_error(f"{nan} values")
    return scores, indices, counts


def _run_cuda(x: torch.Tensor, thr: float, r: int, m: int, splits: int | None = None) -> NmsResult:
    """``x``: CUDA float32/float16/bfloat16 ``[B, K, H, W]`` with contiguous ``[H, W]`` maps; runs on the device's
    current stream; float32 scores (the values widened). ``splits``: bands of rows per map (``None``: the
    kernels' rule for small batches, :func:`ssmp3d.ops._cuda.nms_scratch`); the outputs do not depend on it."""
    ext = load_cuda()
    b, k, h, w = x.shape
    dev = x.device
    with _cuda.on_device(dev) as stream:
        scores = torch.empty((b, k, m), dtype=torch.float32, device=dev)
        indices = torch.empty((b, k, m), dtype=torch.int64, device=dev)
        counts = torch.empty((b, k), dtype=torch.int32, device=dev)
        nan = torch.zeros(1, dtype=torch.int32, device=dev)
        splits, scratch = _cuda.nms_scratch(b * k, h, m, dev, splits)  # scratch: [B*K, splits] band lists
        ext.heatmap_nms_cuda(x.data_ptr(), (x.stride(0), x.stride(1), 0, 0, 0, 0, 0, 0), _cuda.dtype_code(x.dtype),
                             b, k, h, w, thr, r, m, scores.data_ptr(), indices.data_ptr(),
                             counts.data_ptr(), nan.data_ptr(), stream, splits,
                             0 if scratch is None else scratch.data_ptr())
    _cuda.raise_if_flagged(nan, ValueError, f"heatmaps: contains NaN (in {{}} of the {b * k} maps)")
    return scores, indices, counts


def _nms_tensor(x: torch.Tensor, thr: float, r: int, m: int, num_threads: int) -> NmsResult:
    """Checked ``x`` (any supported dtype / device / strides) -> NMS outputs."""
    out_dtype = x.dtype
    x = _args.resolve(x)  # a negative-bit view holds the negated values in memory
    if not _maps.maps_contiguous(tuple(x.shape), x.stride()):
        x = x.contiguous()  # both devices read batch and joint strides; each map must be contiguous
    if x.device.type == "cpu":
        scores, indices, counts = _run_cpu(x, thr, r, m, num_threads)
    elif x.dtype == torch.float64:
        scores, indices, counts = _run_cpu(x.cpu(), thr, r, m, num_threads)
        scores, indices, counts = (t.to(x.device) for t in (scores, indices, counts))
    else:
        scores, indices, counts = _run_cuda(x, thr, r, m)
    if scores.dtype != out_dtype:
        scores = scores.to(out_dtype)
    return scores, indices, counts


def _nms_numpy(a: np.ndarray, thr: float, r: int, m: int,
               num_threads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if a.dtype.kind != "f" or a.dtype.itemsize not in (2, 4, 8):
        raise TypeError(f"heatmaps: expected a floating dtype (float16, float32 or float64), got {a.dtype}")
    _check_shape(a.shape)
    _check_budget(a, m)
    work_dtype = np.dtype({8: np.float64, 4: np.float32, 2: np.float16}[a.dtype.itemsize])
    strides = _maps.element_strides(a) if a.dtype == work_dtype and a.dtype.isnative and a.flags.aligned else None
    if strides is None or not _maps.maps_contiguous(a.shape, strides):
        work = np.ascontiguousarray(a, dtype=work_dtype)  # native byte order
        strides = _maps.element_strides(work)
    else:
        work = a  # read in place: each [H, W] map is contiguous (float16 widened as it is read)
    b, k, h, w = work.shape
    scores = np.empty((b, k, m), dtype=np.float64 if work_dtype == np.float64 else np.float32)
    indices = np.empty((b, k, m), dtype=np.int64)
    counts = np.empty((b, k), dtype=np.int32)
    nan = load_cpu().heatmap_nms_cpu(work.ctypes.data, strides[0], strides[1], work.dtype.name, b, k, h, w, thr, r, m,
                                     scores.ctypes.data, indices.ctypes.data, counts.ctypes.data, num_threads)
    if nan:
        raise _nan_error(f"{nan} values")
    out_dtype = a.dtype.newbyteorder("=")
    if scores.dtype != out_dtype:
        scores = scores.astype(out_dtype)
    return scores, indices, counts


# ---------------------------------------------------------------- custom op


@torch.library.custom_op("ssmp3d::heatmap_nms", mutates_args=())
def _heatmap_nms_op(heatmaps: torch.Tensor, threshold: float, radius: int,
                    max_candidates: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``torch.ops.ssmp3d.heatmap_nms``: see :func:`heatmap_nms` (torch tensors, default threads)."""
    thr, r, m = _check_params(threshold, radius, max_candidates)
    _check_tensor(heatmaps)
    _check_budget(heatmaps, m)
    return _nms_tensor(heatmaps, thr, r, m, torch.get_num_threads())


@_heatmap_nms_op.register_fake
def _heatmap_nms_fake(heatmaps: torch.Tensor, threshold: float, radius: int,
                      max_candidates: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    _, _, m = _check_params(threshold, radius, max_candidates)
    _check_tensor(heatmaps)
    b, k = heatmaps.shape[0], heatmaps.shape[1]
    return (heatmaps.new_empty((b, k, m)),
            heatmaps.new_empty((b, k, m), dtype=torch.int64),
            heatmaps.new_empty((b, k), dtype=torch.int32))


# ---------------------------------------------------------------- public API


def heatmap_nms(heatmaps, threshold: float = 0.1, radius: int = 1, max_candidates: int = 30, *,
                num_threads: int | None = None):
    """Finds the peaks of each heatmap with exact tie rules (DESIGN.md section 6.1).

    Pixel ``q`` is a peak iff ``h[q] > threshold`` and every other pixel ``p``
    of the ``(2r+1)^2`` window around it (clipped at the border) has
    ``h[p] < h[q]``, or ``h[p] == h[q]`` and ``flat(p) > flat(q)``, with
    ``flat = y * W + x``: on a plateau only the first pixel in raster order is
    a peak. The ``max_candidates`` best peaks of each map are kept, ordered by
    score descending, then flat index ascending. The comparison with
    ``threshold`` is made in the map's dtype (float32 for float16/bfloat16).

    Args:
        heatmaps: ``[B, K, H, W]`` torch tensor (CPU or CUDA) or numpy array of
            float16, bfloat16 (torch only), float32 or float64, without NaN
            (infinities are ordinary values: see the module docstring). Any
            strides (non-contiguous input is copied), negative / conjugate
            bit views included.
        threshold: Detection threshold (finite; Python or numpy real, not bool).
        radius: Window radius ``r`` in ``[0, 32]``.
        max_candidates: Peaks kept per map, ``M`` in ``[1, 4096]``.
        num_threads: CPU threads; ``None`` = ``torch.get_num_threads()``,
            ``0`` = all cores, at most ``2**31 - 1``. Maps are split across threads (one map is never
            split), and fewer threads are used when there is little work.
            Ignored on CUDA. Results do not depend on it.

    Returns:
        ``(scores, indices, counts)``, of the input's kind (torch on the input
        device, or numpy):

        * ``scores``: ``[B, K, M]``, input dtype, 0 after the kept peaks.
        * ``indices``: ``[B, K, M]`` int64 flat indices ``y * W + x``, -1 padding.
        * ``counts``: ``[B, K]`` int32 number of kept peaks, ``<= M``.

    Raises:
        TypeError: ``heatmaps`` is not a tensor / array of a supported float
            dtype, or an argument has the wrong type (bools are not ints).
        ValueError: Wrong number of dims, an empty dim, a map of more than
            ``2**30`` pixels, an unsupported device, NaN in ``heatmaps``, an
            argument out of range, or outputs and copies beyond the per-call
            memory budget ``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (2 GiB: ``B * K * M``
            scores and int64 indices, plus a contiguous copy of a
            non-contiguous / converted input).
        ImportError: The compiled extension needed is not built.
    """
    thr, r, m = _check_params(threshold, radius, max_candidates)
    if isinstance(heatmaps, np.ndarray):
        threads = _check_threads(num_threads)
        return _nms_numpy(heatmaps, thr, r, m, threads)
    if not isinstance(heatmaps, torch.Tensor):
        raise TypeError(f"heatmaps: expected a torch.Tensor or numpy.ndarray, got {type(heatmaps).__name__}")
    _check_tensor(heatmaps)
    if torch.compiler.is_compiling():
        return torch.ops.ssmp3d.heatmap_nms(heatmaps.detach(), thr, r, m)
    threads = _check_threads(num_threads)
    _check_budget(heatmaps, m)
    return _nms_tensor(heatmaps, thr, r, m, threads)

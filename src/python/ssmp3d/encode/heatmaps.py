"""Gaussian joint heatmaps (DESIGN.md section 5), plus the argument checks
shared by every encoder.

Exact arithmetic (a compiled port must follow it to equal this bit for bit):

* Coordinates are continuous map coordinates (see
  :meth:`ssmp3d.geometry.MapTransform.image_to_map`), converted to float64.
* A joint is encoded iff ``valid`` and its nearest pixel
  ``(px, py) = floor(c + 0.5)`` (:func:`ssmp3d.geometry.map_pixel`) lies in
  ``[0, W-1] x [0, H-1]``.
* Window: the square ``|x - px| <= R``, ``|y - py| <= R`` with
  ``R = ceil(3 * sigma)`` (float64 ``3.0 * sigma`` then ``ceil``), clipped
  to the map. Pixels outside the window stay untouched.
* Value at pixel ``(x, y)``: in float64, ``dx = x - cx``, ``dy = y - cy``,
  ``g = exp(-(dx*dx + dy*dy) / (2.0 * sigma * sigma))`` with the operations in
  exactly that order (``(2.0 * sigma) * sigma``; no fused multiply-add), then
  rounded once to float32. The peak, 1, is at the continuous location.
* ``exp`` is the C library's (``math.exp``, the one a C++ port calls), see
  :func:`exp_to_float32`: numpy's SIMD ``exp`` differs from it by one float64
  ulp on about 5% of arguments, and after the float32 rounding on about one
  value in 1e10 (found on purpose, e.g. ``sigma = 2.678150910658624``, a
  joint on a pixel centre, its horizontal neighbour).
* People are combined by ``max`` (order independent); background is 0.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..geometry import map_pixel

__all__ = ["encode_heatmaps", "exp_to_float32", "gaussian_radius"]


# --------------------------------------------------------------------------
# Argument checks shared by the encoders (private).
# --------------------------------------------------------------------------

def _check_size(size, name: str = "size") -> tuple[int, int]:
    """``(H, W)`` as two positive Python ints."""
    if isinstance(size, (str, bytes)) or not hasattr(size, "__len__") or len(size) != 2:
        raise TypeError(f"{name}: expected a pair (H, W) of ints, got {size!r}")
    out = []
    for v in size:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name}: expected integer (H, W), got {size!r}")
        if int(v) <= 0:
            raise ValueError(f"{name}: H and W must be positive, got {tuple(size)!r}")
        out.append(int(v))
    return out[0], out[1]


def _check_radius(radius, name: str = "radius") -> int:
    """A non-negative integer radius."""
    if isinstance(radius, (bool, np.bool_)) or not isinstance(radius, numbers.Integral):
        raise TypeError(f"{name}: expected a non-negative int, got {radius!r}")
    if int(radius) < 0:
        raise ValueError(f"{name}: must be >= 0, got {radius}")
    return int(radius)


def _check_positive_float(value, name: str) -> float:
    """A finite real number > 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a positive real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name}: must be finite and > 0, got {value}")
    return value


def _as_float_array(x, name: str, shape_desc: str, ndim: int, last: int | None) -> np.ndarray:
    """Float64 array of ``ndim`` dimensions (last one ``last`` when given)."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real numeric array, got dtype {arr.dtype}")
    if arr.ndim != ndim or (last is not None and arr.shape[-1] != last):
        raise ValueError(f"{name}: expected shape {shape_desc}, got {arr.shape}")
    return arr.astype(np.float64, copy=False)


def _as_bool_array(x, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean array of exactly ``shape`` (bool, or integers 0/1)."""
    arr = np.asarray(x)
    if arr.dtype.kind == "b":
        pass
    elif arr.dtype.kind in "iu":
        if arr.size and not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name}: integer flags must be 0 or 1")
        arr = arr.astype(bool)
    else:
        raise TypeError(f"{name}: expected a bool array, got dtype {arr.dtype}")
    if arr.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {arr.shape}")
    return arr


def _check_joints(joints_map, valid) -> tuple[np.ndarray, np.ndarray]:
    """Checks ``joints_map [N, K, 2]`` and ``valid [N, K]``.

    Entries where ``valid`` is False are ignored (they may be NaN, e.g. joints
    behind the camera); valid entries must be finite.
    """
    joints = _as_float_array(joints_map, "joints_map", "[N, K, 2]", 3, 2)
    valid = _as_bool_array(valid, "valid", joints.shape[:2])
    if not np.all(np.isfinite(joints[valid])):
        raise ValueError("joints_map: valid joints must have finite coordinates")
    return joints, valid


def _check_per_person(x, name: str, n: int) -> np.ndarray:
    """A finite float64 vector ``[N]``."""
    arr = _as_float_array(x, name, "[N]", 1, None)
    if arr.shape[0] != n:
        raise ValueError(f"{name}: expected {n} entries (one per person), got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite")
    return arr


def _pixels_inside(joints: np.ndarray, valid: np.ndarray, size: tuple[int, int]):
    """Nearest pixels ``[N, K, 2]`` int64 and the mask ``[N, K]`` "valid and inside".

    Invalid entries are replaced by 0 before rounding, and coordinates are
    clipped to +-2^40 (far outside any map, so insideness is unchanged) so
    the int64 conversion never overflows.
    """
    h, w = size
    safe = np.where(valid[..., None], joints, 0.0)
    pix = map_pixel(np.clip(safe, -2.0**40, 2.0**40))
    inside = valid & (pix[..., 0] >= 0) & (pix[..., 0] <= w - 1) & (pix[..., 1] >= 0) & (pix[..., 1] <= h - 1)
    return pix, inside


# --------------------------------------------------------------------------
# Heatmaps.
# --------------------------------------------------------------------------

def exp_to_float32(a: np.ndarray) -> np.ndarray:
    """``float32(math.exp(a))`` elementwise for a float64 array, at numpy speed.

    ``np.exp`` (SIMD) and the C library's ``exp`` differ by one float64 ulp
    on about 5% of arguments (never more in 1e6 measured), so their float32 roundings can
    only differ where ``np.exp(a)`` lies within 8 ulps (a relative ``2**-49``)
    of a float32 rounding midpoint. Those rare elements (about 1e-7 of them)
    are recomputed with ``math.exp``; every other element's float32 rounding
    provably equals the C library's. Costs about 2.5x a bare ``np.exp``.
    """
    a = np.asarray(a, dtype=np.float64)
    g = np.exp(a)
    out = g.astype(np.float32)
    ambiguous = (g * (1.0 - 2.0**-49)).astype(np.float32) != (g * (1.0 + 2.0**-49)).astype(np.float32)
    if ambiguous.any():
        idx = np.nonzero(ambiguous)
        out[idx] = np.array([math.exp(v) for v in a[idx]], dtype=np.float64).astype(np.float32)
    return out


def gaussian_radius(sigma: float) -> int:
    """Half-width ``R = ceil(3 * sigma)`` of the square Gaussian window (map pixels)."""
    sigma = _check_positive_float(sigma, "sigma")
    return int(math.ceil(3.0 * sigma))


def encode_heatmaps(joints_map, valid, size, sigma: float = 2.0) -> np.ndarray:
    """Renders one Gaussian heatmap per joint type, max over people.

    Args:
        joints_map: ``[N, K, 2]`` continuous map coordinates ``(x, y)``.
        valid: ``[N, K]`` bool; invalid joints are skipped (and may be NaN).
        size: ``(H, W)`` of the map.
        sigma: Gaussian standard deviation in map pixels (> 0).

    Returns:
        ``[K, H, W]`` float32 heatmaps in ``[0, 1]``.

    Raises:
        TypeError: non-numeric arrays, non-integer size.
        ValueError: wrong shapes, NaN in valid joints, empty size, sigma <= 0.
    """
    joints, valid = _check_joints(joints_map, valid)
    h, w = _check_size(size)
    rad = gaussian_radius(sigma)
    sigma = float(sigma)
    n, k = valid.shape
    out = np.zeros((k, h, w), dtype=np.float32)
    pix, inside = _pixels_inside(joints, valid, (h, w))
    offs = np.arange(-rad, rad + 1, dtype=np.int64)  # [2R+1]
    denom = 2.0 * sigma * sigma
    for p in range(n):
        ks = np.nonzero(inside[p])[0]  # one window per joint type: no duplicates
        if ks.size == 0:
            continue
        xs = pix[p, ks, 0][:, None] + offs  # [J, 2R+1]
        ys = pix[p, ks, 1][:, None] + offs
        dx = xs - joints[p, ks, 0][:, None]  # float64
        dy = ys - joints[p, ks, 1][:, None]
        d2 = dx[:, None, :] * dx[:, None, :] + dy[:, :, None] * dy[:, :, None]  # [J, y, x]
        g = exp_to_float32(-d2 / denom)
        keep = ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]
        jj, yy, xx = np.nonzero(keep)
        kk, ty, tx = ks[jj], ys[jj, yy], xs[jj, xx]
        out[kk, ty, tx] = np.maximum(out[kk, ty, tx], g[jj, yy, xx])
    return out

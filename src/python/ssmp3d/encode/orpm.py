"""Occlusion-Robust Pose Map targets (DESIGN.md section 5, paper section 3.2).

Map ``j`` (three channels X, Y, Z) stores person ``p``'s bone vector
``v_j = X_j - X_parent(j)`` (metres; zero for the pelvis) on a disc around
every *read-out location* of ``j``: the joints of
:meth:`ssmp3d.skeleton.Skeleton.readout_chain` (``j`` itself, its limb, the
neck and the pelvis). So the whole skeleton can be read at the neck or the
pelvis, and a limb's joints can be read anywhere along the limb.

Exact rules (a compiled port must follow them to equal this bit for bit):

* Disc: integer offsets ``(dx, dy)`` with ``dx*dx + dy*dy <= r*r`` around the
  nearest pixel ``floor(c + 0.5)`` (:func:`ssmp3d.geometry.map_pixel`) of the
  location, clipped to the map. A location is used iff it is valid and its
  nearest pixel lies inside ``[0, W-1] x [0, H-1]``.
* Write order: people sorted by pelvis depth descending with a *stable* sort
  (``argsort(-depth, kind="stable")``: equal depths keep person order), then
  written in that order, each overwriting what was there. So the nearest
  person owns overlapping pixels, and among equal depths the later person
  (higher index) wins. Within one person all writes of map ``j`` carry the
  same value, so their order is irrelevant.
* Values: ``float32(bones_m[p, j])`` (one rounding from the caller's dtype).
  ``weight[j]`` is 1 where map ``j`` was written, else 0; unwritten ORPM
  pixels are 0.
"""

from __future__ import annotations

import numpy as np

from ..skeleton import Skeleton
from .heatmaps import (
    _as_bool_array,
    _as_float_array,
    _check_joints,
    _check_per_person,
    _check_radius,
    _check_size,
    _pixels_inside,
)

__all__ = ["disc_offsets", "depth_order", "encode_orpm"]


def disc_offsets(radius: int) -> np.ndarray:
    """Integer offsets ``[D, 2]`` (dx, dy) of the disc ``dx^2 + dy^2 <= r^2``, raster order.

    Args:
        radius: Disc radius ``r >= 0`` in map pixels (``r = 0``: one pixel).
    """
    r = _check_radius(radius)
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    keep = dx * dx + dy * dy <= r * r
    return np.stack([dx[keep], dy[keep]], axis=-1).astype(np.int64)


def depth_order(depth) -> np.ndarray:
    """Write order ``[N]`` int64: far to near, stable (ties keep person order).

    Args:
        depth: ``[N]`` finite depths (larger = farther).
    """
    d = _as_float_array(depth, "depth", "[N]", 1, None)
    if not np.all(np.isfinite(d)):
        raise ValueError("depth: must be finite")
    return np.argsort(-d, kind="stable").astype(np.int64)


def _disc_pixels(pix: np.ndarray, offsets: np.ndarray, size: tuple[int, int]):
    """Pixels of discs around centres ``pix [L, 2]``: flat ``(owner, y, x)`` arrays, clipped."""
    h, w = size
    xs = pix[:, None, 0] + offsets[None, :, 0]  # [L, D]
    ys = pix[:, None, 1] + offsets[None, :, 1]
    keep = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    owner, d = np.nonzero(keep)
    return owner, ys[owner, d], xs[owner, d]


def encode_orpm(joints_map, bones_m, valid, depth, skeleton: Skeleton, size, radius: int = 2,
                bones_valid=None) -> tuple[np.ndarray, np.ndarray]:
    """Writes the ORPM targets and their weight mask.

    Args:
        joints_map: ``[N, K, 2]`` continuous map coordinates of the joints
            (the read-out locations).
        bones_m: ``[N, K, 3]`` bone vectors ``X_j - X_parent(j)`` in metres
            (pelvis 0), see :meth:`Skeleton.bone_vectors`.
        valid: ``[N, K]`` bool: joint ``l`` of person ``p`` is a usable
            read-out location (invalid ones may hold NaN coordinates).
        depth: ``[N]`` pelvis depth (larger = farther), finite.
        skeleton: The joint set (``K == skeleton.num_joints``).
        size: ``(H, W)`` of the map.
        radius: Disc radius in map pixels (>= 0).
        bones_valid: Optional ``[N, K]`` bool: ``bones_m[p, j]`` is known.
            Map ``j`` of person ``p`` is not written where it is False (and
            the vector may be NaN there). Default: all True.

    Returns:
        ``orpm [K, 3, H, W]`` float32 and ``weight [K, H, W]`` float32 (0/1).

    Raises:
        TypeError: bad skeleton, non-numeric arrays, non-integer size/radius.
        ValueError: wrong or mismatched shapes, NaN where used, empty size,
            negative radius.
    """
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    joints, valid = _check_joints(joints_map, valid)
    n, k = valid.shape
    if k != skeleton.num_joints:
        raise ValueError(f"joints_map: skeleton {skeleton.name!r} has {skeleton.num_joints} "
                         f"joints, got K={k}")
    bones = _as_float_array(bones_m, "bones_m", "[N, K, 3]", 3, 3)
    if bones.shape[:2] != (n, k):
        raise ValueError(f"bones_m: expected shape {(n, k, 3)}, got {bones.shape}")
    if bones_valid is None:
        bvalid = np.ones((n, k), dtype=bool)
    else:
        bvalid = _as_bool_array(bones_valid, "bones_valid", (n, k))
    if not np.all(np.isfinite(bones[bvalid])):
        raise ValueError("bones_m: bone vectors must be finite where bones_valid")
    order = depth_order(_check_per_person(depth, "depth", n))
    h, w = _check_size(size)
    offsets = disc_offsets(radius)

    orpm = np.zeros((k, 3, h, w), dtype=np.float32)
    weight = np.zeros((k, h, w), dtype=np.float32)
    readout = skeleton.readout_sets()  # [K maps, K locations]
    values = bones.astype(np.float32)  # [N, K, 3]
    pix, inside = _pixels_inside(joints, valid, (h, w))
    for p in order:
        locs = np.nonzero(inside[p])[0]
        if locs.size == 0:
            continue
        # (map m, location l) pairs to write: l is a read-out location of m.
        pairs = readout[:, locs] & bvalid[p][:, None]  # [K, L]
        maps, li = np.nonzero(pairs)
        if maps.size == 0:
            continue
        owner, ys, xs = _disc_pixels(pix[p, locs[li]], offsets, (h, w))
        mm = maps[owner]
        orpm[mm, :, ys, xs] = values[p, mm]  # duplicates carry identical values
        weight[mm, ys, xs] = 1.0
    return orpm, weight

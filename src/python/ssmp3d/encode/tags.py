"""Associative-embedding targets (DESIGN.md section 5, paper eq. 2).

Two things:

* :func:`tag_indices`: per person and joint, the flat index ``y * W + x`` of
  the joint's nearest map pixel and a 0/1 flag (valid and inside the map).
  This is the ``(k, x, y, visible)`` list the AE loss gathers tags with; the
  joint type ``k`` is the second axis. Flagged-off entries hold index 0, so a
  gather with them is always in bounds (mask it with the flag).
* :func:`encode_tag_maps`: ground-truth ("oracle") tag maps, for feeding the
  decoder perfect network outputs. Person ``p``'s tag value is written on a
  disc around each of its valid in-map joints in that joint's map, far to near
  exactly like the ORPM (:mod:`ssmp3d.encode.orpm`: same disc, same stable
  depth order, later writes win), 0 elsewhere.

Oracle tag values (:func:`oracle_tag_values`) are ``3.0 * p + 1.0``: people
differ by 3.0, three times the decoder's default ``tag_threshold`` (1.0), so
with exact tags no grouping decision is ever close to the threshold; the
first person's 1.0 also differs from the 0 background.
"""

from __future__ import annotations

import numpy as np

from .heatmaps import _check_joints, _check_per_person, _check_radius, _check_size, _pixels_inside
from .orpm import _disc_pixels, depth_order, disc_offsets

__all__ = ["ORACLE_TAG_SPACING", "encode_tag_maps", "oracle_tag_values", "tag_indices"]

ORACLE_TAG_SPACING = 3.0
"""Difference between consecutive oracle tag values."""


def oracle_tag_values(n: int) -> np.ndarray:
    """Oracle tag values ``[N]`` float64: ``3.0 * arange(n) + 1.0``.

    Args:
        n: Number of people (>= 0).
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n: expected a non-negative int, got {n!r}")
    if n < 0:
        raise ValueError(f"n: must be >= 0, got {n}")
    return ORACLE_TAG_SPACING * np.arange(int(n), dtype=np.float64) + 1.0


def tag_indices(joints_map, valid, size) -> np.ndarray:
    """Flat pixel index and flag of every joint, for the AE loss.

    Args:
        joints_map: ``[N, K, 2]`` continuous map coordinates.
        valid: ``[N, K]`` bool (invalid joints may be NaN).
        size: ``(H, W)`` of the map.

    Returns:
        ``[N, K, 2]`` int64: ``[..., 0]`` = ``y * W + x`` of the nearest pixel
        ``floor(c + 0.5)`` (0 where flagged off), ``[..., 1]`` = 1 iff the
        joint is valid and that pixel lies inside the map.

    Raises:
        TypeError, ValueError: bad shapes, dtypes, NaN in valid joints, empty size.
    """
    joints, valid = _check_joints(joints_map, valid)
    h, w = _check_size(size)
    pix, inside = _pixels_inside(joints, valid, (h, w))
    out = np.zeros(valid.shape + (2,), dtype=np.int64)
    out[..., 0] = np.where(inside, pix[..., 1] * w + pix[..., 0], 0)
    out[..., 1] = inside
    return out


def encode_tag_maps(joints_map, valid, depth, size, tag_values=None, radius: int = 2) -> np.ndarray:
    """Oracle tag maps: each person's tag on discs around its joints.

    Args:
        joints_map: ``[N, K, 2]`` continuous map coordinates.
        valid: ``[N, K]`` bool (invalid joints may be NaN).
        depth: ``[N]`` pelvis depth, larger = farther (write order, as ORPM).
        size: ``(H, W)`` of the map.
        tag_values: ``[N]`` finite tag of each person; default
            :func:`oracle_tag_values` ``(N)``. Written as float32.
        radius: Disc radius in map pixels (>= 0; 0 writes one pixel).

    Returns:
        ``[K, H, W]`` float32 tag maps, 0 where nobody wrote.

    Raises:
        TypeError, ValueError: bad shapes, dtypes, NaN, mismatched N, empty
            size, negative radius.
    """
    joints, valid = _check_joints(joints_map, valid)
    n, k = valid.shape
    order = depth_order(_check_per_person(depth, "depth", n))
    h, w = _check_size(size)
    offsets = disc_offsets(_check_radius(radius))
    if tag_values is None:
        tags = oracle_tag_values(n)
    else:
        tags = _check_per_person(tag_values, "tag_values", n)
    tags32 = tags.astype(np.float32)
    out = np.zeros((k, h, w), dtype=np.float32)
    pix, inside = _pixels_inside(joints, valid, (h, w))
    for p in order:
        ks = np.nonzero(inside[p])[0]
        if ks.size == 0:
            continue
        owner, ys, xs = _disc_pixels(pix[p, ks], offsets, (h, w))
        out[ks[owner], ys, xs] = tags32[p]
    return out

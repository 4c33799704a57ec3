"""Bone lengths and tree path lengths of a skeleton, for the assignment grouping.

:func:`tree_geometry` turns a skeleton's parents, topological order and bone
vectors (the decoder's mean bones) into :class:`TreeGeometry`: the path
length between any two joints along the kinematic tree, in metres. The
grouping strategy ``"assign"`` (:mod:`ssmp3d.decoding.assignment`) divides
pixel distances by these lengths; the C++ grouper reads the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["MIN_BONE_M", "TreeGeometry", "tree_geometry"]

#: Bone lengths are clamped to at least this many metres (no division by 0).
MIN_BONE_M = 1e-3


@dataclass(frozen=True, eq=False)
class TreeGeometry:
    """The skeleton tree as the assignment strategy uses it.

    Attributes:
        order: ``[K]`` int64 topological order (the root first).
        parents: ``[K]`` int64 (-1 for the root).
        path: ``[K, K]`` float64 metres: the sum of bone lengths on the tree
            path between two joints (0 on the diagonal).
    """

    order: np.ndarray
    parents: np.ndarray
    path: np.ndarray


def tree_geometry(parents: tuple[int, ...], order: tuple[int, ...], bones_m: np.ndarray) -> TreeGeometry:
    """Path lengths of a skeleton tree.

    Args:
        parents: Parent of each joint (-1 for the root).
        order: Topological order (parents first).
        bones_m: ``[K, 3]`` bone vectors in metres (the decoder's mean bones);
            each joint's bone length is its norm, clamped to :data:`MIN_BONE_M`.

    Returns:
        The :class:`TreeGeometry` (read-only arrays).

    Raises:
        ValueError: ``parents`` is not a tree with one root whose parents
            come before their children in ``order``, or ``bones_m`` is not
            ``[K, 3]`` finite.
    """
    parents = tuple(int(p) for p in parents)
    order = tuple(int(o) for o in order)
    k = len(parents)
    seen: set[int] = set()
    for j in order:
        if not (0 <= j < k) or j in seen or (parents[j] != -1 and parents[j] not in seen):
            raise ValueError(f"skeleton: the topological order {list(order)} does not list every joint "
                             f"once after its parent (parents {list(parents)})")
        seen.add(j)
    if len(seen) != k or sum(p == -1 for p in parents) != 1:
        raise ValueError(f"skeleton: expected one root and {k} joints in the topological order, got "
                         f"parents {list(parents)}, order {list(order)}")
    bones = np.asarray(bones_m, dtype=np.float64)
    if bones.shape != (k, 3) or not np.isfinite(bones).all():
        raise ValueError(f"mean_bones: expected finite [K = {k}, 3] metres, got shape {list(bones.shape)}")
    return _tree_geometry(parents, order, bones.tobytes())


@lru_cache(maxsize=64)
def _tree_geometry(parents: tuple[int, ...], order: tuple[int, ...], bones: bytes) -> TreeGeometry:
    k = len(parents)
    vec = np.frombuffer(bones, dtype=np.float64).reshape(k, 3)
    length = np.maximum(np.sqrt((vec[:, 0] * vec[:, 0] + vec[:, 1] * vec[:, 1]) + vec[:, 2] * vec[:, 2]), MIN_BONE_M)
    up = np.zeros((k, k))  # up[a, x]: path length from a up to its ancestor x (nan if not an ancestor)
    up[:] = np.nan
    for a in range(k):
        x, acc = a, 0.0
        up[a, a] = 0.0
        while parents[x] >= 0:
            acc = acc + float(length[x])
            x = parents[x]
            up[a, x] = acc
    path = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            x, acc = b, 0.0  # climb from b to the first ancestor of a
            while np.isnan(up[a, x]):
                acc = acc + float(length[x])
                x = parents[x]
            path[a, b] = up[a, x] + acc
    path = np.minimum(path, path.T)  # exact symmetry: both directions sum the same bones
    out = TreeGeometry(np.asarray(order, np.int64), np.asarray(parents, np.int64), path)
    for arr in (out.order, out.parents, out.path):
        arr.setflags(write=False)
    return out

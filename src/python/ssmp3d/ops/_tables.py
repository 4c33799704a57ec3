"""The skeleton as one int64 table, the form in which it crosses the custom ops and the C++ decoders."""

from __future__ import annotations

import numpy as np

from ..skeleton import Skeleton

__all__ = ["skeleton_table"]

_TABLES: dict[int, tuple[Skeleton, np.ndarray]] = {}


def skeleton_table(skeleton: Skeleton) -> np.ndarray:
    """A skeleton as one read-only int64 ``[2 + 2K, K]`` array (cached per skeleton).

    Rows: ``0`` parents (-1 for the root); ``1`` the topological order;
    ``2 .. K+1`` the read-out chain of each map (``Skeleton.readout_chain``,
    -1 padded); ``K+2 .. 2K+1`` the read-out sets ``S[m, l]``
    (``Skeleton.readout_sets``) as 0 / 1.
    """
    hit = _TABLES.get(id(skeleton))
    if hit is not None and hit[0] is skeleton:
        return hit[1]
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    k = skeleton.num_joints
    table = np.full((2 + 2 * k, k), -1, np.int64)
    table[0] = skeleton.parents
    table[1] = skeleton.topological_order
    for j in range(k):
        chain = skeleton.readout_chain(j)
        table[2 + j, : len(chain)] = chain
    table[2 + k :] = skeleton.readout_sets()
    table.setflags(write=False)
    if len(_TABLES) > 64:
        _TABLES.clear()
    _TABLES[id(skeleton)] = (skeleton, table)
    return table

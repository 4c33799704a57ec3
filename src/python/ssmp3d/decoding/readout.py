"""ORPM read-out of 3D poses (DESIGN.md section 6.4, paper section 3.2).

Map ``m``'s *read-out locations of a person* are the positions of that
person's detected joints ``l`` with ``S[m, l]`` (``Skeleton.readout_sets``):
the places where the encoder writes map ``m`` for that person. A detected
joint ``l`` of person ``p`` is a *valid* location for map ``m`` iff

* its score is above ``readout_threshold`` (compared in float32, like the NMS
  threshold), and
* no read-out location for map ``m`` of any other person formed by grouping
  (dropped people included, whatever their scores) lies at Euclidean distance
  ``< readout_min_dist``: ``dx^2 + dy^2 < readout_min_dist^2`` in float64, on
  integer map pixels.

Joint ``j != pelvis`` of a person is read in map ``j`` at the first location
of ``skeleton.readout_chain(j)`` (``j``, its limb from the extremity toward
the root, the neck, the pelvis) that is detected and valid; without one it
takes the mean bone vector. The pelvis is the root: zero. Bone vectors (metres)
are summed down the tree in float32, ``X_j = X_parent + v_j * float32(1000)``,
in ``skeleton.topological_order``, giving pelvis-relative millimetres.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree

from ..skeleton import Skeleton
from .types import DecodeConfig, ReadoutRule

_MM_PER_M = np.float32(1000.0)


class Readout(NamedTuple):
    """Read-out of ``P`` people.

    Attributes:
        joints3d: ``[P, K, 3]`` float32 pelvis-relative millimetres.
        bones: ``[P, K, 3]`` float32 bone vectors used, metres (pelvis: 0).
        rule: ``[P, K]`` int8 :class:`ReadoutRule` codes.
        joint: ``[P, K]`` int16 joint whose location was read (-1: mean or root).
    """

    joints3d: np.ndarray
    bones: np.ndarray
    rule: np.ndarray
    joint: np.ndarray


@lru_cache(maxsize=16)
def _skeleton_tables(skeleton: Skeleton) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """``readout_sets().T`` (``[l, m]``) and each map's read-out chain as an int64 array."""
    chains = tuple(np.asarray(skeleton.readout_chain(j), dtype=np.int64) for j in range(skeleton.num_joints))
    return skeleton.readout_sets().T.copy(), chains


def readout_validity(
    positions: np.ndarray,
    scores: np.ndarray,
    detected: np.ndarray,
    skeleton: Skeleton,
    config: DecodeConfig,
) -> np.ndarray:
    """Which detected joint positions are valid read-out locations for which maps.

    Args:
        positions: ``[Q, K, 2]`` integer map pixels ``(x, y)`` of every person
            formed by grouping (ignored where not detected).
        scores: ``[Q, K]`` float32 joint scores.
        detected: ``[Q, K]`` bool.
        skeleton: The joint set (``readout_sets``).
        config: Uses ``readout_threshold`` and ``readout_min_dist``.

    Returns:
        ``[Q, K, K]`` bool ``valid[p, l, m]``: the position of joint ``l`` of
        person ``p`` is detected and a valid read-out location for map ``m``.
    """
    q, k = detected.shape
    valid = np.zeros((q, k, k), dtype=bool)
    pid, lid = np.nonzero(detected)
    if pid.size == 0:
        return valid
    pos = positions[pid, lid].astype(np.float64)  # [N, 2]
    min_dist = float(config.readout_min_dist)
    # Candidate pairs from a k-d tree (a small margin makes them a superset),
    # then the exact test dx^2 + dy^2 < min_dist^2 in float64.
    pairs = cKDTree(pos).query_pairs(r=min_dist + 1e-6, output_type="ndarray")  # [E, 2], i < j
    i, j = pairs[:, 0], pairs[:, 1]
    dx, dy = pos[i, 0] - pos[j, 0], pos[i, 1] - pos[j, 1]
    keep = (dx * dx + dy * dy < min_dist * min_dist) & (pid[i] != pid[j])
    # Location a is crowded by location b of another person (both directions).
    a = np.concatenate([i[keep], j[keep]])
    b = np.concatenate([j[keep], i[keep]])
    # conflict[a, m]: some crowding location b is a read-out location for map m.
    conflict = np.zeros((pid.size, k), dtype=bool)
    np.logical_or.at(conflict, a, _skeleton_tables(skeleton)[0][lid[b]])
    confident = scores[pid, lid].astype(np.float32) > np.float32(config.readout_threshold)
    valid[pid, lid] = confident[:, None] & ~conflict
    return valid


def readout(
    orpm: np.ndarray,
    positions: np.ndarray,
    scores: np.ndarray,
    detected: np.ndarray,
    people: np.ndarray,
    skeleton: Skeleton,
    config: DecodeConfig,
    mean_bones: np.ndarray | None = None,
) -> Readout:
    """Reads the 3D poses of some of the people of one image from its ORPM.

    Args:
        orpm: ``[K, 3, H, W]`` ORPM maps of the image (any float dtype; the
            values read are converted to float32).
        positions: ``[Q, K, 2]`` integer map pixels ``(x, y)`` of every person
            formed by grouping.
        scores: ``[Q, K]`` float32 joint scores.
        detected: ``[Q, K]`` bool.
        people: ``[P]`` rows of the people to read (e.g. ``Grouping.kept``);
            the validity test still considers all ``Q``.
        skeleton: The joint set.
        config: Uses ``readout`` (``"full"`` or ``"naive"``),
            ``readout_threshold`` and ``readout_min_dist``.
        mean_bones: ``[K, 3]`` float32 fallback bone vectors in metres;
            default ``config.mean_bones_array(skeleton)``.

    Returns:
        The :class:`Readout` of the ``P`` people, in the order of ``people``.
    """
    if mean_bones is None:
        mean_bones = config.mean_bones_array(skeleton)
    people = np.asarray(people, dtype=np.int64)
    k = detected.shape[1]
    p = people.shape[0]
    pelvis, neck = skeleton.pelvis, skeleton.neck
    det = detected[people]  # [P, K]

    # loc[p, j]: joint whose location map j is read at (-1: none).
    loc = np.full((p, k), -1, dtype=np.int64)
    if config.readout == "naive":
        loc = np.where(det, np.arange(k)[None, :], -1)
    elif p:
        valid = readout_validity(positions, scores, detected, skeleton, config)[people]  # [P, K, K]
        chains = _skeleton_tables(skeleton)[1]
        for j in range(k):
            if j == pelvis:
                continue
            chain = chains[j]
            ok = det[:, chain] & valid[:, chain, j]  # [P, L]
            first = np.argmax(ok, axis=1)
            loc[:, j] = np.where(ok[np.arange(p), first], chain[first], -1)
    loc[:, pelvis] = -1

    bones = np.broadcast_to(np.asarray(mean_bones, dtype=np.float32), (p, k, 3)).copy()
    pp, jj = np.nonzero(loc >= 0)
    if pp.size:
        xy = positions[people[pp], loc[pp, jj]]  # [N, 2]
        bones[pp, jj] = np.asarray(orpm[jj, :, xy[:, 1], xy[:, 0]]).astype(np.float32)
    bones[:, pelvis] = 0.0

    joint_idx = np.arange(k)[None, :]
    rule = np.select(
        [loc < 0, loc == joint_idx, loc == neck, loc == pelvis],
        [ReadoutRule.MEAN, ReadoutRule.OWN, ReadoutRule.NECK, ReadoutRule.PELVIS],
        ReadoutRule.LIMB,
    ).astype(np.int8)
    rule[:, pelvis] = ReadoutRule.ROOT

    joints3d = np.zeros((p, k, 3), dtype=np.float32)
    for j in skeleton.topological_order:
        parent = skeleton.parents[j]
        if parent >= 0:
            joints3d[:, j] = joints3d[:, parent] + bones[:, j] * _MM_PER_M
    return Readout(joints3d=joints3d, bones=bones, rule=rule, joint=loc.astype(np.int16))

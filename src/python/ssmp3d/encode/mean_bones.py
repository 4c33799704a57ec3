"""A dataset's mean bone vectors: the decoder's last read-out fallback
(``DecodeConfig.mean_bones``; docs/decisions.md). The trainer keeps running
sums of the same quantity over its training scenes
(:class:`ssmp3d.train.warm_start.BoneMeans`).
"""

from __future__ import annotations

import numpy as np

from ..skeleton import PANOPTIC19, Skeleton
from .heatmaps import _as_bool_array, _as_float_array

__all__ = ["mean_bone_vectors"]


def mean_bone_vectors(joints3d_mm, skeleton: Skeleton = PANOPTIC19, valid3d=None) -> np.ndarray:
    """Dataset mean bone vectors, the decoder's last read-out fallback.

    The mean runs over people whose joint and its parent are both valid, in
    float64, then converts to metres and float32. A bone with no valid sample
    takes the skeleton's default (:meth:`Skeleton.mean_bones_m`); the pelvis is 0.

    Args:
        joints3d_mm: ``[N, K, 3]`` joints in millimetres (camera frame,
            absolute or pelvis-relative: bones are differences).
        skeleton: The joint set.
        valid3d: Optional ``[N, K]`` bool; default all True.

    Returns:
        ``[K, 3]`` float32 mean bone vectors in metres.

    Raises:
        TypeError, ValueError: bad shapes, dtypes, K mismatch, NaN in valid joints.
    """
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    joints = _as_float_array(joints3d_mm, "joints3d_mm", "[N, K, 3]", 3, 3)
    n, k = joints.shape[:2]
    if k != skeleton.num_joints:
        raise ValueError(f"joints3d_mm: skeleton {skeleton.name!r} has {skeleton.num_joints} "
                         f"joints, got K={k}")
    valid = np.ones((n, k), dtype=bool) if valid3d is None else _as_bool_array(valid3d, "valid3d", (n, k))
    if not np.all(np.isfinite(joints[valid])):
        raise ValueError("joints3d_mm: valid joints must be finite")
    parents = np.asarray(skeleton.parents)
    par = np.where(parents < 0, np.arange(k), parents)
    both = valid & valid[:, par]  # [N, K]
    bones = np.where(both[..., None], skeleton.bone_vectors(np.where(valid[..., None], joints, 0.0)), 0.0)
    cnt = both.sum(axis=0)  # [K]
    mean = np.divide(bones.sum(axis=0), cnt[:, None], out=np.zeros((k, 3)), where=cnt[:, None] > 0)
    out = np.where((cnt > 0)[:, None], mean / 1000.0, skeleton.mean_bones_m().astype(np.float64))
    out[skeleton.pelvis] = 0.0
    return out.astype(np.float32)

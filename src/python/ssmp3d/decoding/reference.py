"""The pure-Python reference decoder (``backend="python"``, DESIGN.md section 6).

NMS -> gather -> group -> read-out, in torch and numpy on the CPU, one image
at a time (the NMS is :func:`ssmp3d.ops._reference.heatmap_nms`). It is the
specification the compiled backends reproduce and the baseline they are timed
against. Inputs are assumed validated (see :func:`ssmp3d.decoding.decode`).

Numerics: heatmaps are converted to float32 before NMS (scores, thresholds and
the refinement comparisons are float32); tags are gathered, converted to
float32 and then used in float64; ORPM values are gathered and converted to
float32. 2D output: refined map coordinates (float64) through
``MapTransform.map_to_image``, stored as float32.

NaN: anywhere in ``heatmaps`` raises ``ValueError("heatmaps: ...")`` before
any image is decoded; then, image by image, a NaN among the tags gathered at
the candidate peaks raises ``ValueError("tags: ...")`` and a NaN among the
ORPM values read for the people kept raises ``ValueError("orpm: ...")``.
NaN elsewhere in ``tags`` / ``orpm`` is never read and does not matter.
"""

from __future__ import annotations

import numpy as np
import torch

from ..geometry import MapTransform
from ..ops import _args
from ..ops._reference import heatmap_nms
from ..skeleton import Skeleton
from ..bones import tree_geometry
from .grouping import group_candidates
from .readout import readout
from .types import DecodeConfig, DecodeResult, ReadoutRule
from .validate import has_nan


def _cpu_tensor(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """A CPU tensor sharing memory with ``x`` where possible (negative / conjugate bits resolved)."""
    if isinstance(x, torch.Tensor):
        return _args.resolve(x).cpu()
    try:
        return torch.from_numpy(x)
    except (TypeError, ValueError):  # negative strides, non-native byte order
        return torch.from_numpy(np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("=")))


def gather_tags(tags: torch.Tensor, indices: torch.Tensor) -> np.ndarray:
    """Tags at the candidate peaks.

    Args:
        tags: ``[B, K, D, H, W]`` CPU tag maps.
        indices: ``[B, K, M]`` int64 flat peak indices (-1 padding).

    Returns:
        ``[B, K, M, D]`` float64 tags (values converted to float32 first;
        0 at padding).
    """
    b, k, d, h, w = tags.shape
    m = indices.shape[-1]
    flat = tags.reshape(b, k, d, h * w)
    idx = indices.clamp(min=0).unsqueeze(2).expand(b, k, d, m)
    out = torch.gather(flat, 3, idx).to(torch.float32).permute(0, 1, 3, 2)
    out = out.numpy().astype(np.float64)
    out[(indices < 0).numpy()] = 0.0
    return out


def candidate_coords(
    heatmaps: np.ndarray, indices: np.ndarray, refine: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Integer and (optionally) refined map coordinates of the candidate peaks.

    Refinement moves ``x`` by ``0.25 * sign(h[y, x+1] - h[y, x-1])`` when both
    neighbours exist (the sign evaluated as ``(a > b) - (a < b)`` in float32:
    no shift on ties, none at the border in that axis); the same for ``y``.

    Args:
        heatmaps: ``[B, K, H, W]`` float32.
        indices: ``[B, K, M]`` int64 flat indices ``y * W + x`` (-1 padding).
        refine: Apply the quarter-pixel refinement.

    Returns:
        ``xy [B, K, M, 2]`` int64 integer map pixels (-1 at padding) and
        ``xy_ref [B, K, M, 2]`` float64 refined map coordinates (NaN at padding).
    """
    h, w = heatmaps.shape[2:]
    valid = indices >= 0
    xy = np.stack([indices % w, indices // w], axis=-1)
    xy[~valid] = -1
    xy_ref = np.full(xy.shape, np.nan)
    bb, kk, mm = np.nonzero(valid)
    x, y = xy[bb, kk, mm, 0], xy[bb, kk, mm, 1]
    fx, fy = x.astype(np.float64), y.astype(np.float64)
    if refine and bb.size:
        def shift(lo: np.ndarray, hi: np.ndarray, inner: np.ndarray) -> np.ndarray:
            sign = (hi > lo).astype(np.float64) - (hi < lo).astype(np.float64)
            return 0.25 * sign * inner

        left = heatmaps[bb, kk, y, np.maximum(x - 1, 0)]
        right = heatmaps[bb, kk, y, np.minimum(x + 1, w - 1)]
        up = heatmaps[bb, kk, np.maximum(y - 1, 0), x]
        down = heatmaps[bb, kk, np.minimum(y + 1, h - 1), x]
        fx = fx + shift(left, right, (x > 0) & (x < w - 1))
        fy = fy + shift(up, down, (y > 0) & (y < h - 1))
    xy_ref[bb, kk, mm, 0] = fx
    xy_ref[bb, kk, mm, 1] = fy
    return xy, xy_ref


def empty_result(batch: int, config: DecodeConfig, num_joints: int, tag_dim: int) -> DecodeResult:
    """A :class:`DecodeResult` of ``batch`` images holding no people (all padding)."""
    b, p, k = batch, config.max_people, num_joints
    return DecodeResult(
        joints2d=np.full((b, p, k, 2), np.nan, dtype=np.float32),
        scores=np.zeros((b, p, k), dtype=np.float32),
        detected=np.zeros((b, p, k), dtype=bool),
        peaks=np.full((b, p, k), -1, dtype=np.int64),
        joints3d=np.zeros((b, p, k, 3), dtype=np.float32),
        readout_rule=np.full((b, p, k), ReadoutRule.NONE, dtype=np.int8),
        readout_joint=np.full((b, p, k), -1, dtype=np.int16),
        person_scores=np.zeros((b, p), dtype=np.float32),
        tags=np.zeros((b, p, tag_dim), dtype=np.float64),
        num_people=np.zeros((b,), dtype=np.int32),
    )


def decode_reference(
    heatmaps: torch.Tensor | np.ndarray,
    tags: torch.Tensor | np.ndarray,
    orpm: torch.Tensor | np.ndarray | None,
    config: DecodeConfig,
    skeleton: Skeleton,
    transform: MapTransform,
    num_threads: int = 1,
) -> DecodeResult:
    """Decodes a batch of network outputs into people (the ``python`` backend).

    Args:
        heatmaps: ``[B, K, H, W]`` joint heatmaps.
        tags: ``[B, K, H, W]`` or ``[B, K, D, H, W]`` embedding maps.
        orpm: ``[B, K, 3, H, W]`` parent-relative bone vectors, metres; None
            decodes 2D only (no read-out: 3D NaN, rules ``NONE``).
        config: Decoding parameters.
        skeleton: Joint set with ``K`` joints.
        transform: Map -> image coordinates for the 2D output.
        num_threads: Ignored (one thread).

    Returns:
        The batched :class:`DecodeResult` (``P = config.max_people``).

    Raises:
        ValueError: NaN in ``heatmaps``, or read from ``tags`` / ``orpm``.
    """
    if has_nan(heatmaps):
        raise ValueError("heatmaps: contains NaN")
    hm = _cpu_tensor(heatmaps)
    tg = _cpu_tensor(tags)
    if tg.dim() == 4:
        tg = tg.unsqueeze(2)
    om = _cpu_tensor(orpm) if orpm is not None else None
    b, k = hm.shape[:2]
    out = empty_result(b, config, k, tg.shape[2])
    mean_bones = config.mean_bones_array(skeleton)
    tree = tree_geometry(skeleton.parents, skeleton.topological_order, mean_bones)
    joint_ids = np.arange(k)[None, :]
    # One image at a time: its maps stay in cache through every step.
    for i in range(b):
        # 1. NMS on float32 heatmaps.
        hm_i = hm[i : i + 1].to(torch.float32)
        scores_t, indices_t, counts_t = heatmap_nms(hm_i, config.det_threshold, config.nms_radius,
                                                    config.max_candidates)
        # 2. Gather tags and candidate coordinates.
        tags_i = gather_tags(tg[i : i + 1], indices_t)[0]  # [K, M, D]
        if np.isnan(tags_i).any():
            raise ValueError(f"tags: contains NaN at a candidate peak (image {i})")
        scores, indices, counts = scores_t[0].numpy(), indices_t.numpy(), counts_t[0].numpy()
        xy, xy_ref = candidate_coords(hm_i.numpy(), indices, config.refine)
        xy, indices = xy[0], indices[0]  # [K, M, 2], [K, M]

        # 3. Group.
        g = group_candidates(scores, tags_i, counts, skeleton.neck, config, xy=xy.astype(np.float64), tree=tree)
        kept = g.kept
        n = kept.shape[0]
        if n == 0:
            continue
        det = g.assignment >= 0  # [Q, K]
        rank = np.where(det, g.assignment, 0)
        positions = xy[joint_ids, rank]  # [Q, K, 2]
        joint_scores = np.where(det, scores[joint_ids, rank], np.float32(0))

        # 4. Read out (not for 2D-only decoding).
        if om is not None:
            om_i = om[i]
            om_np = (om_i.to(torch.float32) if om_i.dtype == torch.bfloat16 else om_i).numpy()
            ro = readout(om_np, positions, joint_scores, det, kept, skeleton, config, mean_bones)
            if np.isnan(ro.bones).any():  # the mean bones are finite: a NaN was read
                raise ValueError(f"orpm: contains NaN at a read-out location (image {i})")
            out.joints3d[i, :n] = ro.joints3d
            out.readout_rule[i, :n] = ro.rule
            out.readout_joint[i, :n] = ro.joint
        else:
            out.joints3d[i, :n] = np.nan

        # 5. Output (2D through the map -> image transform).
        kdet = det[kept]
        kept_rank = rank[kept]
        xy_img = transform.map_to_image(xy_ref[0][joint_ids, kept_rank])  # [P', K, 2]
        out.detected[i, :n] = kdet
        out.scores[i, :n] = joint_scores[kept]
        out.peaks[i, :n] = np.where(kdet, indices[joint_ids, kept_rank], -1)
        out.joints2d[i, :n] = np.where(kdet[..., None], xy_img, np.nan)
        out.person_scores[i, :n] = g.scores[kept]
        out.tags[i, :n] = g.tags[kept]
        out.num_people[i] = n
    return out

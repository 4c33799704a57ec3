"""Pure torch twins of the compiled ops: the specification, the fallback and the test oracle.

They take already-validated inputs (see :mod:`ssmp3d.ops` for the checked
public functions) and must stay readable: every compiled kernel is tested
for exact equality against these.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def heatmap_nms(
    heatmaps: torch.Tensor, threshold: float, radius: int, max_candidates: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Heatmap NMS with exact tie rules (DESIGN.md section 6.1).

    Pixel ``q`` is a peak iff ``h[q] > threshold`` and every other pixel ``p``
    of the ``(2r+1)^2`` window (clipped at the border) has ``h[p] < h[q]``, or
    ``h[p] == h[q]`` and ``flat(p) > flat(q)`` (``flat = y * W + x``). So on a
    plateau only the first pixel in raster order is a peak.

    Args:
        heatmaps: ``[B, K, H, W]`` floating tensor without NaN.
        threshold: Detection threshold.
        radius: Window radius ``r >= 0``.
        max_candidates: Peaks kept per (image, joint), ``M >= 1``.

    Returns:
        ``scores [B, K, M]`` (heatmap dtype, 0 padding), ``indices [B, K, M]``
        int64 flat indices (-1 padding), ``counts [B, K]`` int32; peaks ordered
        by score descending, then flat index ascending.
    """
    b, k, h, w = heatmaps.shape
    x = heatmaps
    padded = torch.nn.functional.pad(x, (radius, radius, radius, radius), value=float("-inf"))
    peak = x > threshold
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx == 0:
                continue
            nb = padded[:, :, radius + dy : radius + dy + h, radius + dx : radius + dx + w]
            later = dy > 0 or (dy == 0 and dx > 0)  # neighbour has the larger flat index
            peak &= (nb <= x) if later else (nb < x)
    # Order the peaks by (map, score descending, flat index ascending): nonzero
    # lists them by map then flat index, and stable sorts keep earlier keys.
    flat_val = x.reshape(b * k, h * w)
    slice_idx, flat_idx = peak.reshape(b * k, h * w).nonzero(as_tuple=True)
    vals = flat_val[slice_idx, flat_idx]
    order = torch.sort(vals, descending=True, stable=True).indices
    order = order[torch.sort(slice_idx[order], stable=True).indices]
    slice_idx, flat_idx, vals = slice_idx[order], flat_idx[order], vals[order]
    # Rank of each peak within its map; keep the first max_candidates.
    per_map = torch.bincount(slice_idx, minlength=b * k)
    rank = torch.arange(slice_idx.numel(), device=x.device) - (torch.cumsum(per_map, 0) - per_map)[slice_idx]
    keep = rank < max_candidates
    scores = torch.zeros((b * k, max_candidates), dtype=x.dtype, device=x.device)
    indices = torch.full((b * k, max_candidates), -1, dtype=torch.int64, device=x.device)
    scores[slice_idx[keep], rank[keep]] = vals[keep]
    indices[slice_idx[keep], rank[keep]] = flat_idx[keep]
    counts = per_map.clamp(max=max_candidates).to(torch.int32)
    return (scores.reshape(b, k, max_candidates), indices.reshape(b, k, max_candidates),
            counts.reshape(b, k))


# ---- target encoders: batched loops over the numpy reference encoders (ssmp3d.encode) ----


def encode_heatmaps(joints_map, valid, size, sigma: float):
    """``[B, K, H, W]`` float32: :func:`ssmp3d.encode.encode_heatmaps` of each image (numpy in, out)."""
    from ..encode import encode_heatmaps as ref

    b, _, k = valid.shape
    return np.stack([ref(joints_map[i], valid[i], size, sigma) for i in range(b)]).reshape(b, k, *size)


def encode_orpm(joints_map, bones_m, valid, depth, skeleton, size, radius: int, bones_valid=None):
    """``(orpm [B, K, 3, H, W], weight [B, K, H, W])``: :func:`ssmp3d.encode.encode_orpm` per image."""
    from ..encode import encode_orpm as ref

    b = valid.shape[0]
    outs = [ref(joints_map[i], bones_m[i], valid[i], depth[i], skeleton, size, radius,
                bones_valid=None if bones_valid is None else bones_valid[i]) for i in range(b)]
    return np.stack([o[0] for o in outs]), np.stack([o[1] for o in outs])


def encode_tag_maps(joints_map, valid, depth, size, tag_values=None, radius: int = 2):
    """``[B, K, H, W]``: :func:`ssmp3d.encode.encode_tag_maps` per image (default oracle tags)."""
    from ..encode import encode_tag_maps as ref

    b = valid.shape[0]
    return np.stack([ref(joints_map[i], valid[i], depth[i], size,
                         None if tag_values is None else tag_values[i], radius) for i in range(b)])


def nms_gather(
    heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor, threshold: float, radius: int,
    max_candidates: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """NMS of the float32 heatmaps, then the tags and all ORPM vectors at each peak.

    Args:
        heatmaps: ``[B, K, H, W]``; tags: ``[B, K, H, W]`` or ``[B, K, D, H, W]``;
            orpm: ``[B, K, 3, H, W]``. Floating CPU tensors, no NaN where read.

    Returns:
        ``scores [B, K, M]`` float32, ``indices [B, K, M]`` int64, ``counts
        [B, K]`` int32, ``tags_at [B, K, M, D]`` float32 and ``orpm_at
        [B, K, M, K, 3]`` float32 (``orpm[b, m, :, y, x]`` at peak ``(b, k, r)``),
        0 at padding.
    """
    scores, indices, counts = heatmap_nms(heatmaps.to(torch.float32), threshold, radius, max_candidates)
    b, k, h, w = heatmaps.shape
    m = max_candidates
    tg = tags.reshape(b, k, -1, h * w)
    idx = indices.clamp(min=0)
    tags_at = torch.gather(tg, 3, idx[:, :, None, :].expand(b, k, tg.shape[2], m)).permute(0, 1, 3, 2)
    om = orpm.reshape(b, 1, k * 3, h * w).expand(b, k, k * 3, h * w)
    orpm_at = torch.gather(om, 3, idx[:, :, None, :].expand(b, k, k * 3, m)).permute(0, 1, 3, 2)
    pad = (indices < 0)[..., None]
    tags_at = tags_at.to(torch.float32).masked_fill(pad, 0.0).contiguous()
    orpm_at = orpm_at.to(torch.float32).masked_fill(pad, 0.0).reshape(b, k, m, k, 3).contiguous()
    return scores, indices, counts, tags_at, orpm_at


def group_candidates(scores, tags, counts, neck: int, tag_threshold: float, min_joints: int, max_people: int,
                     grouping: str = "paper", indices=None, width: int = 0, tree=None, geometry_weight: float = 0.3,
                     person_score: str = "detected", min_person_score: float = 0.0):
    """Batched, fixed-size wrapper of :func:`ssmp3d.decoding.grouping.group_candidates`.

    Args:
        scores: ``[B, K, M]`` float32; tags: ``[B, K, M, D]`` float64 (or
            ``[B, K, M]``); counts: ``[B, K]`` integers in ``[0, M]`` (numpy).
        grouping, geometry_weight, person_score, min_person_score: As
            :class:`~ssmp3d.decoding.DecodeConfig`.
        indices, width, tree: ``"assign"`` only: ``[B, K, M]`` flat pixel
            indices, the map width and the :class:`~ssmp3d.bones.TreeGeometry`.

    Returns:
        numpy ``assignment [B, K*M, K]`` int64, ``person_scores [B, K*M]``
        float64, ``person_tags [B, K*M, D]`` float64, ``num_formed [B]`` int32,
        ``kept [B, P]`` int64, ``num_kept [B]`` int32 (padding -1 / 0).
    """
    import numpy as np

    from ..decoding.grouping import group_candidates as group_one
    from ..decoding.types import DecodeConfig

    scores = np.asarray(scores, dtype=np.float32)
    tags = np.asarray(tags, dtype=np.float64)
    tags = tags[..., None] if tags.ndim == 3 else tags
    b, k, m = scores.shape
    d, q = tags.shape[3], k * m
    cfg = DecodeConfig(tag_threshold=tag_threshold, min_joints=min_joints, max_people=max_people, grouping=grouping,
                       geometry_weight=geometry_weight, person_score=person_score,
                       min_person_score=min_person_score)
    assignment = np.full((b, q, k), -1, np.int64)
    person_scores = np.zeros((b, q), np.float64)
    person_tags = np.zeros((b, q, d), np.float64)
    num_formed = np.zeros(b, np.int32)
    kept = np.full((b, max_people), -1, np.int64)
    num_kept = np.zeros(b, np.int32)
    for i in range(b):
        xy = None
        if grouping == "assign":
            idx = np.asarray(indices)[i]
            xy = np.stack([idx % width, idx // width], axis=-1).astype(np.float64)
        g = group_one(scores[i], tags[i], np.asarray(counts)[i], neck, cfg, xy=xy, tree=tree)
        n = g.num_formed
        assignment[i, :n], person_scores[i, :n], person_tags[i, :n] = g.assignment, g.scores, g.tags
        num_formed[i], num_kept[i] = n, g.kept.shape[0]
        kept[i, : g.kept.shape[0]] = g.kept
    return assignment, person_scores, person_tags, num_formed, kept, num_kept


def orpm_readout(orpm, positions, scores, detected, num_formed, people, num_people, skeleton, readout: str,
                 readout_threshold: float, readout_min_dist: float, mean_bones):
    """Batched, fixed-size wrapper of :func:`ssmp3d.decoding.readout.readout`.

    Args (numpy): ``orpm [B, K, 3, H, W]``, ``positions [B, Q, K, 2]``,
    ``scores [B, Q, K]`` float32, ``detected [B, Q, K]`` bool, ``num_formed
    [B]``, ``people [B, P]``, ``num_people [B]``, ``mean_bones [K, 3]`` float32.

    Returns:
        numpy ``joints3d [B, P, K, 3]`` float32, ``rule [B, P, K]`` int8 and
        ``joint [B, P, K]`` int16 (padding 0, -1, -1).

    Raises:
        ValueError: NaN in an ORPM value read.
    """
    import numpy as np

    from ..decoding.readout import readout as readout_one
    from ..decoding.types import DecodeConfig

    b, k = orpm.shape[:2]
    p = people.shape[1]
    cfg = DecodeConfig(readout=readout, readout_threshold=readout_threshold, readout_min_dist=readout_min_dist)
    joints3d = np.zeros((b, p, k, 3), np.float32)
    rule = np.full((b, p, k), -1, np.int8)
    joint = np.full((b, p, k), -1, np.int16)
    for i in range(b):
        q, n = int(num_formed[i]), int(num_people[i])
        ro = readout_one(orpm[i], positions[i, :q], scores[i, :q], detected[i, :q], people[i, :n], skeleton, cfg,
                         np.asarray(mean_bones, np.float32))
        if np.isnan(ro.bones).any():
            raise ValueError("orpm: contains NaN at a read-out location")
        joints3d[i, :n], rule[i, :n], joint[i, :n] = ro.joints3d, ro.rule, ro.joint
    return joints3d, rule, joint


def nms_gather_tables(
    heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor, threshold: float, radius: int,
    max_candidates: int, start: np.ndarray, maps: np.ndarray,
) -> dict[str, np.ndarray]:
    """Twin of the CUDA kernel ``nms_gather_cuda`` (the ``cuda`` decoder's tables).

    Args:
        heatmaps: ``[B, K, H, W]``; tags: ``[B, K, H, W]`` or ``[B, K, D, H, W]``;
            orpm: ``[B, K, 3, H, W]``. Floating CPU tensors (read as float32).
        threshold, radius, max_candidates: As :func:`heatmap_nms`.
        start: ``[K + 1]`` gather-list offsets; maps: ``[T]`` map ids
            (``ssmp3d.decoding.cuda.GatherLists``).

    Returns:
        numpy arrays: ``scores [B, K, M]`` float32, ``indices [B, K, M]``
        int64, ``counts [B, K]`` int32, ``flags [B, K]`` int32 (1 NaN in the
        heatmap, 2 NaN tag at a kept peak, 4 NaN ORPM value gathered),
        ``tags_at [B, K, M, D]`` float32, ``orpm_at [B, M * T, 3]`` float32
        (joint ``k``'s peak ``r`` and list entry ``s`` at row
        ``start[k] * M + r * L_k + s``) and ``refine [B, K, M, 2]`` int8 signs
        of the quarter-pixel shift in x, y. 0 / -1 padding. The outputs of a
        map holding NaN are those of the map with NaN read as -inf (the kernel
        leaves them unspecified; decoders discard them).
    """
    heat = heatmaps.to(torch.float32)
    b, k, h, w = heat.shape
    heat_nan = torch.isnan(heat).flatten(2).any(2)  # [B, K]
    clean = torch.nan_to_num(heat, nan=-math.inf, posinf=math.inf, neginf=-math.inf)
    scores, indices, counts, tags_at, orpm_all = nms_gather(clean, tags, orpm, threshold, radius, max_candidates)
    m = max_candidates
    kept = (indices >= 0)
    flags = heat_nan.to(torch.int32)
    flags |= torch.where((torch.isnan(tags_at) & kept[..., None]).flatten(2).any(2), 2, 0).to(torch.int32)
    parts, orpm_nan = [], torch.zeros((b, k), dtype=torch.bool)
    for j in range(k):
        sel = torch.tensor(np.asarray(maps[start[j]:start[j + 1]]), dtype=torch.int64)
        part = orpm_all[:, j, :, sel, :]  # [B, M, L, 3]
        orpm_nan[:, j] = torch.isnan(part).flatten(1).any(1)
        parts.append(part.reshape(b, -1, 3))
    flags |= torch.where(orpm_nan, 4, 0).to(torch.int32)
    orpm_at = torch.cat(parts, dim=1) if parts else torch.zeros((b, 0, 3))
    flat = indices.clamp(min=0)
    y, x = flat // w, flat % w
    hm = heat.reshape(b, k, h * w)

    def sign(lo_idx: torch.Tensor, hi_idx: torch.Tensor, inner: torch.Tensor) -> torch.Tensor:
        lo, hi = torch.gather(hm, 2, lo_idx), torch.gather(hm, 2, hi_idx)
        s = (hi > lo).to(torch.int8) - (hi < lo).to(torch.int8)
        return torch.where(inner & kept, s, torch.zeros_like(s))

    sx = sign((flat - 1).clamp(min=0), (flat + 1).clamp(max=h * w - 1), (x > 0) & (x < w - 1))
    sy = sign((flat - w).clamp(min=0), (flat + w).clamp(max=h * w - 1), (y > 0) & (y < h - 1))
    return {"scores": scores.numpy(), "indices": indices.numpy(), "counts": counts.numpy(),
            "flags": flags.numpy(), "tags_at": tags_at.numpy(), "orpm_at": orpm_at.contiguous().numpy(),
            "refine": torch.stack([sx, sy], dim=-1).numpy()}

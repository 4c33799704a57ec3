"""Pure torch twins of the compiled ops: the specification, the fallback and the test oracle.

They take already-validated inputs (see :mod:`ssmp3d.ops` for the checked
public functions) and must stay readable: every compiled kernel is tested
for exact equality against these.
"""

from __future__ import annotations

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

"""Pure torch twins of the compiled ops: the specification, the fallback and the test oracle.

They take already-validated inputs (see :mod:`ssmp3d.ops` for the checked
public functions) and must stay readable: every compiled kernel is tested
for exact equality against these.
"""

from __future__ import annotations

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
    flat_peak = peak.reshape(b, k, h * w)
    flat_val = x.reshape(b, k, h * w)
    masked = torch.where(flat_peak, flat_val, torch.full_like(flat_val, float("-inf")))
    # Stable descending sort: equal scores keep raster order (flat index ascending).
    order = torch.sort(masked, dim=-1, descending=True, stable=True).indices
    m = max_candidates
    if order.shape[-1] < m:
        order = torch.nn.functional.pad(order, (0, m - order.shape[-1]), value=0)
    top = order[..., :m]
    counts = flat_peak.sum(-1).clamp(max=m).to(torch.int32)
    keep = torch.arange(m, device=x.device) < counts.unsqueeze(-1)
    scores = torch.where(keep, torch.gather(flat_val, -1, top.clamp(max=h * w - 1)),
                         torch.zeros((), dtype=x.dtype, device=x.device))
    indices = torch.where(keep, top, torch.full_like(top, -1))
    return scores, indices, counts

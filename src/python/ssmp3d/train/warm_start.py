"""Warm starts and the training data's mean bones, two things a run carries beyond its weights.

* :func:`warm_start` copies into a fresh network every tensor of another
  checkpoint with the same name and shape (e.g. a backbone whose heads
  changed), and says which ones it could not use.
* :class:`BoneMeans` accumulates, over every training batch, the mean ORPM
  target vector of each joint (the bone vector to its parent, metres) over
  the pixels the targets are written on: the constant that best predicts the
  training targets in the least-squares sense. Synthetic headings are
  uniform over 360 degrees, so it differs from the skeleton's upright,
  camera-facing mean pose; the decoder uses it as its last fallback.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import numpy as np
import torch

from ..model import HourglassNet

__all__ = ["BoneMeans", "warm_start"]

log = logging.getLogger(__name__)


def warm_start(model: HourglassNet, path: str | os.PathLike) -> dict[str, list[str]]:
    """Loads the tensors of checkpoint ``path`` that match ``model``'s by name and shape.

    Args:
        model: The freshly initialised network (changed in place).
        path: A checkpoint written by ``ssmp3d train`` or an exported weights file.

    Returns:
        ``{"loaded": names, "skipped": names of ``model``'s tensors left as initialised}``.

    Raises:
        CheckpointError: the file is not a readable checkpoint, or none of its
            tensors fits ``model``.
    """
    from .checkpoint import CheckpointError, load_checkpoint

    ckpt = load_checkpoint(path)
    stored = ckpt.get("model")
    if not isinstance(stored, Mapping):
        raise CheckpointError(f"{path}: holds no network weights")
    own = model.state_dict()
    use = {k: v for k, v in stored.items()
           if k in own and isinstance(v, torch.Tensor) and tuple(v.shape) == tuple(own[k].shape)}
    if not any(v.dim() > 0 for v in use.values()):  # BN step counters alone always "fit"
        raise CheckpointError(f"{path}: none of its tensors fits this network (init_weights)")
    model.load_state_dict(use, strict=False)
    skipped = sorted(k for k in own if k not in use)
    if skipped:
        log.warning("init_weights %s: %d of %d tensors kept their initialisation (%s%s)", path, len(skipped),
                    len(own), ", ".join(skipped[:4]), ", ..." if len(skipped) > 4 else "")
    return {"loaded": sorted(use), "skipped": skipped}


class BoneMeans:
    """Running per-joint mean of the ORPM targets over their written pixels (float64 sums).

    Attributes:
        sums: ``[K, 3]`` float64 sums of target vectors over written pixels.
        counts: ``[K]`` float64 numbers of written pixels.
    """

    def __init__(self, num_joints: int) -> None:
        self.sums = np.zeros((num_joints, 3), dtype=np.float64)
        self.counts = np.zeros(num_joints, dtype=np.float64)

    @classmethod
    def from_state(cls, state: object, num_joints: int) -> "BoneMeans":
        """Restores :meth:`state`'s ``bone_sums`` (None or malformed: a fresh accumulator)."""
        out = cls(num_joints)
        if isinstance(state, Mapping):
            sums = np.asarray(state.get("sums", ()), dtype=np.float64)
            counts = np.asarray(state.get("counts", ()), dtype=np.float64)
            if sums.shape == out.sums.shape and counts.shape == out.counts.shape:
                out.sums, out.counts = sums, counts
        return out

    def add(self, orpm: torch.Tensor, weight: torch.Tensor) -> None:
        """Adds a batch: ``orpm [B, K, 3, H, W]`` targets, ``weight [B, K, H, W]`` 0/1."""
        w = weight.double()
        self.sums += torch.einsum("bkchw,bkhw->kc", orpm.double(), w).numpy()
        self.counts += w.sum(dim=(0, 2, 3)).numpy()

    def mean(self) -> np.ndarray | None:
        """``[K, 3]`` float32 means (metres); None until every joint has been written once."""
        if not np.all(self.counts > 0):
            return None
        return (self.sums / self.counts[:, None]).astype(np.float32)

    def as_tuple(self) -> tuple[tuple[float, float, float], ...] | None:
        """:meth:`mean` as nested tuples (a :class:`~ssmp3d.decoding.DecodeConfig` ``mean_bones``), or None."""
        m = self.mean()
        return None if m is None else tuple(tuple(float(v) for v in row) for row in m)

    def state(self) -> dict:
        """``{"bone_sums": {"sums", "counts"}, "mean_bones": [K][3] or None}`` for a checkpoint's ``extra``."""
        m = self.as_tuple()
        return {"bone_sums": {"sums": self.sums.tolist(), "counts": self.counts.tolist()},
                "mean_bones": None if m is None else [list(r) for r in m]}

"""A batch's training targets as torch tensors, the input of :func:`ssmp3d.train.compute_losses`.

:class:`TrainTargets` holds what :func:`ssmp3d.encode.encode_batch` makes
(numpy) as tensors on the training device; the loss functions check its
shapes against the network's outputs.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ..encode.targets import BatchTargets

__all__ = ["TrainTargets"]


class TrainTargets(NamedTuple):
    """Training targets of a batch as torch tensors (see :class:`~ssmp3d.encode.BatchTargets`).

    Attributes:
        heatmaps: ``[B, K, H, W]`` float32.
        tag_indices: ``[B, N, K, 2]`` int64 (flat index ``y * W + x``, flag 0/1);
            padding people have every flag 0.
        orpm: ``[B, K, 3, H, W]`` float32 bone vectors (metres).
        orpm_weight: ``[B, K, H, W]`` float32 0/1.
        num_people: ``[B]`` int64 people per image (padding excluded).
    """

    heatmaps: torch.Tensor
    tag_indices: torch.Tensor
    orpm: torch.Tensor
    orpm_weight: torch.Tensor
    num_people: torch.Tensor

    @classmethod
    def from_batch(cls, batch: BatchTargets, device: torch.device | str | None = None) -> "TrainTargets":
        """Converts :func:`~ssmp3d.encode.encode_batch` output to tensors on ``device``.

        Args:
            batch: The numpy targets.
            device: Where to put the tensors (default CPU).

        Returns:
            The :class:`TrainTargets` (float32 maps, int64 indices and counts).

        Raises:
            TypeError: ``batch`` is not a :class:`BatchTargets`.
        """
        if not isinstance(batch, BatchTargets):
            raise TypeError(f"batch: expected a BatchTargets, got {type(batch).__name__}")

        def conv(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a)).to(device=device, dtype=dtype)

        return cls(heatmaps=conv(batch.heatmaps, torch.float32),
                   tag_indices=conv(batch.tag_indices, torch.int64),
                   orpm=conv(batch.orpm, torch.float32),
                   orpm_weight=conv(batch.orpm_weight, torch.float32),
                   num_people=conv(batch.num_people, torch.int64))

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "TrainTargets":
        """The same targets on ``device``."""
        return TrainTargets(*(t.to(device, non_blocking=non_blocking) for t in self))

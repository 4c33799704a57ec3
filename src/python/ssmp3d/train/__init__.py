"""Training: the losses of the paper (eq. 2 and 3) on batched targets."""

from .losses import (
    LossConfig,
    TrainTargets,
    associative_embedding_loss,
    compute_losses,
    heatmap_loss,
    orpm_loss,
)

__all__ = [
    "LossConfig",
    "TrainTargets",
    "associative_embedding_loss",
    "compute_losses",
    "heatmap_loss",
    "orpm_loss",
]

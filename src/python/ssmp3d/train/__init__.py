"""Training: the losses of the paper (eq. 2 and 3) on batched targets, its
learning-rate schedule, and checkpoints that resume exactly."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .losses import (
    LossConfig,
    associative_embedding_loss,
    compute_losses,
    heatmap_loss,
    orpm_loss,
)
from .schedule import paper_milestones, paper_scheduler
from .train_targets import TrainTargets

__all__ = [
    "CheckpointError",
    "LossConfig",
    "TrainTargets",
    "associative_embedding_loss",
    "compute_losses",
    "heatmap_loss",
    "load_checkpoint",
    "orpm_loss",
    "paper_milestones",
    "paper_scheduler",
    "save_checkpoint",
]

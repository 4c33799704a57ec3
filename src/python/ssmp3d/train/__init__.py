"""Training: checkpoints (and, with the model, losses and the trainer)."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint"]

"""Configuration of a training run: one frozen dataclass, saved inside every checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import HourglassConfig
from .losses import LossConfig
from .schedule import PAPER_LR, SCHEDULES

__all__ = ["ADDED_FIELDS", "ADDED_NESTED", "AMP_MODES", "DATASETS", "DATASET_JOINTS", "TrainConfig", "RESUME_MAY_CHANGE",
           "stored_config"]

#: Mixed-precision modes: none, bfloat16 autocast, float16 autocast with loss scaling (CUDA).
AMP_MODES = ("none", "bf16", "fp16")
#: Training data sources: the seeded synthetic stream or a real dataset (:func:`ssmp3d.data.open.open_dataset`).
DATASETS = ("synthetic", "panoptic", "h36m")
#: Joints of each source's skeleton (the network's ``num_joints`` must match for real data).
DATASET_JOINTS = {"synthetic": 19, "panoptic": 19, "h36m": 17}
#: Fields a resumed run may change without changing what it computes. ``root``
#: may move (the trainer checks that the dataset still has as many frames).
RESUME_MAY_CHANGE = ("workers", "log_every", "checkpoint_every", "eval_every", "eval_scenes", "eval_backend",
                     "root")
#: Fields added after the first checkpoints were written, with the value those runs had.
ADDED_FIELDS = {"dataset": "synthetic", "root": None, "every": 1, "schedule": "paper", "orpm_radius": 2,
                "init_weights": None}
#: Fields of the nested ``model`` and ``loss`` configurations added later, with the value older runs had.
ADDED_NESTED = {"model": {"head_features": 0}, "loss": {"normalization": "pixels"}}


def _int(v: object, name: str, lo: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo:
        raise ValueError(f"{name}: expected an int >= {lo}, got {v!r}")


@dataclass(frozen=True)
class TrainConfig:
    """A training run on the synthetic stream or a real dataset.

    Attributes:
        model: Network configuration (its ``input_size`` is the image size).
        loss: Loss weights.
        steps: Optimizer steps of the run (the paper's schedule is scaled to it).
        batch_size: Images per step on each process; at least 2 when the
            hourglass's lowest map is 1 x 1 (``input_size == 4 * 2**depth``,
            e.g. the tiny preset): batch norm cannot train on one value.
        lr: Initial Adam learning rate (the paper: 1e-4).
        grad_clip: Max global gradient norm; 0 disables clipping.
        amp: ``"none"``, ``"bf16"`` or ``"fp16"`` (loss-scaled; CUDA only).
        seed: Seed of the weights' initialisation and of the data stream.
        preset: Scene preset, ``"sparse"`` or ``"crowded"``.
        max_people: Most people per scene.
        augment: Random scale, rotation, flip and colour augmentation.
        workers: DataLoader workers per process.
        log_every: Steps between log rows (CSV, TensorBoard when installed).
        checkpoint_every: Steps between checkpoints (always one at the end).
        eval_every: Steps between evaluations; 0 = only at the end.
        eval_scenes: Scenes of the fixed evaluation set (0 = no evaluation).
        eval_backend: Decoder backend of the evaluation; ``"auto"`` = fastest available.
        dataset: ``"synthetic"`` (``preset`` and ``max_people`` apply), ``"panoptic"`` or ``"h36m"``.
        root: Folder of a real dataset (required for one, None for synthetic).
        every: Keep every ``every``-th frame of a real dataset's training split
            (passed to the loader when not 1; 5 is the usual choice for Human3.6M).
        schedule: Learning-rate schedule, ``"short"`` (warm-up, base rate for
            three quarters of the run, cosine decay) or ``"paper"`` (the
            paper's milestones scaled to ``steps``); see :mod:`ssmp3d.train.schedule`.
        orpm_radius: Radius in map pixels of the disc each ORPM target is
            written on (:class:`~ssmp3d.encode.TargetConfig`).
        init_weights: A checkpoint whose tensors of equal name and shape
            initialise the network of a fresh run (a warm start; the others
            keep their initialisation), or None. A resumed run ignores it.
    """

    model: HourglassConfig = field(default_factory=HourglassConfig.small)
    loss: LossConfig = field(default_factory=LossConfig)
    steps: int = 1000
    batch_size: int = 8
    lr: float = PAPER_LR
    grad_clip: float = 1.0
    amp: str = "none"
    seed: int = 0
    preset: str = "sparse"
    max_people: int = 4
    augment: bool = True
    workers: int = 0
    log_every: int = 10
    checkpoint_every: int = 500
    eval_every: int = 0
    eval_scenes: int = 32
    eval_backend: str = "auto"
    dataset: str = "synthetic"
    root: str | None = None
    every: int = 1
    schedule: str = "short"
    orpm_radius: int = 2
    init_weights: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, HourglassConfig):
            raise TypeError(f"model: expected a HourglassConfig, got {type(self.model).__name__}")
        if not isinstance(self.loss, LossConfig):
            raise TypeError(f"loss: expected a LossConfig, got {type(self.loss).__name__}")
        for name, lo in (("steps", 1), ("batch_size", 1), ("seed", 0), ("max_people", 1), ("workers", 0),
                         ("log_every", 1), ("checkpoint_every", 1), ("eval_every", 0), ("eval_scenes", 0),
                         ("every", 1), ("orpm_radius", 0)):
            _int(getattr(self, name), name, lo)
        bottleneck = self.model.input_size // self.model.input_multiple  # side of the lowest hourglass map
        if self.batch_size * bottleneck**2 < 2:
            n = self.model.input_size
            raise ValueError(f"batch_size: 1 image of {n} x {n} pixels gives a 1 x 1 map at the hourglass's lowest "
                             f"level (input_size / 4 / 2**depth), where batch norm needs more than one value per "
                             f"channel to train; use batch_size >= 2 or input_size >= {2 * self.model.input_multiple}")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ValueError(f"lr: expected a float > 0, got {self.lr!r}")
        if isinstance(self.grad_clip, bool) or not isinstance(self.grad_clip, (int, float)) or self.grad_clip < 0:
            raise ValueError(f"grad_clip: expected a float >= 0, got {self.grad_clip!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {SCHEDULES}, got {self.schedule!r}")
        if self.orpm_radius > 16:
            raise ValueError(f"orpm_radius: expected at most 16 map pixels, got {self.orpm_radius}")
        if self.init_weights is not None and (not isinstance(self.init_weights, str) or not self.init_weights):
            raise ValueError(f"init_weights: expected a checkpoint path or None, got {self.init_weights!r}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp: expected one of {AMP_MODES}, got {self.amp!r}")
        if self.preset not in ("sparse", "crowded"):
            raise ValueError(f"preset: expected 'sparse' or 'crowded', got {self.preset!r}")
        if not isinstance(self.augment, bool):
            raise TypeError(f"augment: expected a bool, got {type(self.augment).__name__}")
        if self.eval_backend not in ("auto", "python", "cpu", "cuda"):
            raise ValueError(f"eval_backend: expected auto, python, cpu or cuda, got {self.eval_backend!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.dataset == "synthetic":
            if self.root is not None:
                raise ValueError("root: only real datasets (panoptic, h36m) read a folder")
            if self.every != 1:
                raise ValueError("every: only real datasets are sub-sampled")
        else:
            if not isinstance(self.root, str) or not self.root:
                raise ValueError(f"root: the {self.dataset} dataset needs its folder")
            joints = DATASET_JOINTS[self.dataset]
            if self.model.num_joints != joints:
                raise ValueError(f"model.num_joints: the {self.dataset} skeleton has {joints} joints, "
                                 f"the network {self.model.num_joints}")


def stored_config(stored: dict) -> dict:
    """A checkpoint's configuration dict with :data:`ADDED_FIELDS` and :data:`ADDED_NESTED` filled in."""
    if not isinstance(stored, dict):
        return stored
    out = {**ADDED_FIELDS, **stored}
    for key, added in ADDED_NESTED.items():
        if isinstance(out.get(key), dict):
            out[key] = {**added, **out[key]}
    return out

"""Where a run's batches and evaluation frames come from: the synthetic stream or a real dataset.

Both sources read stream positions ``start + rank + world_size * i`` in
batches of ``batch_size`` (:mod:`ssmp3d.data.dataset`,
:mod:`ssmp3d.data.real_train`), so a run resumed at step ``t`` starts again
at position ``t * batch_size * world_size``.

Evaluation during a real-data run uses ``eval_scenes`` frames evenly spaced
over the dataset's **test** split (Human3.6M: subjects 9 and 11), letterboxed,
without augmentation, decoded in input pixels (``MapTransform`` with the
identity affine; MPJPE does not depend on it). When that split cannot be
opened (e.g. only the training subjects were downloaded) the run trains
without evaluation and says so (a warning and ``evaluation["unavailable"]``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from torch.utils.data import DataLoader

from ..data.augment import AugmentConfig
from ..data.dataset import SyntheticDataset, SyntheticTestSet, collate_samples
from ..data.frames import DatasetError
from ..data.synthetic import SceneConfig
from ..encode import TargetConfig
from .config import TrainConfig
from .evaluate import EVAL_SEED

__all__ = ["DataSource", "data_config", "frame_config", "real_source", "synthetic_source"]

log = logging.getLogger(__name__)


def data_config(config: TrainConfig) -> dict:
    """The :class:`~ssmp3d.data.dataset.SampleMaker` fields of a run (input size, scenes, targets)."""
    size = config.model.input_size
    make = SceneConfig.sparse if config.preset == "sparse" else SceneConfig.crowded
    scene = replace(make(max_people=config.max_people), image_size=(size, size))
    return {"input_size": (size, size), "scene_config": scene,
            "augment_config": AugmentConfig() if config.augment else AugmentConfig.none(),
            "target_config": TargetConfig(stride=config.model.stride, orpm_radius=config.orpm_radius)}


def frame_config(config: TrainConfig) -> dict:
    """The :class:`~ssmp3d.data.real_train.FrameSampleMaker` fields of a real-data run."""
    size = config.model.input_size
    return {"input_size": (size, size), "augment_config": AugmentConfig() if config.augment else AugmentConfig.none(),
            "target_config": TargetConfig(stride=config.model.stride, orpm_radius=config.orpm_radius)}


@dataclass(frozen=True, eq=False)
class DataSource:
    """A run's data.

    Attributes:
        loader: Batches of this process's positions; items are a
            :class:`~ssmp3d.data.dataset.TrainBatch` (synthetic) or
            ``(TrainBatch, skipped messages)`` (real data).
        test_set: Evaluation samples (``evaluate_model`` input), or None.
        num_frames: Frames of the real training split (None for synthetic).
        unavailable: Why a real-data run has no evaluation set, or None.
    """

    loader: DataLoader
    test_set: object | None
    num_frames: int | None = None
    unavailable: str | None = None


def synthetic_source(config: TrainConfig, step: int, rank: int, world: int, pin_memory: bool) -> DataSource:
    """The seeded synthetic stream from step ``step`` on, and the fixed synthetic test set."""
    dataset = SyntheticDataset(config.seed, start_index=step * config.batch_size * world,
                               num_samples=(config.steps - step) * config.batch_size * world, rank=rank,
                               world_size=world, chunk_size=config.batch_size, **data_config(config))
    loader = DataLoader(dataset, batch_size=config.batch_size, num_workers=config.workers,
                        collate_fn=collate_samples, pin_memory=pin_memory, persistent_workers=False)
    test_set = SyntheticTestSet(EVAL_SEED, config.eval_scenes, **{**data_config(config),
                                                                  "augment_config": AugmentConfig.none()})
    return DataSource(loader, test_set)


def real_source(config: TrainConfig, start: int, count: int, rank: int, world: int, pin_memory: bool,
                evaluate: bool) -> DataSource:
    """A real dataset's training split from stream position ``start`` (``count`` positions over all ranks).

    Args:
        config: The run (``dataset``, ``root``, ``every``).
        start, count: First global stream position and number of positions.
        rank, world: This process's share.
        pin_memory: Pin batches (CUDA).
        evaluate: Build the evaluation set from the test split (module notes).

    Raises:
        DatasetError: the training split's annotations are missing or malformed.
        ImportError: the dataset's loader is not installed in this version.
    """
    from ..data.open import open_dataset
    from ..data.real_train import FrameTrainSet, StreamSampler, collate_frame_samples, evenly_spaced

    options = {"every": config.every} if config.every != 1 else {}
    frames = open_dataset(config.dataset, config.root, "train", **options)
    train_set = FrameTrainSet(frames, config.seed, **frame_config(config))
    loader = DataLoader(train_set, batch_size=config.batch_size, sampler=StreamSampler(start, count, rank, world),
                        num_workers=config.workers, collate_fn=collate_frame_samples, pin_memory=pin_memory,
                        persistent_workers=False)
    test_set, unavailable = None, None
    if evaluate:
        try:
            test = open_dataset(config.dataset, config.root, "test")
        except DatasetError as exc:
            unavailable = f"no {config.dataset} test split to evaluate on ({exc})"
        else:
            if len(test) == 0:
                unavailable = f"the {config.dataset} test split under {config.root} has no frames"
        if unavailable is not None:
            log.warning("%s; training without evaluation", unavailable)
        else:
            test_set = FrameTrainSet(evenly_spaced(test, config.eval_scenes), EVAL_SEED, shuffle=False,
                                     **{**frame_config(config), "augment_config": AugmentConfig.none()})
    return DataSource(loader, test_set, num_frames=len(frames), unavailable=unavailable)

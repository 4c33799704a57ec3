"""Synthetic training and test samples: scene -> render -> augment -> targets.

Sample ``index`` of seed ``seed`` is a pure function of ``(seed, index)`` and
the configuration: its scene is ``sample_scene(SeedSequence(seed,
spawn_key=(index,)))`` (so equal to ``sample_scenes(n, seed)[index]``), its
image and appearance use ``spawn_key=(index, 0)`` and its augmentation
``spawn_key=(index, 1)``. The scene is rendered at its own size
(``scene_config.image_size``, by default the input size), augmented to
``input_size`` (:mod:`ssmp3d.data.augment`), and encoded with
:func:`~ssmp3d.encode.encode_scene` at ``target_config.stride``.

Images are normalised by :func:`~ssmp3d.data.samples.normalize_image`; samples,
batches and the normalisation live in :mod:`ssmp3d.data.samples` (also
importable from here).

Stream order: :class:`SyntheticDataset` walks positions ``j = 0, 1, ...``
of index ``start_index + j``. Rank ``r`` of ``world_size`` takes ``j = r +
world_size * i`` (disjoint across ranks); inside a rank, DataLoader worker
``w`` of ``W`` takes the local positions ``i`` with ``(i // chunk_size) % W
== w``. With ``chunk_size`` equal to the DataLoader's ``batch_size`` the
loader's round-robin over workers returns every batch in stream order, so
after ``k`` batches on each rank a resumed run passes ``start_index + k *
batch_size * world_size`` and continues the exact same stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from ..encode.targets import TargetConfig, encode_scene
from ..skeleton import PANOPTIC19, Skeleton
from .augment import AugmentConfig, random_augment
from .render import RenderConfig, render_scene
from .samples import (IMAGE_MEAN, IMAGE_STD, TrainBatch, TrainSample, _check_type, collate_samples,
                      denormalize_image, normalize_image)
from .scene import Scene
from .synthetic import SceneConfig, sample_scene

__all__ = ["IMAGE_MEAN", "IMAGE_STD", "SampleMaker", "SyntheticDataset", "SyntheticTestSet", "TrainBatch",
           "TrainSample", "collate_samples", "denormalize_image", "normalize_image", "make_sample"]

def _check_int(v, name: str, lo: int = 0) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {v!r}")
    if v < lo:
        raise ValueError(f"{name}: must be >= {lo}, got {v}")
    return int(v)


def check_input_size(size, stride: int) -> tuple[int, int]:
    """``input_size`` (an int or ``(width, height)``) as a pair of positive multiples of ``stride``."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise TypeError(f"input_size: expected an int or (width, height), got {size!r}")
    size = tuple(_check_int(v, "input_size", 1) for v in size)
    if any(v % stride for v in size):
        raise ValueError(f"input_size: {size} must be multiples of the stride {stride}")
    return size


@dataclass(frozen=True)
class SampleMaker:
    """Builds sample ``index`` of a seeded synthetic stream (module notes).

    Attributes:
        seed: Root seed (>= 0).
        input_size: ``(width, height)`` of the network input; multiples of the stride.
        scene_config: Scene sampling; default ``SceneConfig(image_size=input_size)``.
        render_config: Rendering parameters.
        augment_config: Augmentation ranges.
        target_config: Target encoding (stride 4 by default).
        skeleton: Joint set.
    """

    seed: int = 0
    input_size: tuple[int, int] = (256, 256)
    scene_config: SceneConfig | None = None
    render_config: RenderConfig = field(default_factory=RenderConfig)
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)
    target_config: TargetConfig = field(default_factory=TargetConfig)
    skeleton: Skeleton = PANOPTIC19

    def __post_init__(self) -> None:
        _check_int(self.seed, "seed")
        _check_type(self.target_config, TargetConfig, "target_config")
        size = check_input_size(self.input_size, self.target_config.stride)
        object.__setattr__(self, "input_size", size)
        if self.scene_config is None:
            object.__setattr__(self, "scene_config", SceneConfig(image_size=size))
        _check_type(self.scene_config, SceneConfig, "scene_config")
        _check_type(self.render_config, RenderConfig, "render_config")
        _check_type(self.augment_config, AugmentConfig, "augment_config")
        _check_type(self.skeleton, Skeleton, "skeleton")

    def image_and_scene(self, index: int) -> tuple[np.ndarray, Scene]:
        """The augmented ``[H, W, 3]`` uint8 RGB input image and its :class:`Scene`."""
        index = _check_int(index, "index")
        root = np.random.SeedSequence(self.seed, spawn_key=(index,))
        scene = sample_scene(np.random.default_rng(root), self.scene_config, self.skeleton)
        render_rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(index, 0)))
        aug_rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(index, 1)))
        image = render_scene(scene, render_rng, self.render_config, self.skeleton)
        return random_augment(image, scene, aug_rng, self.augment_config, self.input_size, self.skeleton)

    def __call__(self, index: int) -> TrainSample:
        """Sample ``index`` as a :class:`TrainSample`."""
        image, scene = self.image_and_scene(index)
        return make_sample(image, scene, self.skeleton, self.target_config, index)


def make_sample(image: np.ndarray, scene: Scene, skeleton: Skeleton, target_config: TargetConfig,
                index: int, cls: type = TrainSample, **extra) -> TrainSample:
    """The training sample of an input image and its ground truth: targets encoded, image normalised.

    Args:
        image: ``[H, W, 3]`` uint8 RGB network input.
        scene: Its ground truth (image pixels of ``image``).
        skeleton: Joint set.
        target_config: Target encoding.
        index: Stream index stored in the sample.
        cls: :class:`TrainSample` or a subclass of it, built with ``**extra`` fields too.

    Returns:
        A ``cls`` instance.
    """
    t = encode_scene(scene, skeleton, target_config)
    x = normalize_image(image)
    pel = skeleton.pelvis
    valid = scene.valid3d & scene.valid3d[:, pel : pel + 1]
    rel = np.where(valid[..., None], scene.pelvis_relative(pel), np.nan)
    return cls(
        image=x, heatmaps=torch.from_numpy(t.heatmaps), orpm=torch.from_numpy(t.orpm),
        orpm_weight=torch.from_numpy(t.orpm_weight), tag_indices=torch.from_numpy(t.tag_indices),
        joints3d=torch.from_numpy(rel.astype(np.float32)), joints3d_valid=torch.from_numpy(valid),
        joints2d=torch.from_numpy(scene.joints2d.astype(np.float32)),
        in_image=torch.from_numpy(scene.in_image.copy()), visible=torch.from_numpy(scene.visible.copy()),
        num_people=scene.num_people, index=index, **extra)


class SyntheticDataset(IterableDataset):
    """Unlimited seeded stream of :class:`TrainSample`, sharded over ranks and workers.

    Args:
        seed: Root seed (>= 0).
        start_index: Stream index of position 0 (resume point, module notes).
        num_samples: Positions in the whole stream (over all ranks); None: unlimited.
        rank, world_size: This process's share of the stream (DDP).
        chunk_size: Consecutive local positions per DataLoader worker; set
            it to the loader's ``batch_size`` for in-order batches.
        **config: :class:`SampleMaker` fields (``input_size``,
            ``scene_config``, ``render_config``, ``augment_config``,
            ``target_config``, ``skeleton``).

    Raises:
        TypeError, ValueError: naming the bad argument.
    """

    def __init__(self, seed: int = 0, *, start_index: int = 0, num_samples: int | None = None, rank: int = 0,
                 world_size: int = 1, chunk_size: int = 1, **config):
        super().__init__()
        self.maker = SampleMaker(seed=seed, **config)
        self.start_index = _check_int(start_index, "start_index")
        self.num_samples = None if num_samples is None else _check_int(num_samples, "num_samples")
        self.world_size = _check_int(world_size, "world_size", 1)
        self.rank = _check_int(rank, "rank")
        if self.rank >= self.world_size:
            raise ValueError(f"rank: must be < world_size {self.world_size}, got {self.rank}")
        self.chunk_size = _check_int(chunk_size, "chunk_size", 1)

    def indices(self, worker: int = 0, num_workers: int = 1) -> Iterator[int]:
        """Stream indices of this rank handled by ``worker`` of ``num_workers``, in order."""
        i = 0
        while True:
            if (i // self.chunk_size) % num_workers == worker:
                j = self.rank + self.world_size * i
                if self.num_samples is not None and j >= self.num_samples:
                    return
                yield self.start_index + j
            i += 1

    def __iter__(self) -> Iterator[TrainSample]:
        info = get_worker_info()
        worker, count = (info.id, info.num_workers) if info is not None else (0, 1)
        for index in self.indices(worker, count):
            yield self.maker(index)


class SyntheticTestSet(Dataset):
    """A fixed, map-style set of ``num_scenes`` synthetic samples for evaluation.

    Sample ``i`` is stream index ``i`` of ``seed`` (no augmentation by default).

    Args:
        seed: Root seed (>= 0).
        num_scenes: Number of samples (>= 0).
        **config: :class:`SampleMaker` fields; ``augment_config`` defaults
            to :meth:`AugmentConfig.none`.
    """

    def __init__(self, seed: int, num_scenes: int, **config):
        config.setdefault("augment_config", AugmentConfig.none())
        self.maker = SampleMaker(seed=seed, **config)
        self.num_scenes = _check_int(num_scenes, "num_scenes")

    def __len__(self) -> int:
        return self.num_scenes

    def _index(self, i: int) -> int:
        i = _check_int(i, "index", -self.num_scenes)
        if i >= self.num_scenes:
            raise IndexError(f"index {i} out of range for {self.num_scenes} scenes")
        return i % self.num_scenes if self.num_scenes else i

    def __getitem__(self, i: int) -> TrainSample:
        return self.maker(self._index(i))

    def image_and_scene(self, i: int) -> tuple[np.ndarray, Scene]:
        """Sample ``i``'s ``[H, W, 3]`` uint8 RGB image and ground-truth :class:`Scene`."""
        return self.maker.image_and_scene(self._index(i))

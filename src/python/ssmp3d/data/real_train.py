"""Training samples from real frames: any FrameDataset -> TrainSample, seeded like the synthetic stream.

Stream positions ``p = 0, 1, ...`` walk the ``F`` frames epoch after epoch:
position ``p`` is frame ``order_e[p % F]`` of epoch ``e = p // F``, where
``order_e`` is the permutation of ``range(F)`` drawn from
``SeedSequence(seed, spawn_key=(ORDER_KEY, e))`` (``shuffle=False``: the
identity). Its augmentation draws from ``SeedSequence(seed, spawn_key=(p,))``.
So sample ``p`` is a pure function of ``(seed, p)`` and the configuration,
whatever the DataLoader workers and DDP ranks, and a run resumes by starting
again at its stream position (:class:`StreamSampler`).

A sample is made as :class:`~ssmp3d.data.dataset.SampleMaker` makes a
synthetic one, from the frame's image instead of a rendering: the image is
read (BGR -> RGB) and letterboxed into the input size with
:func:`~ssmp3d.data.letterbox.letterbox` (area resampling when shrinking,
black padding: the preprocessing of evaluation and prediction), the ground
truth with :func:`~ssmp3d.data.letterbox.letterbox_scene`; then
:func:`~ssmp3d.data.augment.random_augment` runs from input size to input
size (with :meth:`AugmentConfig.none` it is the identity, so evaluation
samples are exactly letterboxed); targets are encoded with the same
:class:`~ssmp3d.encode.TargetConfig`.

Unreadable images (missing, undecodable, or of another size than the
annotation says): the frame is replaced by the next readable frame in
dataset order (``frame + 1``, ``frame + 2``, ... wrapping around), usually a
neighbouring frame of the same video; the augmentation stays that of the
position. Each replacement is logged as a warning naming the file (logger
``ssmp3d.data.real_train``) and recorded in the sample's ``skipped``; the
trainer counts them. ``max_skip`` unreadable frames in a row raise the
:class:`~ssmp3d.data.frames.DatasetError` of the first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from torch.utils.data import Dataset, Sampler

from ..encode.targets import TargetConfig
from ..skeleton import Skeleton
from .augment import AugmentConfig, random_augment
from .dataset import (TrainBatch, TrainSample, _check_int, _check_type, check_input_size, collate_samples,
                      make_sample)
from .frames import DatasetError, Frame, FrameDataset
from .letterbox import letterbox, letterbox_scene
from .scene import Scene

__all__ = ["ORDER_KEY", "FrameSample", "FrameSampleMaker", "FrameSubset", "FrameTrainSet", "StreamSampler",
           "collate_frame_samples", "evenly_spaced"]

ORDER_KEY = 2**31 - 1
"""First spawn key of the epoch permutations (positions use their own index as key)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class FrameSample(TrainSample):
    """A :class:`TrainSample` of a real frame.

    Attributes:
        frame: Dataset index of the frame whose image was used.
        skipped: ``"<file>: <reason>"`` of each unreadable frame replaced on the way.
    """

    frame: int = -1
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class FrameSampleMaker:
    """Builds the sample at stream position ``p`` of a frame dataset (module notes).

    Attributes:
        frames: The annotated frames.
        seed: Root seed (>= 0) of the epoch orders and the augmentations.
        input_size: ``(width, height)`` of the network input; multiples of the stride.
        augment_config: Augmentation ranges (:meth:`AugmentConfig.none` for evaluation).
        target_config: Target encoding.
        shuffle: Visit each epoch in a seeded random order (else in dataset order).
        max_skip: Most unreadable frames in a row replaced before giving up.
    """

    frames: FrameDataset
    seed: int = 0
    input_size: tuple[int, int] = (256, 256)
    augment_config: AugmentConfig = field(default_factory=AugmentConfig)
    target_config: TargetConfig = field(default_factory=TargetConfig)
    shuffle: bool = True
    max_skip: int = 16

    def __post_init__(self) -> None:
        _check_type(self.frames, FrameDataset, "frames")
        if len(self.frames) == 0:
            raise ValueError("frames: the dataset has no frames")
        _check_int(self.seed, "seed")
        _check_type(self.target_config, TargetConfig, "target_config")
        object.__setattr__(self, "input_size", check_input_size(self.input_size, self.target_config.stride))
        _check_type(self.augment_config, AugmentConfig, "augment_config")
        _check_type(self.shuffle, bool, "shuffle")
        _check_int(self.max_skip, "max_skip", 1)
        object.__setattr__(self, "_orders", {})  # epoch -> permutation (this process's cache)

    @property
    def skeleton(self) -> Skeleton:
        """The frames' joint set."""
        return self.frames.skeleton

    def frame_index(self, position: int) -> int:
        """The dataset index of the frame at stream ``position``."""
        position = _check_int(position, "position")
        epoch, r = divmod(position, len(self.frames))
        if not self.shuffle:
            return r
        order = self._orders.get(epoch)
        if order is None:
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(ORDER_KEY, epoch)))
            order = rng.permutation(len(self.frames))
            self._orders.clear()  # one epoch at a time is enough
            self._orders[epoch] = order
        return int(order[r])

    def _read(self, i: int) -> tuple[np.ndarray, Frame]:
        """Frame ``i`` and its ``[H, W, 3]`` uint8 RGB image, checked against its annotated size."""
        bgr = self.frames.image(i)
        frame = self.frames.frame(i)
        w, h = frame.scene.image_size
        if bgr.ndim != 3 or bgr.shape[:2] != (h, w) or bgr.shape[2] != 3:
            raise DatasetError(f"{frame.image_path}: image is {bgr.shape[1]}x{bgr.shape[0]}, "
                               f"the annotation says {w}x{h}")
        return np.ascontiguousarray(bgr[..., ::-1]), frame

    def read(self, position: int) -> tuple[int, np.ndarray, Frame, tuple[str, ...]]:
        """The first readable frame from the one at ``position`` on (module notes).

        Returns:
            ``(frame index, [H, W, 3] uint8 RGB image, Frame, skipped messages)``.

        Raises:
            DatasetError: ``max_skip`` unreadable frames in a row (the first one's error).
        """
        first = self.frame_index(position)
        n, skipped, error = len(self.frames), [], None
        for k in range(min(self.max_skip, n)):
            i = (first + k) % n
            try:
                image, frame = self._read(i)
            except DatasetError as exc:
                error = error or exc
                skipped.append(str(exc))
                log.warning("unreadable image at stream position %d (%s); trying frame %d", position, exc,
                            (i + 1) % n)
                continue
            return i, image, frame, tuple(skipped)
        raise DatasetError(f"{error} ({len(skipped)} unreadable frames in a row from frame {first})")

    def _sample(self, position: int) -> tuple[np.ndarray, Scene, int, tuple[str, ...]]:
        i, image, frame, skipped = self.read(position)
        boxed, affine = letterbox(image, self.input_size)
        scene = letterbox_scene(frame.scene, affine, self.input_size)
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(position,)))
        image, scene = random_augment(boxed, scene, rng, self.augment_config, self.input_size, self.skeleton)
        return image, scene, i, skipped

    def image_and_scene(self, position: int) -> tuple[np.ndarray, Scene]:
        """The augmented ``[H, W, 3]`` uint8 RGB input image at ``position`` and its :class:`Scene`."""
        image, scene, _, _ = self._sample(position)
        return image, scene

    def __call__(self, position: int) -> FrameSample:
        """The sample at stream ``position`` as a :class:`FrameSample`."""
        image, scene, i, skipped = self._sample(position)
        return make_sample(image, scene, self.skeleton, self.target_config, position, FrameSample, frame=i,
                           skipped=skipped)


class FrameTrainSet(Dataset):
    """Map-style dataset of stream positions of a frame dataset (module notes).

    ``len()`` is one epoch (the number of frames); any position ``>= 0`` is
    valid, later epochs in their own order. Iterate it with a
    :class:`StreamSampler`.

    Args:
        frames: The annotated frames.
        seed: Root seed (>= 0).
        **config: :class:`FrameSampleMaker` fields (``input_size``,
            ``augment_config``, ``target_config``, ``shuffle``, ``max_skip``).
    """

    def __init__(self, frames: FrameDataset, seed: int = 0, **config):
        self.maker = FrameSampleMaker(frames, seed, **config)

    def __len__(self) -> int:
        return len(self.maker.frames)

    def __getitem__(self, position: int) -> FrameSample:
        return self.maker(position)

    def image_and_scene(self, position: int) -> tuple[np.ndarray, Scene]:
        """The input image and ground truth at ``position`` (see :meth:`FrameSampleMaker.image_and_scene`)."""
        return self.maker.image_and_scene(position)


class StreamSampler(Sampler[int]):
    """Stream positions ``start + j`` for ``j`` in ``range(count)`` with ``j % world_size == rank``.

    The synthetic stream's sharding: rank ``r`` of ``W`` takes ``j = r + W * i``.
    """

    def __init__(self, start: int, count: int, rank: int = 0, world_size: int = 1) -> None:
        self.start, self.count = _check_int(start, "start"), _check_int(count, "count")
        self.world_size = _check_int(world_size, "world_size", 1)
        self.rank = _check_int(rank, "rank")
        if self.rank >= self.world_size:
            raise ValueError(f"rank: must be < world_size {self.world_size}, got {self.rank}")

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start + self.rank, self.start + self.count, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.count, self.world_size))


def collate_frame_samples(samples: Sequence[FrameSample]) -> tuple[TrainBatch, list[str]]:
    """:func:`~ssmp3d.data.dataset.collate_samples`, plus the skipped-image messages of the batch."""
    batch = collate_samples(samples)
    return batch, [m for s in samples for m in getattr(s, "skipped", ())]


class FrameSubset(FrameDataset):
    """The frames ``indices`` of another frame dataset (its images read through it).

    Args:
        base: The dataset.
        indices: Frame indices of ``base``, in the subset's order.
    """

    def __init__(self, base: FrameDataset, indices: Sequence[int]) -> None:
        _check_type(base, FrameDataset, "base")
        n = len(base)
        self.indices = [int(i) for i in indices]
        if any(not 0 <= i < n for i in self.indices):
            raise ValueError(f"indices: expected frame indices in [0, {n})")
        self.base, self.name, self.skeleton = base, base.name, base.skeleton
        self.frames = [base.frame(i) for i in self.indices]

    def image(self, i: int) -> np.ndarray:
        """The image of frame ``i`` of the subset (``base.image(indices[i])``)."""
        return self.base.image(self.indices[i])


def evenly_spaced(frames: FrameDataset, count: int) -> FrameSubset:
    """``min(count, len(frames))`` frames evenly spaced over ``frames`` (indices ``k * F // count``)."""
    count = _check_int(count, "count", 1)
    n = len(frames)
    picks = range(n) if count >= n else [k * n // count for k in range(count)]
    return FrameSubset(frames, picks)

"""Training samples and batches, and the input normalisation of images.

Images are normalised as ``(rgb / 255 - IMAGE_MEAN) / IMAGE_STD`` per channel
(the ImageNet statistics); :func:`denormalize_image` inverts it.
:func:`collate_samples` stacks :class:`TrainSample` s into a
:class:`TrainBatch`, padding people to the batch's largest count. The
synthetic stream (:mod:`ssmp3d.data.dataset`) and the real-data loaders
(:mod:`ssmp3d.data.real_train`) both produce these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["IMAGE_MEAN", "IMAGE_STD", "TrainBatch", "TrainSample", "collate_samples", "denormalize_image",
           "normalize_image"]

IMAGE_MEAN = (0.485, 0.456, 0.406)
"""Per-channel RGB mean of the input normalisation (images in [0, 1])."""
IMAGE_STD = (0.229, 0.224, 0.225)
"""Per-channel RGB standard deviation of the input normalisation."""
_MEAN = np.asarray(IMAGE_MEAN, dtype=np.float32) * 255.0
_INV_STD = 1.0 / (np.asarray(IMAGE_STD, dtype=np.float32) * 255.0)


@dataclass(frozen=True, eq=False)
class TrainSample:
    """One training sample (``K`` joints, ``N`` people, input ``H x W``, maps ``H' x W'``).

    Attributes:
        image: ``[3, H, W]`` float32, normalised RGB.
        heatmaps: ``[K, H', W']`` float32.
        orpm: ``[K, 3, H', W']`` float32 bone vectors (metres).
        orpm_weight: ``[K, H', W']`` float32 0/1.
        tag_indices: ``[N, K, 2]`` int64 (flat map index, flag) for the AE loss.
        joints3d: ``[N, K, 3]`` float32 pelvis-relative camera-frame mm (NaN where invalid).
        joints3d_valid: ``[N, K]`` bool: the joint and the pelvis are ``valid3d``.
        joints2d: ``[N, K, 2]`` float32 input-image pixels.
        in_image: ``[N, K]`` bool (targets are encoded for these joints).
        visible: ``[N, K]`` bool.
        num_people: ``N``.
        index: Stream index of the sample.
    """

    image: torch.Tensor
    heatmaps: torch.Tensor
    orpm: torch.Tensor
    orpm_weight: torch.Tensor
    tag_indices: torch.Tensor
    joints3d: torch.Tensor
    joints3d_valid: torch.Tensor
    joints2d: torch.Tensor
    in_image: torch.Tensor
    visible: torch.Tensor
    num_people: int
    index: int


@dataclass(frozen=True, eq=False)
class TrainBatch:
    """``B`` samples stacked; people padded to the batch's largest ``N``.

    Attributes are those of :class:`TrainSample` with a leading ``B``;
    padding people have ``tag_indices`` (0, 0), NaN ``joints3d``/``joints2d``
    and False flags. ``num_people`` and ``index`` are ``[B]`` int64.
    """

    image: torch.Tensor
    heatmaps: torch.Tensor
    orpm: torch.Tensor
    orpm_weight: torch.Tensor
    tag_indices: torch.Tensor
    joints3d: torch.Tensor
    joints3d_valid: torch.Tensor
    joints2d: torch.Tensor
    in_image: torch.Tensor
    visible: torch.Tensor
    num_people: torch.Tensor
    index: torch.Tensor


def _check_type(v, cls, name: str):
    if not isinstance(v, cls):
        raise TypeError(f"{name}: expected a {cls.__name__}, got {type(v).__name__}")
    return v


def collate_samples(samples: Sequence[TrainSample]) -> TrainBatch:
    """Stacks samples, padding people to the largest ``N`` of the batch.

    Args:
        samples: Non-empty sequence of :class:`TrainSample` of one input size.

    Returns:
        A :class:`TrainBatch` (padding: ``tag_indices`` (0, 0), NaN joints, False flags).
    """
    if isinstance(samples, TrainSample) or not isinstance(samples, Sequence) or not samples:
        raise ValueError("samples: expected a non-empty sequence of TrainSample")
    for s in samples:
        _check_type(s, TrainSample, "samples[i]")
    n = max(s.num_people for s in samples)

    def pad(name: str, value) -> torch.Tensor:
        first = getattr(samples[0], name)
        out = torch.full((len(samples), n, *first.shape[1:]), value, dtype=first.dtype)
        for b, s in enumerate(samples):
            out[b, : s.num_people] = getattr(s, name)
        return out

    return TrainBatch(
        image=torch.stack([s.image for s in samples]), heatmaps=torch.stack([s.heatmaps for s in samples]),
        orpm=torch.stack([s.orpm for s in samples]), orpm_weight=torch.stack([s.orpm_weight for s in samples]),
        tag_indices=pad("tag_indices", 0), joints3d=pad("joints3d", float("nan")),
        joints3d_valid=pad("joints3d_valid", False), joints2d=pad("joints2d", float("nan")),
        in_image=pad("in_image", False), visible=pad("visible", False),
        num_people=torch.tensor([s.num_people for s in samples], dtype=torch.int64),
        index=torch.tensor([s.index for s in samples], dtype=torch.int64))


def normalize_image(image: np.ndarray) -> torch.Tensor:
    """The network input of an image: ``[H, W, 3]`` uint8 RGB -> ``[3, H, W]`` float32 normalised."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected an [H, W, 3] uint8 RGB array, got {image.dtype} {image.shape}")
    x = (image.astype(np.float32) - _MEAN) * _INV_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))


def denormalize_image(image: torch.Tensor) -> np.ndarray:
    """Inverse of the input normalisation: ``[3, H, W]`` float -> ``[H, W, 3]`` uint8 RGB."""
    x = image.detach().cpu().numpy().transpose(1, 2, 0) / _INV_STD + _MEAN
    return np.clip(np.round(x), 0, 255).astype(np.uint8)

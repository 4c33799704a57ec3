"""Images of one batch that share a letterbox, decoded by one decoder call.

A network batch may hold images of several sizes; each size has its own
letterbox affine, so the decoder maps its people back to image pixels with
its own :class:`~ssmp3d.geometry.MapTransform`. :func:`letterbox_groups`
splits a batch by affine (first appearance order), :func:`group_maps` cuts a
group's maps out of the batch's and :func:`place_poses` puts a group's
decoded people where its images belong. The in-line decode
(:meth:`ssmp3d.predict.Predictor.decode`) and the CUDA pipeline
(:mod:`ssmp3d.predict.stream_cuda`) both use them, so both split a batch the
same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..decoding import DecodeResult
from ..geometry import MapTransform
from ..model import StackOutput
from ..skeleton import Skeleton
from .types import ImagePoses

__all__ = ["LetterboxGroup", "group_maps", "letterbox_groups", "place_poses"]


@dataclass(frozen=True)
class LetterboxGroup:
    """Images of a batch with one letterbox.

    Attributes:
        indices: Their positions in the batch, ascending.
        transform: Map -> image pixels of their letterbox.
    """

    indices: tuple[int, ...]
    transform: MapTransform


def letterbox_groups(affines: np.ndarray, stride: int) -> list[LetterboxGroup]:
    """The groups of a batch, in order of their first image.

    Args:
        affines: ``[B, 2, 3]`` image -> input affines (:meth:`~ssmp3d.predict.Predictor.preprocess`).
        stride: The network's output stride.
    """
    groups: dict[tuple, list[int]] = {}
    for b, affine in enumerate(affines):
        groups.setdefault(tuple(np.asarray(affine).ravel()), []).append(b)
    return [LetterboxGroup(tuple(idx), MapTransform(affine=np.asarray(key).reshape(2, 3), stride=stride))
            for key, idx in groups.items()]


def group_maps(maps: StackOutput, group: LetterboxGroup, batch: int) -> StackOutput:
    """The group's maps: the batch's own tensors when it holds every image, else a
    selection (on a CUDA device its index tensor goes up from pinned memory, asynchronously).

    Args:
        maps: ``[B, ...]`` network maps of the batch.
        group: One of its :func:`letterbox_groups`.
        batch: ``B``.
    """
    if len(group.indices) == batch:
        return maps
    device = maps.heatmaps.device
    sel = torch.as_tensor(group.indices)
    if device.type == "cuda":
        sel = sel.pin_memory().to(device, non_blocking=True)
    return StackOutput(*(x.index_select(0, sel) for x in maps))


def place_poses(out: list, result: DecodeResult, group: LetterboxGroup, sizes: Sequence[tuple[int, int]],
                skeleton: Skeleton) -> None:
    """Writes the group's :class:`ImagePoses` into ``out`` at its images' positions.

    Args:
        out: ``B`` slots, one per image of the batch.
        result: The decoder's result on :func:`group_maps` of the group.
        group: The group.
        sizes: ``(width, height)`` of each original image of the batch.
        skeleton: The joint set.
    """
    for j, b in enumerate(group.indices):
        w, h = sizes[b]
        out[b] = ImagePoses(people=tuple(result.people(j)), width=int(w), height=int(h), skeleton=skeleton)

"""Annotated frames of a real dataset: the interface every loader implements.

A loader (CMU Panoptic, Human3.6M) indexes its annotation files once and
then serves frames by position. A :class:`Frame` carries the ground truth as
a :class:`~ssmp3d.data.scene.Scene` in the frame's own image pixels and
camera-frame millimetres, the path of its image and the group it is reported
under (Panoptic scenario, Human3.6M action). Images are read lazily by
:meth:`FrameDataset.image`, so a dataset of unreadable images can still be
indexed, and a bad image surfaces as a :class:`DatasetError` naming the file
for the caller to count and report (see :func:`read_image`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..skeleton import Skeleton
from .scene import Scene

__all__ = ["DatasetError", "Frame", "FrameDataset", "read_image"]


class DatasetError(ValueError):
    """A dataset file is missing, truncated or malformed; the message names the file."""


@dataclass(frozen=True, eq=False)
class Frame:
    """One annotated image.

    Attributes:
        key: Unique, stable id (e.g. ``"160224_haggling1/00_16/00000123"``).
        image_path: The image file (not read until :meth:`FrameDataset.image`).
        scene: Ground truth: camera (intrinsics, distortion, image size),
            ``joints3d [N, K, 3]`` camera-frame mm, ``joints2d [N, K, 2]``
            image pixels, ``in_image``, ``visible``, ``valid3d [N, K]``.
        group: Reporting group: the scenario (``"haggling"``) or action
            (``"Directions"``).
    """

    key: str
    image_path: Path
    scene: Scene
    group: str


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Reads an image file as ``[H, W, 3]`` uint8 BGR.

    Raises:
        DatasetError: missing, unreadable or undecodable file (named).
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such image file")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise DatasetError(f"{path}: not a decodable image")
    return image


class FrameDataset(Sequence):
    """Base class of the real-data loaders: a sequence of :class:`Frame`.

    Subclasses set :attr:`name`, :attr:`skeleton` and :attr:`frames` (the
    index, built at construction) and may override :meth:`image`.

    Attributes:
        name: Dataset name (``"panoptic"``, ``"h36m"``).
        skeleton: Joint set of every frame's scene.
        frames: The index: a sequence of :class:`Frame`.
        group_label: What a frame's ``group`` is, for reports (``"scenario"``,
            ``"action"``).
        eval_joints: Joint indices the dataset's protocol scores (``None``:
            all), for :class:`ssmp3d.eval.EvalConfig`.
    """

    name: str = "frames"
    skeleton: Skeleton
    frames: Sequence[Frame] = ()
    group_label: str = "group"
    eval_joints: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i):  # Sequence protocol; a slice gives a list of frames
        return self.frames[i]

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames)

    def frame(self, i: int) -> Frame:
        """Frame ``i`` (``IndexError`` outside ``[-len, len)``)."""
        return self.frames[i]

    def image(self, i: int) -> np.ndarray:
        """The image of frame ``i``, ``[H, W, 3]`` uint8 BGR; raises :class:`DatasetError` naming the file."""
        return read_image(self.frames[i].image_path)

    def groups(self) -> list[str]:
        """The reporting groups present, in order of first appearance."""
        return list(dict.fromkeys(f.group for f in self.frames))

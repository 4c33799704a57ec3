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

__all__ = ["MAX_IMAGE_BYTES", "MAX_INDEX", "MAX_RESOLUTION", "DatasetError", "Frame", "FrameDataset",
           "image_signature", "read_image"]


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


MAX_RESOLUTION = 1 << 16
"""Largest image width or height an annotation or calibration file may give (pixels)."""
MAX_INDEX = int(np.iinfo(np.int64).max)
"""Largest id, frame number or index an annotation file may hold (they are stored as int64)."""
MAX_IMAGE_BYTES = 1 << 30
"""Largest image file :func:`read_image` reads (1 GiB); larger files are refused, not loaded."""

_IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
                     (b"GIF89a", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def image_signature(path: str | os.PathLike) -> str | None:
    """The still-image format a file starts with (``"PNG"``, ``"JPEG"``, ``"GIF"``,
    ``"BMP"``, ``"TIFF"``, ``"WEBP"``), or None (not one of these, or unreadable).
    Tells an image renamed ``.mp4`` from a video, which OpenCV would read as one frame."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((name for magic, name in _IMAGE_SIGNATURES if head.startswith(magic)), None)


def _opencv_reason(exc: Exception) -> str:
    err = str(getattr(exc, "err", "") or "").strip() or str(exc).strip().splitlines()[-1]
    if "CV_IO_MAX_IMAGE_PIXELS" in err:
        return "image too large to decode (over OpenCV's 2^30-pixel limit)"
    return f"not a decodable image (OpenCV: {err})"


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Reads an image file as ``[H, W, 3]`` uint8 BGR.

    Raises:
        DatasetError: missing, unreadable (permissions, I/O), larger than
            :data:`MAX_IMAGE_BYTES`, undecodable, or too large to decode
            (a header claiming more pixels than OpenCV allows); one line
            naming the file.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such image file")
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise DatasetError(f"{path}: file of {size} bytes, larger than an image may be "
                               f"({MAX_IMAGE_BYTES} bytes)")
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    except MemoryError:
        raise DatasetError(f"{path}: not enough memory to read the file ({size} bytes)") from None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as exc:
        raise DatasetError(f"{path}: {_opencv_reason(exc)}") from None
    except MemoryError:
        raise DatasetError(f"{path}: not enough memory to decode the image") from None
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

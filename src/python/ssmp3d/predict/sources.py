"""What ``ssmp3d predict`` reads: an image file, a folder of images, or a video.

* A file with a video extension (:data:`VIDEO_EXTENSIONS`) is a video, read
  frame by frame with ``cv2.VideoCapture``.
* Any other file is an image (read with :func:`ssmp3d.data.frames.read_image`).
* A folder holds images: every regular, non-hidden file directly inside it,
  in sorted name order. Files that do not decode are reported, not skipped
  silently.

Frames come out as BGR (OpenCV's order); the predictor is told so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.frames import image_signature

__all__ = ["VIDEO_EXTENSIONS", "InputSpec", "Video", "describe_input", "kept_count", "output_names"]

#: File extensions read as videos (case-insensitive).
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True)
class InputSpec:
    """A resolved input.

    Attributes:
        path: The input as given.
        kind: ``"image"``, ``"folder"`` or ``"video"``.
        images: The image files, in order (one for ``"image"``, none for ``"video"``).
    """

    path: Path
    kind: str
    images: tuple[Path, ...] = ()


def describe_input(path: str | os.PathLike) -> InputSpec:
    """Resolves an input path into its kind and image list.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an empty folder (no regular non-hidden file) or one that cannot be listed.
    """
    path = Path(path)
    if path.is_dir():
        try:
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        except OSError as exc:
            raise ValueError(f"{path}: cannot list the folder ({exc.strerror or exc})") from None
        if not files:
            raise ValueError(f"{path}: empty folder (expected image files)")
        return InputSpec(path, "folder", tuple(files))
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.suffix.lower() in VIDEO_EXTENSIONS:
        return InputSpec(path, "video")
    return InputSpec(path, "image", (path,))


def kept_count(n: int, every: int = 1, max_frames: int | None = None) -> int:
    """How many of ``n`` items are kept: every ``every``-th (``0, every, ...``), at most ``max_frames``."""
    kept = -(-n // every)
    return kept if max_frames is None else min(kept, max_frames)


def output_names(paths: Sequence[Path], suffix: str) -> list[str]:
    """File names for per-image outputs: ``<stem><suffix>``, or ``<name><suffix>``
    for stems that occur more than once (``a.jpg`` and ``a.png``)."""
    stems = [p.stem for p in paths]
    return [f"{p.stem if stems.count(p.stem) == 1 else p.name}{suffix}" for p in paths]


class Video:
    """A video file opened for reading (a context manager).

    Attributes:
        path: The file.
        fps: Frames per second the file declares (25 when it declares none).
        width, height: Frame size in pixels.
        frame_count: Frames the file declares (an estimate for some codecs; 0 if unknown).

    Raises:
        ValueError: the file cannot be opened, holds no readable frame, or is
            a still image with a video extension (one line naming it).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        import cv2

        self.path = Path(path)
        still = image_signature(self.path)
        if still is not None:
            raise ValueError(f"{self.path}: a {still} image named like a video (rename it to read it as an image)")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise ValueError(f"{self.path}: cannot open the video")
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise ValueError(f"{self.path}: the video holds no readable frame")
        self._first: np.ndarray | None = first
        fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self.fps = fps if fps > 0 and np.isfinite(fps) else 25.0
        self.height, self.width = first.shape[:2]
        self.frame_count = max(int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)

    def __enter__(self) -> "Video":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Releases the file."""
        self._cap.release()

    def frames(self, rank: int = 0, world_size: int = 1, *, every: int = 1,
               max_frames: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yields ``(frame index, [H, W, 3] uint8 BGR)`` of this process's kept frames, in order.

        The kept frames are ``0, every, 2 every, ...`` (at most ``max_frames``
        of them); kept frame ``k`` (frame ``k * every``) belongs to rank
        ``k % world_size``. Other frames are skipped without being converted.
        Call once per :class:`Video`.
        """
        if self._first is None:
            raise ValueError(f"{self.path}: frames() can be called once per opened video")
        first, self._first = self._first, None
        f = 0
        while True:
            k, r = divmod(f, every)
            if max_frames is not None and k >= max_frames:
                return
            mine = r == 0 and k % world_size == rank
            if f == 0:
                if mine:
                    yield 0, first
            elif mine:
                ok, frame = self._cap.read()
                if not ok or frame is None:
                    return
                yield f, frame
            elif not self._cap.grab():
                return
            f += 1

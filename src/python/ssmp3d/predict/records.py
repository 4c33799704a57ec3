"""One record per item of a prediction job: a prediction, or a bad item that says why.

An item is an image file of a folder or a kept frame of a video. Whatever
goes wrong with one item (a file that cannot be read or decoded, an image
the network cannot take, an overlay or 3D view that cannot be written)
becomes a bad-item record ``{"index", "source", "frame", "error"}`` with a
one-line ``error`` naming the file (and the frame), reported through
``on_bad``; the job goes on with the next item. A batch that fails is
retried one item at a time, so one bad image does not cost its neighbours.
Only ``KeyboardInterrupt`` (and other ``BaseException``) stops the job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from pathlib import Path

import numpy as np

from ..data.frames import DatasetError, read_image
from .draw import draw_overlay, pose3d_image
from .predictor import Predictor
from .sources import Video
from .types import ImagePoses

__all__ = ["bad_record", "describe_error", "image_records", "predict_each", "video_records"]


def describe_error(exc: BaseException) -> str:
    """``"<type>: <first line of the message>"`` (just the type when the message is empty)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def bad_record(index: int, source: str, frame: int | None, error: str) -> dict:
    """The record of a bad item (kept out of ``predictions.jsonl``, listed in the summary)."""
    return {"index": index, "source": source, "frame": frame, "error": error}


def predict_each(predictor: Predictor, images: Sequence[np.ndarray]) -> list[ImagePoses | str]:
    """Poses of a batch of BGR images; when the batch fails, each image alone.

    Returns:
        Per image its :class:`ImagePoses`, or a one-line reason it failed.
    """
    if not images:
        return []
    try:
        return list(predictor.predict_batch(list(images), color="bgr"))
    except Exception as exc:  # noqa: BLE001 (one image must not end the job)
        if len(images) == 1:
            return [f"cannot predict ({describe_error(exc)})"]
    out: list[ImagePoses | str] = []
    for image in images:
        out.extend(predict_each(predictor, [image]))
    return out


def _write_image(path: Path, image: np.ndarray, what: str) -> str | None:
    import cv2

    try:
        if cv2.imwrite(str(path), image):
            return None
        return f"{what} {path} not written (OpenCV refused it)"
    except Exception as exc:  # noqa: BLE001
        return f"{what} {path} not written ({describe_error(exc)})"


def _views(poses: ImagePoses, image: np.ndarray | None, overlay: Path | None, plot: Path | None,
           plot_size: int) -> str | None:
    """Writes the optional overlay and 3D view of one item; the first failure, or None."""
    if overlay is not None:
        try:
            drawn = draw_overlay(image, poses, color="bgr")
        except Exception as exc:  # noqa: BLE001
            return f"overlay not drawn ({describe_error(exc)})"
        error = _write_image(overlay, drawn, "overlay")
        if error:
            return error
    if plot is not None:
        try:
            view = pose3d_image(poses, plot_size)[..., ::-1]
        except Exception as exc:  # noqa: BLE001
            return f"3D view not drawn ({describe_error(exc)})"
        return _write_image(plot, view, "3D view")
    return None


def _read(path: Path) -> np.ndarray | str:
    try:
        return read_image(path)
    except DatasetError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001
        return f"{path}: cannot read the image ({describe_error(exc)})"


def image_records(predictor: Predictor, items: Sequence[tuple[int, Path, str]], out_dir: Path, *, overlay: bool,
                  plot3d: bool, plot_size: int, on_bad: Callable[[str, str], None],
                  progress: Callable[[int], None]) -> Iterator[dict]:
    """Records of ``(index, path, output stem)`` image items, in order, batched through the predictor."""
    items = list(items)
    for start in range(0, len(items), predictor.batch_size):
        batch = items[start:start + predictor.batch_size]
        images = [_read(path) for _, path, _ in batch]
        good = [j for j, im in enumerate(images) if isinstance(im, np.ndarray)]
        results = dict(zip(good, predict_each(predictor, [images[j] for j in good])))
        for j, (i, path, stem) in enumerate(batch):
            image, result = images[j], results.get(j)
            if isinstance(image, str):
                error = image
            elif isinstance(result, str):
                error = f"{path}: {result}"
            else:
                poses = ImagePoses(result.people, result.width, result.height, result.skeleton, source=str(path))
                error = _views(poses, image, out_dir / "overlay" / f"{stem}.jpg" if overlay else None,
                               out_dir / "plot3d" / f"{stem}.png" if plot3d else None, plot_size)
                if error is None:
                    yield {"index": i, **poses.to_dict()}
                    continue
                error = f"{path}: {error}"
            on_bad(str(path), error)
            yield bad_record(i, str(path), None, error)
        progress(len(batch))


def video_records(predictor: Predictor, video: Video, frames: Iterator[tuple[int, np.ndarray]], every: int,
                  out_dir: Path, *, plot3d: bool, plot_size: int, on_bad: Callable[[str, str], None],
                  progress: Callable[[int], None]) -> Iterator[dict]:
    """Records of a video's ``(frame index, BGR frame)`` items; a record's ``index`` is ``frame // every``."""
    source = str(video.path)
    while True:
        batch = list(islice(frames, predictor.batch_size))
        if not batch:
            return
        for (f, _), result in zip(batch, predict_each(predictor, [im for _, im in batch])):
            if isinstance(result, str):
                error = f"{source}: frame {f}: {result}"
            else:
                poses = ImagePoses(result.people, result.width, result.height, result.skeleton, source=source,
                                   frame=f)
                plot = out_dir / "plot3d" / f"{video.path.stem}_{f:06d}.png" if plot3d else None
                error = _views(poses, None, None, plot, plot_size)
                if error is None:
                    yield {"index": f // every, **poses.to_dict()}
                    continue
                error = f"{source}: frame {f}: {error}"
            on_bad(source, error)
            yield bad_record(f // every, source, f, error)
        progress(len(batch))

"""The job behind ``ssmp3d predict``: an image, a folder or a video to files of predictions.

Writes into ``out_dir``:

* ``predictions.jsonl``: one line per image or frame, in input order:
  ``{"index": i, "source", "frame", "width", "height", "skeleton", "people": [...]}``
  (:meth:`~ssmp3d.predict.ImagePoses.to_dict`);
* with ``overlay``: ``overlay/<stem>.jpg`` per image, or
  ``<video stem>_overlay.mp4`` (mp4v) for a video;
* with ``plot3d``: ``plot3d/<stem>.png`` per image (``<video stem>_<frame>.png``
  per video frame), :func:`~ssmp3d.predict.draw.pose3d_image`;
* ``summary.json``: what :func:`run_predict` returns.

Bad images of a folder are reported (``on_bad`` and the summary's
``"bad"``) and the others processed; when nothing could be read the job
fails with a ValueError naming the input. Several processes share the work
as :mod:`ssmp3d.predict.shard` describes; the overlay video is written by
rank 0 after the merge, from the merged predictions and a second read of
the video.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.frames import DatasetError, read_image
from .draw import draw_overlay, have_matplotlib, pose3d_image
from .predictor import Predictor
from .shard import Shard, barrier, merge_parts, part_path, take, write_part
from .sources import Video, describe_input, output_names
from .types import ImagePoses

__all__ = ["PredictOptions", "run_predict"]


@dataclass(frozen=True)
class PredictOptions:
    """Optional outputs of a prediction job.

    Attributes:
        overlay: Write 2D overlays (images) or an overlay video.
        plot3d: Write a 3D view per image or frame.
        plot_size: Side of the 3D views in pixels.
    """

    overlay: bool = False
    plot3d: bool = False
    plot_size: int = 400


def _plot(poses: ImagePoses, path: Path, size: int) -> None:
    import cv2

    cv2.imwrite(str(path), pose3d_image(poses, size)[..., ::-1])


def _image_records(predictor: Predictor, paths: list[tuple[int, Path, str]], out_dir: Path, options: PredictOptions,
                   on_bad: Callable[[str, str], None], progress: Callable[[int], None]) -> Iterator[dict]:
    """Records for ``(index, path, output stem)`` items, batched through the predictor."""
    import cv2

    batch: list[tuple[int, Path, str, np.ndarray | str]] = []  # image, or the error of a bad file

    def flush():
        good = [b[3] for b in batch if isinstance(b[3], np.ndarray)]
        results = iter(predictor.predict_batch(good, color="bgr") if good else [])
        for i, path, stem, image in batch:  # records stay in input order, bad files included
            if isinstance(image, str):
                yield {"index": i, "source": str(path), "frame": None, "error": image}
                continue
            r = next(results)
            poses = ImagePoses(r.people, r.width, r.height, r.skeleton, source=str(path))
            if options.overlay:
                cv2.imwrite(str(out_dir / "overlay" / f"{stem}.jpg"), draw_overlay(image, poses, color="bgr"))
            if options.plot3d:
                _plot(poses, out_dir / "plot3d" / f"{stem}.png", options.plot_size)
            yield {"index": i, **poses.to_dict()}
        progress(len(batch))

    for i, path, stem in paths:
        try:
            image: np.ndarray | str = read_image(path)
        except DatasetError as exc:
            on_bad(str(path), str(exc))
            image = str(exc)
        batch.append((i, path, stem, image))
        if len(batch) == predictor.batch_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def _video_records(predictor: Predictor, video: Video, shard: Shard, out_dir: Path, options: PredictOptions,
                   progress: Callable[[int], None]) -> Iterator[dict]:
    frames = video.frames(shard.rank, shard.world_size)
    while True:
        batch = [item for _, item in zip(range(predictor.batch_size), frames)]
        if not batch:
            return
        results = predictor.predict_batch([f for _, f in batch], color="bgr")
        for (f, _), poses in zip(batch, results):
            poses = ImagePoses(poses.people, poses.width, poses.height, poses.skeleton, source=str(video.path),
                               frame=f)
            if options.plot3d:
                _plot(poses, out_dir / "plot3d" / f"{video.path.stem}_{f:06d}.png", options.plot_size)
            yield {"index": f, **poses.to_dict()}
        progress(len(batch))


def write_overlay_video(video_path: Path, predictions: Path, dst: Path, predictor: Predictor) -> int:
    """Draws the merged predictions on a second read of the video; returns the frames written."""
    import cv2

    with Video(video_path) as video, open(predictions, encoding="utf-8") as lines:
        writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), video.fps, (video.width, video.height))
        if not writer.isOpened():
            raise ValueError(f"{dst}: cannot write an mp4v video here")
        n = 0
        try:
            for (f, frame), line in zip(video.frames(), lines):
                poses = ImagePoses.from_dict(json.loads(line), predictor.skeleton)
                writer.write(draw_overlay(frame, poses, color="bgr"))
                n += 1
        finally:
            writer.release()
    return n


def run_predict(path: str | os.PathLike, out_dir: str | os.PathLike, predictor: Predictor, *,
                options: PredictOptions = PredictOptions(), shard: Shard = Shard(),
                on_bad: Callable[[str, str], None] = lambda source, error: None,
                progress: Callable[[int], None] = lambda n: None,
                on_total: Callable[[int], None] = lambda n: None) -> dict:
    """Predicts every image of an image file, a folder or a video (module notes).

    Args:
        path: An image file, a folder of images, or a video file.
        out_dir: Output folder (created).
        predictor: The network and decoder.
        options: Optional outputs.
        shard: This process's share (``Shard()``: all of it).
        on_bad: Called with ``(source, message)`` for each unreadable image.
        progress: Called with the number of items done after each batch.
        on_total: Called once with this process's item count (an estimate for videos).

    Returns:
        The summary (also written to ``summary.json`` by rank 0): ``input``,
        ``kind``, ``frames`` (predicted), ``people``, ``bad`` (list of
        ``{"source", "error"}``), file paths, the checkpoint, device,
        backend, skeleton and joint names, ``world_size``, ``seconds``,
        ``frames_per_second``. Ranks other than 0 return only their part's counts.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an empty folder, a video that cannot be opened, or no
            readable image at all (the message names the input).
    """
    start = time.perf_counter()
    spec = describe_input(path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, wanted in (("overlay", options.overlay and spec.kind != "video"), ("plot3d", options.plot3d)):
        if wanted:
            (out / name).mkdir(exist_ok=True)
    part = part_path(out, shard)
    if spec.kind == "video":
        with Video(spec.path) as video:
            on_total(-(-video.frame_count // shard.world_size) if video.frame_count else 0)
            count = write_part(part, _video_records(predictor, video, shard, out, options, progress))
    else:
        names = output_names(list(spec.images), "")
        items = take([(i, p, names[i]) for i, p in enumerate(spec.images)], shard)
        on_total(len(items))
        count = write_part(part, _image_records(predictor, items, out, options, on_bad, progress))
    barrier(shard)
    if shard.rank != 0:
        return {"rank": shard.rank, "records": count}
    predictions = out / "predictions.jsonl"
    written, bad = merge_parts(out, shard.world_size, predictions)
    if written == 0:
        what = "image" if spec.kind == "image" else f"{len(bad)} files"
        detail = bad[0]["error"] if bad else "no frame"
        raise ValueError(f"{spec.path}: nothing to predict, no readable {what} ({detail})")
    people = sum(len(json.loads(line)["people"]) for line in predictions.read_text(encoding="utf-8").splitlines())
    overlay = None
    if options.overlay:
        if spec.kind == "video":
            overlay = out / f"{spec.path.stem}_overlay.mp4"
            write_overlay_video(spec.path, predictions, overlay, predictor)
        else:
            overlay = out / "overlay"
    seconds = time.perf_counter() - start
    summary = {
        "input": str(spec.path), "kind": spec.kind, "frames": written, "people": people,
        "bad": [{"source": b["source"], "error": b["error"]} for b in bad],
        "predictions": str(predictions), "overlay": None if overlay is None else str(overlay),
        "plot3d": str(out / "plot3d") if options.plot3d else None,
        "plot3d_renderer": ("matplotlib" if have_matplotlib() else "opencv") if options.plot3d else None,
        "checkpoint": str(predictor.checkpoint_path), "step": predictor.step, "device": str(predictor.device),
        "backend": predictor.backend, "decode_config": predictor.decode_config.to_dict(),
        "batch_size": predictor.batch_size, "input_size": predictor.input_size, "skeleton": predictor.skeleton.name, "joints": list(predictor.skeleton.joints),
        "world_size": shard.world_size, "seconds": seconds, "frames_per_second": written / seconds,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary

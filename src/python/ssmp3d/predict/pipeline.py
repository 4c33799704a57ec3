"""The job behind ``ssmp3d predict``: an image, a folder or a video to files of predictions.

Writes into ``out_dir``:

* ``predictions.jsonl``: one line per image or frame, in input order:
  ``{"index": i, "source", "frame", "width", "height", "skeleton", "people": [...]}``
  (:meth:`~ssmp3d.predict.ImagePoses.to_dict`; ``index`` numbers the kept items);
* with ``overlay``: ``overlay/<stem>.jpg`` per image, or
  ``<video stem>_overlay.mp4`` (mp4v) for a video;
* with ``plot3d``: ``plot3d/<stem>.png`` per image (``<video stem>_<frame>.png``
  per video frame), :func:`~ssmp3d.predict.draw.pose3d_image`;
* ``summary.json``: what :func:`run_predict` returns.

Items: every image of a folder (sorted) or frame of a video, or with
``every=N`` every N-th of them (``0, N, 2N, ...``), at most ``max_frames``
(the first ones). An item that fails (unreadable file, image the network
cannot take, view that cannot be written) is a bad item (:mod:`.records`),
reported through ``on_bad`` and in the summary's ``"bad"``; the others are
processed. When nothing could be predicted the job fails with a ValueError
naming the input.

Stopping: a ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM under
:func:`~ssmp3d.predict.interrupt.stop_on_signals`) while predicting ends the
prediction; ``predictions.jsonl`` and ``summary.json`` are then written for
the items done (``"interrupted": "SIGINT"`` or ``"SIGTERM"`` in the summary)
and :class:`~ssmp3d.predict.interrupt.Interrupted` is raised with that
summary. Several processes share the work as :mod:`ssmp3d.predict.shard`
describes; the overlay video is written by rank 0 after the merge, from the
merged predictions and a second read of the video.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .draw import draw_overlay, have_matplotlib
from .interrupt import Interrupted, deferred_signals, signal_name
from .predictor import Predictor
from .records import image_records, video_records
from .shard import Shard, barrier, merge_parts, part_path, take, write_part
from .sources import Video, describe_input, kept_count, output_names
from .types import ImagePoses

__all__ = ["PredictOptions", "check_output", "prepare_output", "run_predict", "write_overlay_video"]


@dataclass(frozen=True)
class PredictOptions:
    """Which items a prediction job takes and what it writes besides the predictions.

    Attributes:
        overlay: Write 2D overlays (images) or an overlay video.
        plot3d: Write a 3D view per image or frame.
        plot_size: Side of the 3D views in pixels.
        every: Keep every ``every``-th image of a folder or frame of a video (1: all).
        max_frames: Keep at most this many images or frames (the first ones), or None for all.

    Raises:
        ValueError: ``plot_size``, ``every`` or ``max_frames`` is not an int >= 1 (named).
    """

    overlay: bool = False
    plot3d: bool = False
    plot_size: int = 400
    every: int = 1
    max_frames: int | None = None

    def __post_init__(self) -> None:
        for name in ("plot_size", "every", "max_frames"):
            value = getattr(self, name)
            if name == "max_frames" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        above = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        raise ValueError(f"{folder}: cannot make the output folder ({above} is a file)") from None
    except OSError as exc:
        raise ValueError(f"{folder}: cannot make the output folder ({exc.strerror or exc})") from None


def check_output(out_dir: str | os.PathLike) -> Path:
    """Checks, without making anything, that ``out_dir`` can be the output folder.

    Raises:
        ValueError: ``out_dir`` or a path above it is an existing file (one line naming it).
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a folder")
    above = next((p for p in out.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise ValueError(f"{out}: cannot make the output folder ({above} is a file)")
    return out


def prepare_output(out_dir: str | os.PathLike) -> Path:
    """Makes the output folder (and its parents) after :func:`check_output`.

    Raises:
        ValueError: ``out_dir`` or a path above it is a file, or the folder
            cannot be made (one line naming it).
    """
    out = check_output(out_dir)
    _make_folder(out)
    return out


def write_overlay_video(video_path: Path, predictions: Path, dst: Path, *, every: int = 1,
                        max_frames: int | None = None) -> int:
    """Draws the merged predictions on a second read of the video's kept frames.

    Frames without a prediction (bad items) are written as they are. The
    video plays at the source's rate divided by ``every``. Returns the
    frames written; a stopped run leaves a playable shorter video.
    """
    import cv2

    with Video(video_path) as video, open(predictions, encoding="utf-8") as lines:
        writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), video.fps / every,
                                 (video.width, video.height))
        if not writer.isOpened():
            raise ValueError(f"{dst}: cannot write an mp4v video here")
        pending = (json.loads(line) for line in lines)
        record = next(pending, None)
        n = 0
        try:
            for f, frame in video.frames(every=every, max_frames=max_frames):
                if record is not None and record["frame"] == f:
                    frame = draw_overlay(frame, ImagePoses.from_dict(record), color="bgr")
                    record = next(pending, None)
                writer.write(frame)
                n += 1
        finally:
            writer.release()
    return n


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run_predict(path: str | os.PathLike, out_dir: str | os.PathLike, predictor: Predictor, *,
                options: PredictOptions = PredictOptions(), shard: Shard = Shard(),
                on_bad: Callable[[str, str], None] = lambda source, error: None,
                progress: Callable[[int], None] = lambda n: None,
                on_total: Callable[[int], None] = lambda n: None) -> dict:
    """Predicts the kept images of an image file, a folder or a video (module notes).

    Args:
        path: An image file, a folder of images, or a video file.
        out_dir: Output folder (created).
        predictor: The network and decoder.
        options: Items kept and optional outputs.
        shard: This process's share (``Shard()``: all of it).
        on_bad: Called with ``(source, message)`` for each bad item of a
            folder or video, as it happens (a single image that fails is the
            job's error instead).
        progress: Called with the number of items done after each batch.
        on_total: Called once with this process's item count (an estimate for videos).

    Returns:
        The summary (also written to ``summary.json`` by rank 0): ``input``,
        ``kind``, ``frames`` (predicted), ``people``, ``bad`` (list of
        ``{"source", "frame", "error"}``), ``interrupted`` (None, or the
        signal that stopped the job), ``every``, ``max_frames``, file paths,
        the checkpoint, device, backend, skeleton and joint names, ``threads``
        (``"adaptive"`` or the fixed count), ``batches_per_thread_count``, ``pipeline``,
        ``world_size``, ``seconds``, ``frames_per_second``. Ranks other than
        0 return only their part's counts.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an empty folder, a video that cannot be opened, an output
            folder that cannot be made, or no readable item at all (the
            message names the input).
        Interrupted: the job was stopped; its ``summary`` is what was written.
    """
    start = time.perf_counter()
    spec = describe_input(path)
    out = prepare_output(out_dir)
    for name, wanted in (("overlay", options.overlay and spec.kind != "video"), ("plot3d", options.plot3d)):
        if wanted:
            _make_folder(out / name)
    if spec.kind == "image":
        on_bad = lambda source, error: None  # noqa: E731 (the job's error names it)
    part = part_path(out, shard)
    stopped: KeyboardInterrupt | None = None
    views = {"plot3d": options.plot3d, "plot_size": options.plot_size, "on_bad": on_bad, "progress": progress}
    try:
        if spec.kind == "video":
            with Video(spec.path) as video:
                kept = kept_count(video.frame_count, options.every, options.max_frames) if video.frame_count else 0
                on_total(-(-kept // shard.world_size))
                frames = video.frames(shard.rank, shard.world_size, every=options.every,
                                      max_frames=options.max_frames)
                write_part(part, video_records(predictor, video, frames, options.every, out, **views))
        else:
            names = output_names(list(spec.images), "")
            kept = list(range(len(spec.images)))[::options.every][:options.max_frames]
            items = take([(k, spec.images[i], names[i]) for k, i in enumerate(kept)], shard)
            on_total(len(items))
            write_part(part, image_records(predictor, items, out, overlay=options.overlay, **views))
    except KeyboardInterrupt as exc:
        stopped = exc
    if stopped is None:
        barrier(shard)
    with deferred_signals() as received:
        if shard.rank != 0:
            records = len(part.read_text(encoding="utf-8").splitlines()) if part.is_file() else 0
            result = {"rank": shard.rank, "records": records}
        else:
            predictions = out / "predictions.jsonl"
            written, bad = merge_parts(out, shard.world_size, predictions, partial=stopped is not None)
    if received and stopped is None:
        stopped = Interrupted(received[0])
    if shard.rank != 0:
        if stopped is not None:
            raise Interrupted(signal_name(stopped), result) from None
        return result
    if written == 0 and stopped is None:
        what = "image" if spec.kind == "image" else f"{len(bad)} {'frames' if spec.kind == 'video' else 'files'}"
        detail = bad[0]["error"] if bad else "no frame"
        raise ValueError(f"{spec.path}: nothing to predict, no readable {what} ({detail})")
    overlay = None
    if options.overlay:
        overlay = out / (f"{spec.path.stem}_overlay.mp4" if spec.kind == "video" else "overlay")
        if spec.kind == "video" and stopped is None:
            try:
                write_overlay_video(spec.path, predictions, overlay, every=options.every,
                                    max_frames=options.max_frames)
            except KeyboardInterrupt as exc:
                stopped = exc  # the video written so far is kept, shorter
        if not overlay.exists():
            overlay = None
    with deferred_signals():  # a signal now would only leave summary.json unwritten
        summary = _summary(spec, out, predictions, predictor, options, shard, written, bad, overlay,
                           None if stopped is None else signal_name(stopped), time.perf_counter() - start)
        _write_json(out / "summary.json", summary)
    if stopped is not None:
        raise Interrupted(signal_name(stopped), summary) from None
    return summary


def _count_batches(predictor: Predictor) -> dict[str, int]:
    """How many batches ran at each torch thread count (``{"2": 30, "1": 4}``)."""
    counts: dict[str, int] = {}
    for n, _ in predictor.thread_tuner.history:
        counts[str(n)] = counts.get(str(n), 0) + 1
    return counts


def _summary(spec, out: Path, predictions: Path, predictor: Predictor, options: PredictOptions, shard: Shard,
             written: int, bad: list[dict], overlay: Path | None, interrupted: str | None, seconds: float) -> dict:
    with open(predictions, encoding="utf-8") as f:
        people = sum(len(json.loads(line)["people"]) for line in f)
    return {
        "input": str(spec.path), "kind": spec.kind, "frames": written, "people": people,
        "bad": [{"source": b["source"], "frame": b.get("frame"), "error": b["error"]} for b in bad],
        "interrupted": interrupted, "every": options.every, "max_frames": options.max_frames,
        "predictions": str(predictions), "overlay": None if overlay is None else str(overlay),
        "plot3d": str(out / "plot3d") if options.plot3d else None,
        "plot3d_renderer": ("matplotlib" if have_matplotlib() else "opencv") if options.plot3d else None,
        "checkpoint": str(predictor.checkpoint_path), "step": predictor.step, "device": str(predictor.device),
        "backend": predictor.backend, "decode_config": predictor.decode_config.to_dict(),
        "batch_size": predictor.batch_size, "input_size": predictor.input_size, "skeleton": predictor.skeleton.name,
        "threads": "adaptive" if predictor.thread_tuner.adaptive else predictor.thread_tuner.fixed,
        "batches_per_thread_count": _count_batches(predictor), "pipeline": predictor.pipeline,
        "joints": list(predictor.skeleton.joints), "world_size": shard.world_size, "seconds": seconds,
        "frames_per_second": written / seconds if seconds > 0 else 0.0,
    }

"""Batches through the network and the decoder, in line or pipelined.

:func:`run_batches` drives a :class:`~ssmp3d.predict.Predictor` over a
sequence of image batches:

* **in line** (``pipeline=False``, or a CUDA device with the ``cpu`` /
  ``python`` decoder): preprocess, network, decode, one batch after the
  other; the ``cpu`` decoder gets the network's thread count;
* **pipelined on the CPU** (``pipeline=True``): while the network runs on
  batch ``i + 1`` in the calling thread, batch ``i`` is decoded in one
  worker thread (the C++ decoder releases the GIL; one decoder thread, the
  network keeps the others). While the thread tuner runs below its ceiling
  (another process holds cores), the batch is decoded in line instead: a
  third busy thread on short cores cost 40 % of the throughput in
  ``benchmarks/test_bench_predictor.py``.

The pipelined ``cuda`` decoder has its own stages
(:mod:`ssmp3d.predict.stream_cuda`) on the same driver, :func:`in_order`:
the caller's loop makes item ``i + 1`` while a worker thread finishes item
``i``; results come back in order, and an error in finishing an item is
raised when that item's results are due (the items before it are yielded
first).

The network's threads follow the predictor's
:class:`~ssmp3d.predict.threads.ThreadTuner` (timed around preprocessing
and the network).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from .types import ImagePoses

__all__ = ["batch_sizes", "in_order", "network_outputs", "run_batches"]

T = TypeVar("T")
R = TypeVar("R")


def batch_sizes(images: Sequence[np.ndarray]) -> list[tuple[int, int]]:
    """``(width, height)`` of each ``[H, W, 3]`` image."""
    return [(im.shape[1], im.shape[0]) for im in images]


def in_order(items: Iterable[T], finish: Callable[[T], R], *,
             in_line: Callable[[], bool] | None = None) -> Iterator[R]:
    """``finish(item)`` of each item, in order, one item behind the producer.

    While the caller's thread makes item ``i + 1`` (by advancing ``items``),
    ``finish(item i)`` runs in one worker thread. ``finish``'s error on an
    item is raised when that item's result is due, after the results of the
    items before it. When the generator is closed early, an item not started
    is cancelled and one running is waited for.

    Args:
        items: The work items, made lazily (e.g. network outputs).
        finish: The second stage of an item (e.g. its decode).
        in_line: Checked after each item is made; True runs ``finish`` of
            that item in the caller's thread (after the pending result).

    Yields:
        ``finish(item)`` for each item.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssmp3d-decode") as pool:
        pending: Future | None = None
        try:
            for item in items:
                if in_line is not None and in_line():
                    if pending is not None:
                        done, pending = pending, None
                        yield done.result()
                    yield finish(item)
                    continue
                done, pending = pending, pool.submit(finish, item)
                if done is not None:
                    yield done.result()
            if pending is not None:
                done, pending = pending, None
                yield done.result()
        finally:
            if pending is not None:
                pending.cancel()


def network_outputs(predictor, batches: Iterable[Sequence[np.ndarray]], color: str,
                    prepare: Callable[[Sequence[np.ndarray], str], tuple]) -> Iterator[tuple]:
    """Per batch ``(maps, affines, sizes)``: the network's share (``prepare``, then the network)
    timed by the predictor's thread tuner.

    Args:
        predictor: A :class:`~ssmp3d.predict.Predictor`.
        batches: Lists of ``[H, W, 3]`` uint8 images.
        color: Their channel order (``"rgb"`` or ``"bgr"``).
        prepare: ``(images, color) -> (inputs, affines)``: the predictor's preprocessing, or
            the CUDA stages' upload.
    """
    tuner = predictor.thread_tuner
    for images in batches:
        tuner.begin()
        inputs, affines = prepare(images, color)
        maps = predictor.infer(inputs)
        tuner.end(len(images))
        yield maps, affines, batch_sizes(images)


def run_batches(predictor, batches: Iterable[Sequence[np.ndarray]], color: str, *,
                pipeline: bool) -> Iterator[list[ImagePoses]]:
    """The poses of each batch, in order.

    Args:
        predictor: A :class:`~ssmp3d.predict.Predictor`.
        batches: Lists of ``[H, W, 3]`` uint8 images (at most ``batch_size`` each).
        color: Their channel order (``"rgb"`` or ``"bgr"``).
        pipeline: Decode batch ``i`` in a worker thread while the network runs on ``i + 1``
            (CPU devices only; CUDA devices decode in line here).

    Yields:
        One list of :class:`ImagePoses` per batch.
    """
    tuner = predictor.thread_tuner
    outputs = network_outputs(predictor, batches, color, predictor.preprocess)
    if not pipeline or predictor.device.type != "cpu":
        for maps, affines, sizes in outputs:
            yield predictor.decode(maps, affines, sizes, num_threads=tuner.threads)
        return
    yield from in_order(outputs, lambda item: predictor.decode(*item, num_threads=1),
                        in_line=lambda: tuner.threads < tuner.max_threads)  # cores are short: no decode thread

"""Batches through the network and the decoder, in line or pipelined.

:func:`run_batches` drives a :class:`~ssmp3d.predict.Predictor` over a
sequence of image batches:

* **in line** (``pipeline=False``): preprocess, network, decode, one batch
  after the other; the ``cpu`` decoder gets the network's thread count;
* **pipelined** (``pipeline=True``): while the network runs on batch
  ``i + 1`` in the calling thread, batch ``i`` is decoded in one worker
  thread (the C++ decoder releases the GIL; one decoder thread, the
  network keeps the others). Results come back in order; an error in a
  batch's decode is raised when that batch's results are due. While the
  thread tuner runs below its ceiling (another process holds cores), the
  batch is decoded in line instead: a third busy thread on short cores
  cost 40 % of the throughput in ``benchmarks/test_bench_predictor.py``.

The network's threads follow the predictor's
:class:`~ssmp3d.predict.threads.ThreadTuner` (timed around preprocessing
and the network). On CUDA devices the decode is not pipelined: the cuda
decoder already synchronises once per batch and keeps no host thread
busy for long.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from .types import ImagePoses

__all__ = ["run_batches"]


def _sizes(images: Sequence[np.ndarray]) -> list[tuple[int, int]]:
    return [(im.shape[1], im.shape[0]) for im in images]


def run_batches(predictor, batches: Iterable[Sequence[np.ndarray]], color: str, *,
                pipeline: bool) -> Iterator[list[ImagePoses]]:
    """The poses of each batch, in order.

    Args:
        predictor: A :class:`~ssmp3d.predict.Predictor`.
        batches: Lists of ``[H, W, 3]`` uint8 images (at most ``batch_size`` each).
        color: Their channel order (``"rgb"`` or ``"bgr"``).
        pipeline: Decode batch ``i`` in a worker thread while the network runs on ``i + 1``.

    Yields:
        One list of :class:`ImagePoses` per batch.
    """
    tuner = predictor.thread_tuner
    if not pipeline or predictor.device.type != "cpu":
        for images in batches:
            tuner.begin()
            inputs, affines = predictor.preprocess(images, color)
            maps = predictor.infer(inputs)
            tuner.end(len(images))
            yield predictor.decode(maps, affines, _sizes(images), num_threads=tuner.threads)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ssmp3d-decode") as pool:
        pending: Future | None = None
        try:
            for images in batches:
                tuner.begin()
                inputs, affines = predictor.preprocess(images, color)
                maps = predictor.infer(inputs)
                tuner.end(len(images))
                if tuner.threads < tuner.max_threads:  # cores are short: a decode thread would compete
                    if pending is not None:
                        done, pending = pending, None
                        yield done.result()
                    yield predictor.decode(maps, affines, _sizes(images), num_threads=1)
                    continue
                done, pending = pending, pool.submit(predictor.decode, maps, affines, _sizes(images), num_threads=1)
                if done is not None:
                    yield done.result()
            if pending is not None:
                done, pending = pending, None
                yield done.result()
        finally:
            if pending is not None:
                pending.cancel()

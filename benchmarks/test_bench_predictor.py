"""Predictor throughput under the thread rule, on a quiet machine and beside a busy process.

Cases: torch threads fixed at 1 and at every core, and the default
(adaptive, :mod:`ssmp3d.predict.threads`), pipelined and in line; each on a
quiet machine and with one competing CPU-bound process (a Python busy loop
in a subprocess, started before the case and stopped after it). The network
is the shipped small preset; inputs are 320 x 240 random images, batches of
8; two untimed batches first (the adaptive count settles there), then
``ROUNDS`` timed passes over ``BATCHES`` batches. Run alone, on an otherwise
idle machine::

    python -m pytest benchmarks/test_bench_predictor.py --benchmark-only -s

``extra_info`` holds frames per second and, for the adaptive rows, the
thread counts the tuner used.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from ssmp3d.predict import Predictor
from ssmp3d.predict.threads import available_cores

BATCH, BATCHES, ROUNDS = 8, 4, 5
CORES = available_cores()


@pytest.fixture
def load(request):
    """``"quiet"``, or ``"busy"``: one CPU-bound process runs during the case."""
    if request.param == "quiet":
        yield "quiet"
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield "busy"
    finally:
        proc.kill()
        proc.wait()


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8) for _ in range(BATCH * BATCHES)]


@pytest.fixture(scope="module")
def images():
    return _images()


@pytest.mark.parametrize("load", ["quiet", "busy"], indirect=True)
@pytest.mark.parametrize(("threads", "pipeline"), [(1, False), (CORES, False), (None, False), (None, True)],
                         ids=["1-thread", f"{CORES}-threads", "adaptive", "adaptive-pipelined"])
def test_predictor_frames_per_second(benchmark, images, load, threads, pipeline):
    old = torch.get_num_threads()
    torch.set_num_threads(CORES)
    try:
        p = Predictor(device="cpu", batch_size=BATCH, threads=threads, pipeline=pipeline)
        p.predict(images[: 2 * BATCH])  # warm-up; the adaptive count settles
        benchmark.pedantic(p.predict, args=(images,), rounds=ROUNDS, warmup_rounds=0)
    finally:
        torch.set_num_threads(old)
    fps = len(images) / benchmark.stats.stats.median
    counts = [n for n, _ in p.thread_tuner.history[2:]]
    benchmark.extra_info.update(load=load, threads="adaptive" if threads is None else threads, pipeline=pipeline,
                                frames_per_second=fps, thread_counts=counts)
    print(f"\n{load:6s} threads={benchmark.extra_info['threads']!s:9s} pipeline={pipeline!s:5s} "
          f"{fps:6.2f} frames/s  counts {counts}")


@pytest.mark.parametrize("load", ["quiet", "busy"], indirect=True)
def test_predictor_thread_settings_interleaved(benchmark, images, load):
    """The same settings, timed in turns within one process (slow drift of the machine hits every
    setting alike): median frames/s of each and its ratio to the best fixed count."""
    old = torch.get_num_threads()
    torch.set_num_threads(CORES)
    settings = {"1-thread": (1, False), f"{CORES}-threads": (CORES, False), "adaptive": (None, False),
                "adaptive-pipelined": (None, True)}
    try:
        predictors = {name: Predictor(device="cpu", batch_size=BATCH, threads=t, pipeline=pl)
                      for name, (t, pl) in settings.items()}
        for p in predictors.values():
            p.predict(images[: 2 * BATCH])
        times: dict[str, list[float]] = {name: [] for name in settings}

        def one_round() -> None:
            for name, p in predictors.items():
                start = time.perf_counter()
                p.predict(images)
                times[name].append(time.perf_counter() - start)

        benchmark.pedantic(one_round, rounds=ROUNDS, warmup_rounds=0)
    finally:
        torch.set_num_threads(old)
    fps = {name: len(images) / statistics.median(t) for name, t in times.items()}
    best = max(fps["1-thread"], fps[f"{CORES}-threads"])
    benchmark.extra_info.update(load=load, frames_per_second=fps, ratio_to_best_fixed={n: f / best for n, f in fps.items()})
    print(f"\n{load}: " + ", ".join(f"{n} {f:.2f} frames/s ({f / best:.2f}x best fixed)" for n, f in fps.items()))

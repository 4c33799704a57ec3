"""Grouping on ambiguous tags: accuracy and per-frame latency of each strategy beside the
public associative-embedding grouping (our re-implementation of pose-ae-train's).

Frames: :func:`ssmp3d.grouping_bench.make_frames`, 20 people per 19 x 128 x 128
frame, tags 1.0 apart with noise 0.3 (the README's "ambiguous" row), 20
frames. One torch thread. Run with::

    python -m pytest benchmarks/test_bench_grouping.py --benchmark-only

``extra_info``: ``accuracy`` (share of detected joints in the right person,
:func:`ssmp3d.grouping_bench.joint_accuracy`), ``per_frame_ms`` (median round
over the 20 frames), and for our strategies ``python_per_frame_ms`` and
``speedup_vs_python`` (the reference decoder on the same frames, timed once),
and ``ratio_to_paper`` (cpu, beside the paper's greedy of the same session).
``ssmp3d bench --grouping`` prints the whole table (2-20 people, both settings).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from ssmp3d.decoding import DecodeConfig, available_backends, decode
from ssmp3d.grouping_bench import AmbiguityConfig, group_public_ae, joint_accuracy, make_frames, public_ae_order
from ssmp3d.grouping_bench.run import STRATEGIES, baseline_candidates, baseline_peaks
from ssmp3d.skeleton import PANOPTIC19

PEOPLE, FRAMES = 20, 20


@pytest.fixture(scope="module")
def frames():
    return make_frames(PEOPLE, FRAMES, AmbiguityConfig(spacing=1.0, noise=0.3))


@pytest.fixture(autouse=True)
def one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def accuracy(frames, peaks_of) -> float:
    right = total = 0
    for f in frames:
        r, t = joint_accuracy(f, peaks_of(f), f.heatmaps.shape[2])
        right, total = right + r, total + t
    return right / total


_CPU_MS: dict[str, float] = {}


@pytest.mark.skipif("cpu" not in available_backends(), reason="ssmp3d._C is not built")
@pytest.mark.parametrize("strategy", ["paper", "assign", "assign-tags-only"])  # paper first: the ratio
def test_grouping_cpu(benchmark, frames, strategy):
    config = replace(DecodeConfig(), **STRATEGIES[strategy])
    maps = [(torch.from_numpy(f.heatmaps[None]), torch.from_numpy(f.tags[None])) for f in frames]

    def run(backend="cpu"):
        return [decode(h, t, None, config, backend=backend, num_threads=1) for h, t in maps]

    results = run()
    benchmark.pedantic(run, rounds=50, warmup_rounds=3)
    per_frame = benchmark.stats.stats.median / FRAMES * 1e3
    _CPU_MS[strategy] = per_frame
    start = time.perf_counter()
    python = run("python")
    python_ms = (time.perf_counter() - start) / FRAMES * 1e3
    for a, b in zip(results, python):
        assert np.array_equal(a.peaks, b.peaks)
    by_frame = {id(f): r for f, r in zip(frames, results)}
    acc = accuracy(frames, lambda f: by_frame[id(f)].peaks[0, : int(by_frame[id(f)].num_people[0])])
    benchmark.extra_info.update(strategy=strategy, people=PEOPLE, accuracy=acc, per_frame_ms=per_frame,
                                python_per_frame_ms=python_ms, speedup_vs_python=python_ms / per_frame)
    if strategy != "paper" and "paper" in _CPU_MS:
        benchmark.extra_info["ratio_to_paper"] = per_frame / _CPU_MS["paper"]
    if strategy == "assign":
        assert acc >= 0.94


def test_grouping_public_ae(benchmark, frames):
    config = DecodeConfig()
    order = public_ae_order(PANOPTIC19)
    cands = [baseline_candidates(f, config) for f in frames]

    def run():
        return [group_public_ae(s, t, c, order, config.tag_threshold, config.max_people) for s, t, c, _ in cands]

    groups = run()
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    peaks = {id(f): baseline_peaks(rows, c[3], config.min_joints) for f, c, (rows, _) in zip(frames, cands, groups)}
    acc = accuracy(frames, lambda f: peaks[id(f)])
    benchmark.extra_info.update(method="public-ae (grouping only, given the candidates)", people=PEOPLE,
                                accuracy=acc, per_frame_ms=benchmark.stats.stats.median / FRAMES * 1e3)

"""The grouping benchmark: accuracy and latency of each strategy beside the public AE baseline.

For every ambiguity setting and people count, the same frames
(:func:`~ssmp3d.grouping_bench.maps.make_frames`) are decoded by each of our
grouping strategies on each backend, and grouped by the public
associative-embedding algorithm (:mod:`~ssmp3d.grouping_bench.baseline`) on
the same NMS candidates. Accuracy is :func:`~ssmp3d.grouping_bench.score.joint_accuracy`
summed over the frames; the backends of one strategy give identical people,
so accuracy is reported per strategy and checked equal across backends.
Latency is per frame (batch 1): the median over ``repeat`` passes over all
frames, on ``threads`` torch threads. Ours is the whole decode (NMS,
grouping and the 2D output; no ORPM maps); the baseline's is its grouping
alone, given the candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..bench import _median_seconds, machine_info
from ..decoding import DecodeConfig, available_backends, decode
from ..ops import heatmap_nms
from ..skeleton import PANOPTIC19
from .baseline import group_public_ae, public_ae_order
from .maps import AmbiguityConfig, GroupingFrame, make_frames
from .score import joint_accuracy

__all__ = ["STRATEGIES", "GroupingBenchConfig", "baseline_candidates", "baseline_peaks", "format_grouping",
           "run_grouping_bench"]

#: Our strategies as benchmarked: name -> decoder settings over the defaults.
STRATEGIES: dict[str, dict] = {
    "assign": {},
    "assign-tags-only": {"geometry_weight": 0.0},
    "paper": {"grouping": "paper", "person_score": "detected"},
}
#: The settings of the README table: (name, AmbiguityConfig).
SETTINGS = (("ambiguous", AmbiguityConfig(spacing=1.0, noise=0.3)), ("easy", AmbiguityConfig(spacing=2.0, noise=0.1)))


@dataclass(frozen=True)
class GroupingBenchConfig:
    """What the grouping benchmark runs.

    Attributes:
        people: People per frame, one row each.
        frames: Frames per (setting, people count).
        settings: ``(name, AmbiguityConfig)`` pairs.
        strategies: Names from :data:`STRATEGIES`.
        backends: Our decoder backends (``python``, ``cpu``; ``cuda`` needs GPU maps).
        repeat: Timed passes over the frames (median).
        threads: torch threads while timing.
        seed: Frame seed.
        decode: Decoder settings the strategies start from.
    """

    people: tuple[int, ...] = (2, 5, 10, 20)
    frames: int = 20
    settings: tuple[tuple[str, AmbiguityConfig], ...] = SETTINGS
    strategies: tuple[str, ...] = tuple(STRATEGIES)
    backends: tuple[str, ...] = ("python", "cpu")
    repeat: int = 5
    threads: int = 1
    seed: int = 0
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def __post_init__(self) -> None:
        if not self.people or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in self.people):
            raise ValueError(f"people: expected positive integers, got {self.people!r}")
        for name, low in (("frames", 1), ("repeat", 1), ("threads", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
        bad = [s for s in self.strategies if s not in STRATEGIES]
        if not self.strategies or bad:
            raise ValueError(f"strategies: expected a non-empty subset of {tuple(STRATEGIES)}, got {self.strategies!r}")
        if not self.backends or any(b not in ("python", "cpu", "cuda") for b in self.backends):
            raise ValueError(f"backends: expected a non-empty subset of ('python', 'cpu', 'cuda'), got {self.backends!r}")


def _median_ms(fn: Callable[[], object], repeat: int, frames: int, sync: Callable[[], None]) -> float:
    """Median milliseconds per frame of ``fn`` (one pass over ``frames`` frames), after one warm-up."""
    return 1e3 * _median_seconds(fn, repeat, 1, sync) / frames


def _ours(frames: list[GroupingFrame], config: DecodeConfig, backend: str, repeat: int) -> tuple[int, int, float]:
    dev = torch.device("cuda" if backend == "cuda" else "cpu")
    maps = [(torch.from_numpy(f.heatmaps[None]).to(dev), torch.from_numpy(f.tags[None]).to(dev)) for f in frames]
    results = []

    def run() -> None:
        results.clear()
        results.extend(decode(h, t, None, config, backend=backend) for h, t in maps)

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    ms = _median_ms(run, repeat, len(frames), sync)
    right = total = 0
    for f, res in zip(frames, results):
        r, t = joint_accuracy(f, res.peaks[0, : int(res.num_people[0])], f.heatmaps.shape[2])
        right, total = right + r, total + t
    return right, total, ms


def baseline_candidates(frame: GroupingFrame, config: DecodeConfig) -> tuple[np.ndarray, ...]:
    """Our NMS candidates of one frame for the baseline: scores ``[K, M]``, float64 tags
    ``[K, M]``, counts ``[K]`` and flat indices ``[K, M]``."""
    s, idx, c = heatmap_nms(frame.heatmaps[None], config.det_threshold, config.nms_radius, config.max_candidates)
    tags = np.take_along_axis(frame.tags.reshape(frame.tags.shape[0], -1), np.maximum(idx[0], 0), axis=1)
    return s[0], tags.astype(np.float64), c[0], idx[0]


def baseline_peaks(rows: np.ndarray, indices: np.ndarray, min_joints: int) -> np.ndarray:
    """Flat peak indices ``[P, K]`` of the baseline's people with at least ``min_joints`` joints."""
    rows = rows[(rows >= 0).sum(axis=1) >= min_joints]
    return np.where(rows >= 0, indices[np.arange(rows.shape[1])[None], np.maximum(rows, 0)], -1)


def _baseline(frames: list[GroupingFrame], config: DecodeConfig, repeat: int) -> tuple[int, int, float]:
    order = public_ae_order(PANOPTIC19)
    cands = [baseline_candidates(f, config) for f in frames]
    groups = []

    def run() -> None:
        groups.clear()
        groups.extend(group_public_ae(s, t, c, order, config.tag_threshold, config.max_people) for s, t, c, _ in cands)

    ms = _median_ms(run, repeat, len(frames), lambda: None)
    right = total = 0
    for f, (_, _, _, idx), (rows, _) in zip(frames, cands, groups):
        r, t = joint_accuracy(f, baseline_peaks(rows, idx, config.min_joints), f.heatmaps.shape[2])
        right, total = right + r, total + t
    return right, total, ms


def run_grouping_bench(config: GroupingBenchConfig = GroupingBenchConfig(),
                       progress: Callable[[int], None] | None = None) -> dict:
    """Runs the benchmark; returns a JSON-ready dict with ``machine`` and ``rows``.

    Each row: ``setting``, ``spacing``, ``noise``, ``missing``, ``people``,
    ``method`` (a strategy name or ``"public-ae"``), ``backend``,
    ``accuracy``, ``joints`` (the denominator) and ``per_frame_ms``.

    Raises:
        ValueError: a backend that is not available, or backends of one
            strategy that group differently (they must agree exactly).
    """
    missing = [b for b in config.backends if b not in available_backends()]
    if missing:
        raise ValueError(f"backends: {missing} not available here (available: {list(available_backends())})")
    old = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    rows = []
    try:
        for name, amb in config.settings:
            for n in config.people:
                frames = make_frames(n, config.frames, amb, config.seed)
                base = {"setting": name, "spacing": amb.spacing, "noise": amb.noise, "missing": amb.missing,
                        "people": n}
                for strategy in config.strategies:
                    cfg = replace(config.decode, **STRATEGIES[strategy])
                    seen = None
                    for backend in config.backends:
                        reps = config.repeat if backend != "python" else max(1, config.repeat // 5)
                        right, total, ms = _ours(frames, cfg, backend, reps)
                        if seen is not None and seen != (right, total):
                            raise ValueError(f"backends of {strategy!r} disagree: {seen} vs {(right, total)}")
                        seen = (right, total)
                        rows.append({**base, "method": strategy, "backend": backend,
                                     "accuracy": right / total if total else None, "joints": total,
                                     "per_frame_ms": ms})
                right, total, ms = _baseline(frames, config.decode, max(1, config.repeat // 5))
                rows.append({**base, "method": "public-ae", "backend": "python", "accuracy": right / total if total
                             else None, "joints": total, "per_frame_ms": ms})
                if progress is not None:
                    progress(1)
    finally:
        torch.set_num_threads(old)
    return {"machine": machine_info(), "threads": config.threads, "frames": config.frames, "rows": rows}


def format_grouping(result: dict) -> str:
    """The benchmark as a text table: accuracy and ms per frame per method and people count."""
    rows = result["rows"]
    people = sorted({r["people"] for r in rows})
    lines = [f"grouping accuracy (share of detected joints in the right person) and ms per frame; "
             f"{result['frames']} frames per cell, {result['threads']} thread(s)"]
    for setting in dict.fromkeys(r["setting"] for r in rows):
        sub = [r for r in rows if r["setting"] == setting]
        lines.append(f"{setting} (tag spacing {sub[0]['spacing']}, noise {sub[0]['noise']}, missing {sub[0]['missing']})")
        lines.append(f"  {'method':<18}{'backend':<8}" + "".join(f"{n:>7} ppl  ms" for n in people))
        for method, backend in dict.fromkeys((r["method"], r["backend"]) for r in sub):
            cells = []
            for n in people:
                r = next((r for r in sub if r["method"] == method and r["backend"] == backend and r["people"] == n), None)
                acc = "-" if r is None or r["accuracy"] is None else f"{r['accuracy']:.3f}"
                cells.append(f"{acc:>11}{'' if r is None else format(r['per_frame_ms'], '6.3f'):>7}")
            lines.append(f"  {method:<18}{backend:<8}" + "".join(cells))
    return "\n".join(lines)

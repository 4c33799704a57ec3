"""Per-frame decode latency of every backend, beside the ``python`` reference.

Inputs are ground-truth-encoded maps of synthetic scenes with exactly ``n``
people at the default 19x128x128 size, so every backend decodes the same
frames. Each measurement warms up, repeats, and reports the median; ratios
compare backends timed in the same run. CUDA work is synchronised inside the
timed call.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .data.synthetic import SceneConfig, sample_scenes
from .decoding import DecodeConfig, decode
from .decoding.types import BACKENDS
from .encode import TargetConfig
from .geometry import MapTransform
from .oracle import stack_maps
from .skeleton import PANOPTIC19, Skeleton


@dataclass(frozen=True)
class BenchConfig:
    """What to time.

    Attributes:
        backends: Decoder backends (``python`` is always timed too, for ratios).
        people: People per frame, one measurement each.
        batch: Batch sizes, one measurement each.
        repeat: Timed repetitions (the median is reported).
        warmup: Untimed repetitions first.
        seed: Scene seed.
        threads: torch intra-op threads during timing (1: single core).
        decode: Decoder parameters.
        targets: Target encoding parameters (map size follows the 512x512 scenes).
    """

    backends: tuple[str, ...] = ("python",)
    people: tuple[int, ...] = (1, 5, 10, 20)
    batch: tuple[int, ...] = (1,)
    repeat: int = 10
    warmup: int = 2
    seed: int = 0
    threads: int = 1
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    targets: TargetConfig = field(default_factory=TargetConfig)

    def __post_init__(self) -> None:
        bad = [b for b in self.backends if b not in BACKENDS]
        if not self.backends or bad:
            raise ValueError(f"backends: expected a non-empty subset of {BACKENDS}, got {self.backends!r}")
        for name in ("people", "batch"):
            values = getattr(self, name)
            if not values or any(not isinstance(v, int) or v < 1 for v in values):
                raise ValueError(f"{name}: expected positive integers, got {values!r}")
        for name, low in (("repeat", 1), ("warmup", 0), ("threads", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")


def _median_seconds(fn: Callable[[], object], repeat: int, warmup: int, sync: Callable[[], None]) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine_info() -> dict:
    """Machine, versions and commit, recorded with every benchmark."""
    commit = None
    try:
        root = Path(__file__).resolve().parents[3]
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "ssmp3d": __version__,
        "commit": commit,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def run_bench(config: BenchConfig, skeleton: Skeleton = PANOPTIC19,
              progress: Callable[[int], None] | None = None) -> dict:
    """Times ``decode`` per backend, people count and batch size.

    Returns:
        JSON-ready dict: ``machine``, ``decode`` (rows with ``backend``,
        ``people``, ``batch``, ``per_frame_ms``, ``ratio_to_python``) and
        ``nms`` (compiled NMS beside the reference NMS, when built).
    """
    backends = ("python",) + tuple(b for b in config.backends if b != "python")
    transform = MapTransform(stride=config.targets.stride)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    rows, nms_rows, stage_rows = [], [], []
    try:
        for n in config.people:
            scene_cfg = replace(SceneConfig.crowded(max_people=n), min_people=n)
            for batch in config.batch:
                scenes = sample_scenes(batch, config.seed + 1000 * n, scene_cfg, skeleton)
                maps = stack_maps(scenes, skeleton, config.targets)
                python_ms = None
                for backend in backends:
                    dev = torch.device("cuda" if backend == "cuda" else "cpu")
                    heat, tags, orpm = (m.to(dev) for m in maps)
                    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
                    fn = lambda: decode(heat, tags, orpm, config.decode, skeleton=skeleton,  # noqa: E731
                                        transform=transform, backend=backend)
                    ms = 1e3 * _median_seconds(fn, config.repeat, config.warmup, sync) / batch
                    python_ms = ms if backend == "python" else python_ms
                    rows.append({"backend": backend, "people": n, "batch": batch,
                                 "per_frame_ms": ms, "ratio_to_python": python_ms / ms})
                nms_rows.extend(_bench_nms(maps[0], n, batch, config))
                if "cuda" in backends:
                    stage_rows.append(_bench_cuda_stage(maps, n, batch, config, skeleton))
                if progress is not None:
                    progress(1)
    finally:
        torch.set_num_threads(old_threads)
    return {"machine": machine_info(), "threads": config.threads, "repeat": config.repeat,
            "grouping": config.decode.grouping,
            "map_shape": list(maps[0].shape[1:]), "decode": rows, "nms": nms_rows,
            "cuda_nms_gather": stage_rows}


def copy_bandwidth(device: torch.device, nbytes: int = 1 << 28, repeat: int = 20) -> float:
    """Measured device-to-device copy bandwidth in bytes/s (read + write bytes over
    the median time of ``dst.copy_(src)`` for ``nbytes``, CUDA events)."""
    src = torch.empty(nbytes, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    times = []
    for i in range(repeat + 3):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        end.synchronize()
        if i >= 3:
            times.append(start.elapsed_time(end) / 1e3)
    return 2 * nbytes / statistics.median(times)


def _bench_cuda_stage(maps, people: int, batch: int, config: BenchConfig, skeleton: Skeleton) -> dict:
    """Device time of the fused NMS + gather kernel alone beside its floor: the bytes the
    heatmaps occupy over the measured copy bandwidth (CUDA events, median)."""
    from .decoding.cuda import gather_lists, launch_gather

    dev = torch.device("cuda")
    heat, tags, orpm = (m.to(dev) for m in maps)
    lists = gather_lists(skeleton)
    times = []
    for i in range(config.repeat + config.warmup):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        launch_gather(heat, tags, orpm, config.decode, lists)
        end.record()
        end.synchronize()
        if i >= config.warmup:
            times.append(start.elapsed_time(end) / 1e3)
    bw = copy_bandwidth(dev)
    kernel_us = 1e6 * statistics.median(times) / batch
    floor_us = 1e6 * heat[0].numel() * heat.element_size() / bw
    return {"stage": "nms_gather", "people": people, "batch": batch, "per_frame_us": kernel_us,
            "floor_per_frame_us": floor_us, "ratio_to_floor": kernel_us / floor_us,
            "copy_bandwidth_GBps": bw / 1e9}


def _bench_nms(heat: torch.Tensor, people: int, batch: int, config: BenchConfig) -> list[dict]:
    """Compiled ``heatmap_nms`` beside the reference NMS on the same maps."""
    from .ops import _reference, heatmap_nms

    d = config.decode
    args = (d.det_threshold, d.nms_radius, d.max_candidates)
    ref_s = _median_seconds(lambda: _reference.heatmap_nms(heat, *args), config.repeat, config.warmup,
                            lambda: None)
    try:
        fast_s = _median_seconds(lambda: heatmap_nms(heat, *args, num_threads=config.threads),
                                 config.repeat, config.warmup, lambda: None)
    except ImportError:
        return []
    return [{"op": "heatmap_nms", "people": people, "batch": batch,
             "reference_per_frame_ms": 1e3 * ref_s / batch, "cpu_per_frame_ms": 1e3 * fast_s / batch,
             "speedup": ref_s / fast_s}]

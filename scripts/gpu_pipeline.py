"""Frames per second of the CUDA Predictor, in line against pipelined (a GPU machine only).

    python scripts/gpu_pipeline.py --out pipeline.json    # needs a GPU and ssmp3d._C_cuda
    python scripts/gpu_pipeline.py --dry-run              # print the plan, touch no GPU

For each network preset and batch size, two :class:`~ssmp3d.predict.Predictor`
objects share one network on ``cuda`` with the ``cuda`` decoder, one with
``pipeline=False`` (network, kernel, copy, synchronisation, grouping, one
after the other) and one with ``pipeline=True`` (the grouping of batch ``i``
beside the GPU's batch ``i + 1``: :mod:`ssmp3d.predict.stream_cuda`). They
run in turns (the order alternates between rounds) over the same synthetic
images: rendered crowded scenes (640 x 480, a pool of 16 repeated), each
run a ``predict_batch`` of ``--frames`` images after one warm-up run.
Each figure is the median of ``--rounds`` runs. The first round also checks
that both give the same poses.

Presets: ``small`` is the shipped synthetic-trained weights (256 input);
``paper`` is an untrained ``HourglassConfig.paper()`` (512 input, 4 stacks,
256 features) written to a temporary checkpoint (its decoder load is that of
an untrained network's maps).

Prints one table (preset, batch, in-line f/s, pipelined f/s, speed-up, same
poses) and writes ``{name: value}`` JSON to ``--out``: ``{preset}_b{B}_inline_fps``,
``..._pipelined_fps``, ``..._speedup``, ``..._same_poses``; a failing case
records ``{preset}_b{B}_error`` and the others still run. Exit status 2
without a usable GPU (the reason printed), else 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

PRESETS = ("small", "paper")
POOL = 16


def synthetic_images(n: int, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """``n`` RGB images: a pool of :data:`POOL` rendered crowded scenes, repeated."""
    from dataclasses import replace

    from ssmp3d.data import SceneConfig, render_scene, sample_scene

    config = replace(SceneConfig.crowded(max_people=10), image_size=size)
    pool = [render_scene(sample_scene(seed, config), seed) for seed in range(min(n, POOL))]
    return [pool[i % len(pool)] for i in range(n)]


def checkpoint(preset: str, tmp: Path) -> Path | None:
    """The preset's checkpoint (None: the shipped weights)."""
    if preset == "small":
        return None
    from ssmp3d.model import HourglassConfig, HourglassNet
    from ssmp3d.train.checkpoint import save_checkpoint
    from ssmp3d.train.config import TrainConfig

    config = TrainConfig(model=HourglassConfig.paper())
    torch.manual_seed(0)
    return save_checkpoint(tmp / f"{preset}.pt", config=config, model=HourglassNet(config.model).state_dict(), step=0,
                           with_rng=False)


def frames_per_s(predictor, images: list[np.ndarray]) -> tuple[float, list]:
    """Frames per second of one ``predict_batch`` (host results: the GPU is done at the end)."""
    torch.cuda.synchronize()
    tic = time.perf_counter()
    poses = predictor.predict_batch(images)
    return len(images) / (time.perf_counter() - tic), poses


def compare(preset: str, batch: int, frames: int, rounds: int, images: list[np.ndarray], tmp: Path) -> dict:
    """In-line and pipelined frames per second of one (preset, batch) case, interleaved."""
    from ssmp3d.predict import Predictor

    inline = Predictor(checkpoint(preset, tmp), device="cuda", backend="cuda", batch_size=batch, pipeline=False)
    piped = Predictor(inline.checkpoint_path, device="cuda", backend="cuda", batch_size=batch, pipeline=True)
    piped.model = inline.model  # one network: the same weights and memory for both
    run = images[:frames]
    for p in (inline, piped):
        p.predict_batch(run[:2 * batch])  # warm-up (lazy CUDA init, gather lists, pinned buffers)
    times: dict[str, list[float]] = {"inline": [], "pipelined": []}
    same = None
    for r in range(rounds):
        order = [("inline", inline), ("pipelined", piped)]
        for name, p in order if r % 2 == 0 else order[::-1]:
            fps, poses = frames_per_s(p, run)
            times[name].append(fps)
            if r == 0:
                dicts = [x.to_dict() for x in poses]
                same = dicts if same is None else same == dicts
    key = f"{preset}_b{batch}"
    a, b = statistics.median(times["inline"]), statistics.median(times["pipelined"])
    return {f"{key}_inline_fps": round(a, 1), f"{key}_pipelined_fps": round(b, 1),
            f"{key}_speedup": round(b / a, 3), f"{key}_same_poses": bool(same)}


def table(results: dict, presets: list[str], batches: list[int]) -> str:
    """One small text table of the results."""
    lines = [f"{'preset':8s} {'batch':>5s} {'in line f/s':>12s} {'pipelined f/s':>14s} {'speed-up':>9s}  same poses"]
    for preset in presets:
        for batch in batches:
            key = f"{preset}_b{batch}"
            if f"{key}_error" in results:
                lines.append(f"{preset:8s} {batch:5d}  {results[f'{key}_error']}")
                continue
            lines.append(f"{preset:8s} {batch:5d} {results[f'{key}_inline_fps']:12.1f} "
                         f"{results[f'{key}_pipelined_fps']:14.1f} {results[f'{key}_speedup']:8.2f}x  "
                         f"{'yes' if results[f'{key}_same_poses'] else 'NO'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Runs every (preset, batch) case; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="JSON file for the results")
    parser.add_argument("--presets", default=",".join(PRESETS), help=f"comma-separated subset of {','.join(PRESETS)}")
    parser.add_argument("--batches", default="8,64", help="comma-separated batch sizes")
    parser.add_argument("--frames", type=int, default=512, help="images per timed run")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each predictor (median)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit without a GPU")
    args = parser.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    unknown = sorted(set(presets) - set(PRESETS))
    if unknown:
        parser.error(f"--presets: unknown {unknown}; expected a subset of {list(PRESETS)}")
    try:
        batches = [int(b) for b in args.batches.split(",") if b]
    except ValueError:
        parser.error(f"--batches: expected comma-separated ints, got {args.batches!r}")
    if not batches or min(batches) < 1 or args.frames < 1 or args.rounds < 1:
        parser.error("--batches, --frames and --rounds must be >= 1")
    if args.dry_run:
        print(f"gpu_pipeline plan: presets={presets} batches={batches} frames={args.frames} rounds={args.rounds} "
              f"out={args.out}")
        return 0
    from ssmp3d.ops._ext import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is not None:
        print(f"gpu_pipeline: needs a CUDA GPU and ssmp3d._C_cuda; no usable GPU here: {reason}")
        return 2
    results: dict = {"device": torch.cuda.get_device_name(), "frames": args.frames, "rounds": args.rounds}
    images = synthetic_images(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            for batch in batches:
                try:
                    results.update(compare(preset, batch, args.frames, args.rounds, images, Path(tmp)))
                except Exception as exc:  # recorded, the other cases still run
                    traceback.print_exc()
                    text = str(exc).splitlines()[0] if str(exc) else ""
                    results[f"{preset}_b{batch}_error"] = f"error: {type(exc).__name__}: {text}"
                torch.cuda.empty_cache()
                if args.out:
                    with open(args.out, "w") as f:
                        json.dump(results, f, indent=1)
    print(json.dumps(results), flush=True)
    print(table(results, presets, batches))
    return 0


if __name__ == "__main__":
    sys.exit(main())

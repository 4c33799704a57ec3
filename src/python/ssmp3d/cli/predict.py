"""``ssmp3d predict``: poses in an image, a folder of images or a video (JSON lines, overlays, 3D views)."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack

import torch

from ..predict import PredictOptions, Predictor, run_predict
from ..predict.interrupt import Interrupted, stop_on_signals
from ..predict.pipeline import check_output
from ..predict.loading import resolve_device
from ..predict.shard import current_shard
from ..skeleton import SKELETONS
from .decode_args import add_decode_args, decode_line, decode_overrides
from .progress import progress_bar
from .threads_args import add_threads_arg, threads_value


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``predict`` sub-command."""
    p = sub.add_parser("predict", help="predict 2D and 3D poses in images or a video",
                       description="Run the network and the decoder on an image, every image of a folder, or "
                                   "every frame of a video. Writes predictions.jsonl (one line per image or "
                                   "frame, joints in the input's pixels and pelvis-relative millimetres) and "
                                   "summary.json into --out. A file or frame that fails is reported and "
                                   "skipped. Ctrl-C or SIGTERM stops the job after writing both files for "
                                   "what was done (exit 130 or 143). Several GPUs: torchrun --nproc_per_node N "
                                   "-m ssmp3d.cli.main predict ... (rank r takes items r::N; rank 0 merges).")
    p.add_argument("input", help="an image file, a folder of images, or a video file")
    p.add_argument("--out", default="predictions", help="output folder (default ./predictions)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file (default: the shipped synthetic-trained weights)")
    p.add_argument("--skeleton", choices=sorted(SKELETONS), default=None,
                   help="joint set the checkpoint must predict (default: the checkpoint's)")
    p.add_argument("--device", default=None,
                   help="network device: cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    p.add_argument("--backend", choices=("auto", "python", "cpu", "cuda"), default="auto", help="decoder backend")
    p.add_argument("--batch-size", type=int, default=8, help="images per network pass (default 8)")
    add_threads_arg(p, adaptive=True)
    p.add_argument("--every", type=int, default=1,
                   help="keep every N-th image of a folder or frame of a video: 0, N, 2N, ... (default 1)")
    p.add_argument("--max-frames", type=int, default=None,
                   help="predict at most N images or frames, the first ones kept (default: all)")
    p.add_argument("--overlay", action="store_true", help="write 2D overlays (overlay/*.jpg, or <video>_overlay.mp4)")
    p.add_argument("--plot3d", action="store_true", help="write a 3D view per image or frame (plot3d/*.png)")
    add_decode_args(p)
    return p


def _positive(value: int | None, option: str) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{option}: expected an int >= 1, got {value}")


def _device(requested: str | None, local_rank: int, world_size: int) -> torch.device:
    try:
        device = resolve_device(requested)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None
    if device.type == "cuda" and device.index is None and world_size > 1:
        device = torch.device("cuda", local_rank)  # one GPU per torchrun process
    return device


def _options(args: argparse.Namespace) -> PredictOptions:
    for value, option in ((args.batch_size, "--batch-size"), (args.every, "--every"),
                          (args.max_frames, "--max-frames")):
        _positive(value, option)
    try:
        check_output(args.out)
    except ValueError as exc:
        raise ValueError(f"--out: {exc}") from None
    return PredictOptions(overlay=args.overlay, plot3d=args.plot3d, every=args.every, max_frames=args.max_frames)


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command; returns (JSON object, human text).

    A stopped job (Ctrl-C, SIGTERM) prints its summary like a finished one,
    one line on stderr, and exits 130 (SIGINT) or 143 (SIGTERM).
    """
    options = _options(args)
    try:
        with stop_on_signals():
            return _run(args, options)
    except KeyboardInterrupt as stop:
        exc = stop if isinstance(stop, Interrupted) else Interrupted()
        summary = exc.summary
        if summary is not None and "kind" in summary:
            print(json.dumps(summary) if args.json else format_summary(summary))
            done = f"after {_count(summary['frames'], summary['kind'])}; {summary['predictions']} and summary.json " \
                   f"hold what was done"
        elif summary is not None:
            done = f"after {summary['records']} items on rank {summary['rank']}"
        else:
            done = "before anything was predicted"
        print(f"ssmp3d predict: stopped by {exc.signal_name} {done}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None


def _run(args: argparse.Namespace, options: PredictOptions) -> tuple[dict, str]:
    shard = current_shard()
    try:
        predictor = Predictor(args.checkpoint, device=_device(args.device, shard.local_rank, shard.world_size),
                              backend=args.backend, batch_size=args.batch_size, skeleton=args.skeleton,
                              decode_overrides=decode_overrides(args), threads=threads_value(args))
        with ExitStack() as stack:
            advance = [lambda n: None]

            def on_total(total: int) -> None:
                advance[0] = stack.enter_context(progress_bar(total or None, "predict", "item"))

            def on_bad(source: str, error: str) -> None:
                print(f"ssmp3d predict: skipped {error}", file=sys.stderr, flush=True)

            summary = run_predict(args.input, args.out, predictor, options=options, shard=shard, on_bad=on_bad,
                                  progress=lambda n: advance[0](n), on_total=on_total)
    finally:
        if shard.owns_group:
            torch.distributed.destroy_process_group()
    return summary, format_summary(summary)


def _count(n: int, kind: str) -> str:
    noun = "frame" if kind == "video" else "image"
    return f"{n} {noun}{'' if n == 1 else 's'}"


def format_summary(s: dict) -> str:
    """Human-readable summary of a prediction job."""
    if "kind" not in s:  # ranks other than 0
        return f"rank {s['rank']}: {s['records']} items written; rank 0 merges"
    kept = []
    if s.get("every", 1) != 1:
        kept.append(f"every {s['every']}")
    if s.get("max_frames") is not None:
        kept.append(f"at most {s['max_frames']}")
    lines = [f"predicted {_count(s['frames'], s['kind'])} of {s['input']}{' (' + ', '.join(kept) + ')' if kept else ''}"
             f": {s['people']} {'person' if s['people'] == 1 else 'people'}, {s['frames_per_second']:.1f} frames/s "
             f"({s['device']}, decoder {s['backend']}, {s['world_size']} process(es))",
             f"predictions: {s['predictions']}", decode_line(s["decode_config"])]
    if s.get("interrupted"):
        lines.append(f"interrupted by {s['interrupted']}: the files hold the items done before it")
    if s["overlay"]:
        lines.append(f"overlay: {s['overlay']}")
    if s["plot3d"]:
        lines.append(f"3D views: {s['plot3d']} ({s['plot3d_renderer']})")
    if s["bad"]:
        noun = "frame" if s["kind"] == "video" else "file"
        lines.append(f"{len(s['bad'])} bad {noun}{'' if len(s['bad']) == 1 else 's'} not predicted:")
        lines.extend(f"  {b['error']}" for b in s["bad"])
    return "\n".join(lines)

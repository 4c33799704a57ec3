"""``ssmp3d predict``: poses in an image, a folder of images or a video (JSON lines, overlays, 3D views)."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack

import torch

from ..predict import PredictOptions, Predictor, run_predict
from ..predict.shard import current_shard
from ..skeleton import SKELETONS
from .decode_args import add_decode_args, decode_line, decode_overrides
from .progress import progress_bar


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``predict`` sub-command."""
    p = sub.add_parser("predict", help="predict 2D and 3D poses in images or a video",
                       description="Run the network and the decoder on an image, every image of a folder, or "
                                   "every frame of a video. Writes predictions.jsonl (one line per image or "
                                   "frame, joints in the input's pixels and pelvis-relative millimetres) and "
                                   "summary.json into --out. Several GPUs: torchrun --nproc_per_node N -m "
                                   "ssmp3d.cli.main predict ... (rank r takes items r::N; rank 0 merges).")
    p.add_argument("input", help="an image file, a folder of images, or a video file")
    p.add_argument("--out", default="predictions", help="output folder (default ./predictions)")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file (default: the shipped synthetic-trained weights)")
    p.add_argument("--skeleton", choices=sorted(SKELETONS), default=None,
                   help="joint set the checkpoint must predict (default: the checkpoint's)")
    p.add_argument("--device", default=None, help="network device (default: cuda when available, else cpu)")
    p.add_argument("--backend", choices=("auto", "python", "cpu", "cuda"), default="auto", help="decoder backend")
    p.add_argument("--batch-size", type=int, default=8, help="images per network pass (default 8)")
    p.add_argument("--overlay", action="store_true", help="write 2D overlays (overlay/*.jpg, or <video>_overlay.mp4)")
    p.add_argument("--plot3d", action="store_true", help="write a 3D view per image or frame (plot3d/*.png)")
    add_decode_args(p)
    return p


def _device(requested: str | None, local_rank: int, world_size: int) -> torch.device:
    if requested is None:
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(requested)
    if device.type == "cuda" and device.index is None and world_size > 1:
        device = torch.device("cuda", local_rank)  # one GPU per torchrun process
    return device


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command; returns (JSON object, human text)."""
    if args.batch_size < 1:
        raise ValueError(f"--batch-size: expected an int >= 1, got {args.batch_size}")
    shard = current_shard()
    try:
        predictor = Predictor(args.checkpoint, device=_device(args.device, shard.local_rank, shard.world_size),
                              backend=args.backend, batch_size=args.batch_size, skeleton=args.skeleton,
                              decode_overrides=decode_overrides(args))
        options = PredictOptions(overlay=args.overlay, plot3d=args.plot3d)
        with ExitStack() as stack:
            advance = [lambda n: None]

            def on_total(total: int) -> None:
                advance[0] = stack.enter_context(progress_bar(total or None, "predict", "frame"))

            def on_bad(source: str, error: str) -> None:
                print(f"ssmp3d predict: bad file: {error}", file=sys.stderr)

            summary = run_predict(args.input, args.out, predictor, options=options, shard=shard, on_bad=on_bad,
                                  progress=lambda n: advance[0](n), on_total=on_total)
    finally:
        if shard.owns_group:
            torch.distributed.destroy_process_group()
    return summary, format_summary(summary)


def format_summary(s: dict) -> str:
    """Human-readable summary of a prediction job."""
    if "kind" not in s:  # ranks other than 0
        return f"rank {s['rank']}: {s['records']} items written; rank 0 merges"
    lines = [f"predicted {s['frames']} {'frames' if s['kind'] == 'video' else 'images'} of {s['input']}: "
             f"{s['people']} people, {s['frames_per_second']:.1f} frames/s ({s['device']}, decoder {s['backend']}, "
             f"{s['world_size']} process(es))",
             f"predictions: {s['predictions']}", decode_line(s["decode_config"])]
    if s["overlay"]:
        lines.append(f"overlay: {s['overlay']}")
    if s["plot3d"]:
        lines.append(f"3D views: {s['plot3d']} ({s['plot3d_renderer']})")
    if s["bad"]:
        lines.append(f"{len(s['bad'])} bad file(s) not predicted:")
        lines.extend(f"  {b['error']}" for b in s["bad"])
    return "\n".join(lines)

"""``ssmp3d demo``: synthetic scenes through the network and every decoder; a picture, results and timings."""

from __future__ import annotations

import argparse

import torch

from ..decoding import available_backends
from ..demo import DemoConfig, run_demo
from ..predict import Predictor
from ..train.evaluate import EVAL_SEED
from .decode_args import add_decode_args, decode_line, decode_overrides
from .progress import progress_bar
from .threads_args import add_threads_arg, apply_threads


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``demo`` sub-command."""
    p = sub.add_parser("demo", help="run the model and every decoder on synthetic scenes",
                       description="Render seeded synthetic scenes, run the network (default: the shipped "
                                   "synthetic-trained weights) and every available decoder backend on them, "
                                   "check the backends agree, and write demo.png (2D overlays and 3D views) "
                                   "and demo.json (people, metrics, per-frame timings).")
    p.add_argument("--out", default="demo", help="output folder (default ./demo)")
    p.add_argument("--scenes", type=int, default=4, help="number of scenes (default 4)")
    p.add_argument("--seed", type=int, default=EVAL_SEED, help=f"scene seed (default {EVAL_SEED})")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: the shipped weights)")
    p.add_argument("--device", default=None, help="network device (default: cuda when available, else cpu)")
    p.add_argument("--repeat", type=int, default=5, help="timed runs; the median is reported (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    p.add_argument("--cell", type=int, default=0,
                   help="side of each picture cell in pixels (default: the input size, at least 256)")
    add_threads_arg(p, adaptive=False)
    add_decode_args(p)
    return p


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command; returns (JSON object, human text)."""
    config = DemoConfig(scenes=args.scenes, seed=args.seed, repeat=args.repeat, warmup=args.warmup,
                        cell=args.cell)
    device = torch.device(args.device) if args.device else None
    threads = apply_threads(args)
    predictor = Predictor(args.checkpoint, device=device, batch_size=args.scenes,
                          decode_overrides=decode_overrides(args), threads=threads)
    with progress_bar(2 + len(available_backends()), "demo", "step") as advance:
        result = run_demo(predictor, args.out, config, progress=advance)
    return result, format_result(result)


def format_result(r: dict) -> str:
    """Human-readable demo summary: people found, agreement, timings."""
    t = r["timings"]
    m = r["metrics"]
    fmt = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
    found = sum(len(f["people"]) for f in r["frames"])
    lines = [f"demo: {r['scenes']} synthetic {r['preset']} scenes ({r['people']} people) through "
             f"{r['checkpoint']} (step {r['step']}) on {r['device']}",
             f"found {found} people; MPJPE {fmt(m['mpjpe_mm'], '.1f')} mm, recall {fmt(m['recall'], '.3f')}, "
             f"precision {fmt(m['precision'], '.3f')}",
             decode_line(r["decode_config"]),
             f"backends {', '.join(r['backends'])}: "
             + ("same people" if r["backends_agree"] else "DIFFERENT people: " + str(r["comparison"])),
             f"per frame, median of {t['repeat']} ({t['threads']} threads):",
             f"  {'model':<16}{t['model_ms_per_frame']:>10.3f} ms"]
    for name, row in t["decoders"].items():
        lines.append(f"  {name + ' decoder':<16}{row['ms_per_frame']:>10.3f} ms  {row['ratio_to_python']:>7.1f}x "
                     f"vs python")
    lines.append(f"picture: {r['picture']} (3D view: {r['renderer_3d']}); results: {r['picture'][:-3]}json")
    return "\n".join(lines)

"""``ssmp3d eval``: a trained network plus a decoder on a fixed synthetic test set (Table-1 style)."""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ..data.augment import AugmentConfig
from ..data.dataset import SyntheticTestSet
from ..decoding import DecodeConfig
from ..decoding.types import READOUTS
from ..eval.frames import FrameEvalConfig, evaluate_frames, stack_row_labels
from ..eval.groups import format_groups
from ..train.checkpoint import load_model, recommended_decode_config
from ..train.config import TrainConfig, stored_config
from ..train.decompose import decompose_model, format_decomposition
from ..train.evaluate import EVAL_SEED, evaluate_model
from ..train.trainer import data_config
from ..weights import default_checkpoint
from .datasets import add_dataset_args, open_from_args, source_line
from .decode_args import add_decode_args, decode_line, decode_overrides
from .progress import progress_bar
from .threads_args import add_threads_arg, apply_threads


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``eval`` sub-command."""
    p = sub.add_parser("eval", help="evaluate a trained network",
                       description="Run a checkpoint's network on a fixed seeded synthetic test set (or the "
                                   "frames of a real dataset with --dataset), decode, and report MPJPE, recall "
                                   "and precision for the full and naive read-outs and for each stack.")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file (last.pt of ssmp3d train; default: the shipped synthetic_small.pt)")
    p.add_argument("--scenes", type=int, default=100, help="number of synthetic test scenes (default 100)")
    p.add_argument("--seed", type=int, default=EVAL_SEED, help=f"synthetic test-set seed (default {EVAL_SEED})")
    p.add_argument("--readout", choices=READOUTS, default="full", help="headline read-out")
    p.add_argument("--backend", choices=("auto", "python", "cpu", "cuda"), default="auto", help="decoder backend")
    p.add_argument("--device", default=None, help="model device (default: cuda when available, else cpu)")
    p.add_argument("--batch-size", type=int, default=8, help="images per forward pass")
    add_threads_arg(p, adaptive=False)
    p.add_argument("--decompose", action="store_true",
                   help="also decode with network and ground-truth maps mixed (heatmaps+tags vs ORPM, "
                        "constant-bone ORPM) to show which half limits the checkpoint (synthetic test set only)")
    add_decode_args(p)
    add_dataset_args(p)
    return p


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command; returns (JSON object, human text)."""
    if args.scenes < 1:
        raise ValueError(f"--scenes: expected an int >= 1, got {args.scenes}")
    apply_threads(args)
    dataset = open_from_args(args)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    checkpoint = args.checkpoint if args.checkpoint is not None else default_checkpoint()
    model, ckpt = load_model(checkpoint, device)
    decode_config = DecodeConfig.from_dict({**decode_overrides(args), "readout": args.readout},
                                           base=recommended_decode_config(ckpt, checkpoint))
    if dataset is not None:
        if args.decompose:
            raise ValueError("--decompose: needs the synthetic test set (ground-truth maps), not --dataset")
        return _run_frames(args, dataset, model, ckpt, device, checkpoint, decode_config)
    stored = stored_config(ckpt["config"])
    run_config = TrainConfig(model=model.config, preset=stored.get("preset", "sparse"),
                             max_people=stored.get("max_people", 4), orpm_radius=stored.get("orpm_radius", 2))
    test_set = SyntheticTestSet(args.seed, args.scenes,
                                **{**data_config(run_config), "augment_config": AugmentConfig.none()})
    stacks = tuple(range(model.config.num_stacks))
    with progress_bar(args.scenes, "eval", "frame") as advance:
        report = evaluate_model(model, test_set, decode_config=decode_config, stacks=stacks,
                                backend=args.backend, batch_size=args.batch_size, device=device, progress=advance)
    last = report[f"stack_{len(stacks)}"]
    out = dict(last[args.readout])
    full, naive = last["full"]["mpjpe_mm"], last["naive"]["mpjpe_mm"]
    out.update(readout=args.readout, backend=report["backend"], scenes=args.scenes, preset=run_config.preset,
               seed=args.seed, skeleton=test_set.maker.skeleton.name, readouts=last,
               full_over_naive=(full / naive) if full is not None and naive else None,
               stacks={s: {r: v["mpjpe_mm"] for r, v in report[f"stack_{s}"].items()} for s in range(1, len(stacks) + 1)},
               stack_pck3d={s: report[f"stack_{s}"][args.readout]["pck3d"] for s in range(1, len(stacks) + 1)},
               checkpoint=str(checkpoint), step=int(ckpt["step"]), decode_config=decode_config.to_dict())
    text = format_report(out)
    if args.decompose:
        extra = ckpt.get("extra") or {}
        bones = extra.get("mean_bones") if isinstance(extra, dict) else None
        with progress_bar(args.scenes, "decompose", "frame") as advance:
            out["decomposition"] = decompose_model(
                model, test_set, decode_config=decode_config, backend=args.backend, batch_size=args.batch_size,
                device=device, progress=advance,
                train_mean_bones=None if bones is None else np.asarray(bones, dtype=np.float32))
        text += "\nwhich half limits it (last stack; ground truth = the encoded targets):\n"
        text += format_decomposition(out["decomposition"])
    return out, text


def _run_frames(args: argparse.Namespace, dataset, model, ckpt, device, checkpoint,
                decode_config: DecodeConfig) -> tuple[dict, str]:
    """``eval`` on the frames of a real dataset (images letterboxed to the model's input)."""
    config = FrameEvalConfig(batch_size=args.batch_size, backend=args.backend, decode=decode_config)
    with progress_bar(len(dataset), "eval", "frame") as advance:
        out = evaluate_frames(model, dataset, config, device=device, progress=advance)
    out.update(checkpoint=str(checkpoint), step=int(ckpt["step"]), root=str(args.root),
               decode_config=decode_config.to_dict())
    return out, format_frames_report(out)


def format_frames_report(r: dict) -> str:
    """Table-1-style text of a real dataset: MPJPE per group for each stack and read-out, then the failures."""
    rate = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [f"eval of {r['checkpoint']} (step {r['step']}): {source_line(r, r.get('root'))}",
             format_groups(r["groups"], labels=stack_row_labels(len(r["stacks"]))),
             f"headline ({r['readout']}): MPJPE {_mm(r['mpjpe_mm'])} mm, recall {rate(r['recall'])}, "
             f"precision {rate(r['precision'])}", decode_line(r["decode_config"])]
    if r["frames_failed"]:
        lines.append(f"{r['frames_failed']} frames could not be read; the first ones:")
        lines += [f"  {f['key']}: {f['error']}" for f in r["failed"]]
    return "\n".join(lines)


def _mm(v) -> str:
    return "-" if v is None else f"{v:.1f}"


def format_report(r: dict) -> str:
    """Table-1-style text: MPJPE per read-out and per stack, recall, precision."""
    rate = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [f"eval of {r['checkpoint']} (step {r['step']}) on {r['scenes']} synthetic {r['preset']} scenes "
             f"(seed {r['seed']}), decoder {r['backend']}",
             f"{'stacks':<8}{'full MPJPE':>12}{'naive MPJPE':>13}{'PCK3D':>8}"]
    pck = r.get("stack_pck3d", {})
    for s, v in r["stacks"].items():
        lines.append(f"{s:<8}{_mm(v.get('full')):>12}{_mm(v.get('naive')):>13}{rate(pck.get(s)):>8}")
    lines.append(f"headline ({r['readout']}): MPJPE {_mm(r['mpjpe_mm'])} mm, PCK3D {rate(r.get('pck3d'))}, "
                 f"recall {rate(r['recall'])}, precision {rate(r['precision'])}")
    rules = r.get("readout_rules") or {}
    if rules:
        lines.append("per read-out rule: " + ", ".join(
            f"{name} {v['joints']} joints {_mm(v.get('mpjpe_mm'))} mm" for name, v in rules.items() if v["joints"]))
    lines.append(decode_line(r["decode_config"]))
    return "\n".join(lines)

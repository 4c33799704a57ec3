"""``ssmp3d train``: train the hourglass on the synthetic stream or a real dataset (resumable; ``torchrun``)."""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace

from ..model import HourglassConfig
from ..train.config import AMP_MODES, DATASET_JOINTS, DATASETS, TrainConfig
from ..train.losses import LossConfig
from ..train.schedule import SCHEDULES
from ..train.trainer import train
from .progress import progress_bar
from .threads_args import add_threads_arg, apply_threads

_PRESETS = {"tiny": HourglassConfig.tiny, "small": HourglassConfig.small, "paper": HourglassConfig.paper}


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``train`` sub-command."""
    p = sub.add_parser("train", help="train the network on synthetic scenes or a real dataset",
                       description="Train the stacked hourglass on the seeded synthetic stream, or on the "
                                   "training split of CMU Panoptic or Human3.6M (--dataset, --root). Re-running "
                                   "with the same --out resumes from its last.pt exactly. Several GPUs: "
                                   "torchrun --nproc_per_node N -m ssmp3d.cli.main train ...")
    p.add_argument("--out", required=True, help="output directory (last.pt, log.csv, eval.jsonl)")
    p.add_argument("--dataset", choices=DATASETS, default="synthetic",
                   help="training data (default synthetic); real datasets need --root")
    p.add_argument("--root", default=None, help="folder of the real dataset")
    p.add_argument("--every", type=int, default=1,
                   help="keep every N-th frame of a real dataset's training split (default 1; 5 is usual for h36m)")
    p.add_argument("--model", choices=sorted(_PRESETS), default="small", help="network preset (default small)")
    p.add_argument("--stacks", type=int, default=None, help="override the preset's number of stacks")
    p.add_argument("--input-size", type=int, default=None, help="override the preset's input size")
    p.add_argument("--head-features", type=int, default=None,
                   help="override the preset's head hidden width (0: a single 1x1 convolution)")
    p.add_argument("--schedule", choices=SCHEDULES, default="short",
                   help="learning-rate schedule: short (warm-up, base rate for 3/4 of the run, cosine decay; "
                        "default) or paper (its milestones scaled to --steps)")
    p.add_argument("--orpm-radius", type=int, default=2, help="ORPM target disc radius in map pixels (default 2)")
    p.add_argument("--orpm-weight", type=float, default=None,
                   help=f"weight of the ORPM loss term (default {LossConfig().orpm_weight:g})")
    p.add_argument("--heatmap-weight", type=float, default=None,
                   help=f"weight of the heatmap loss term (default {LossConfig().heatmap_weight:g})")
    p.add_argument("--tag-weight", type=float, default=None,
                   help=f"weight of the pull and push tag terms (default {LossConfig().pull_weight:g})")
    p.add_argument("--init-weights", default=None,
                   help="warm start: a checkpoint whose tensors of equal name and shape initialise a fresh run")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps (default 1000)")
    p.add_argument("--batch-size", type=int, default=8, help="images per step and process (default 8)")
    p.add_argument("--lr", type=float, default=1e-4, help="initial Adam learning rate (default 1e-4, the paper)")
    p.add_argument("--amp", choices=AMP_MODES, default="none", help="mixed precision")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and data (default 0)")
    p.add_argument("--scene-preset", choices=("sparse", "crowded"), default="sparse", help="scene sampler preset")
    p.add_argument("--max-people", type=int, default=4, help="most people per scene (default 4)")
    p.add_argument("--no-augment", action="store_true", help="disable augmentation")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers per process")
    add_threads_arg(p, adaptive=False)
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    p.add_argument("--eval-every", type=int, default=0, help="steps between evaluations (0: at the end only)")
    p.add_argument("--eval-scenes", type=int, default=32,
                   help="scenes of the fixed evaluation set (real data: frames of the test split)")
    p.add_argument("--no-resume", action="store_true", help="refuse to reuse an existing last.pt")
    return p


def _loss_config(args: argparse.Namespace) -> LossConfig:
    """The default loss weights, with ``--heatmap-weight``, ``--orpm-weight`` and ``--tag-weight`` over them."""
    fields = {"heatmap_weight": args.heatmap_weight, "orpm_weight": args.orpm_weight,
              "pull_weight": args.tag_weight, "push_weight": args.tag_weight}
    return replace(LossConfig(), **{k: v for k, v in fields.items() if v is not None})


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command; returns (JSON object, human text)."""
    apply_threads(args)
    overrides = {k: v for k, v in (("num_stacks", args.stacks), ("input_size", args.input_size),
                                   ("head_features", args.head_features)) if v is not None}
    if args.dataset != "synthetic":
        overrides["num_joints"] = DATASET_JOINTS[args.dataset]
    root = None if args.root is None else str(args.root)
    config = TrainConfig(model=_PRESETS[args.model](**overrides), steps=args.steps, batch_size=args.batch_size,
                         lr=args.lr, amp=args.amp, seed=args.seed, preset=args.scene_preset,
                         max_people=args.max_people, augment=not args.no_augment, workers=args.workers,
                         checkpoint_every=args.checkpoint_every, eval_every=args.eval_every,
                         eval_scenes=args.eval_scenes, dataset=args.dataset, root=root, every=args.every,
                         schedule=args.schedule, orpm_radius=args.orpm_radius, loss=_loss_config(args),
                         init_weights=None if args.init_weights is None else str(args.init_weights))
    from pathlib import Path

    if args.no_resume and (Path(args.out) / "last.pt").exists():
        raise ValueError(f"--out: {args.out}/last.pt exists and --no-resume was given")
    with progress_bar(config.steps, "train", "step") as advance:
        def progress(step, values):
            advance(1, loss=f"{values['total']:.4f}", img_s=f"{values['images_per_s']:.1f}")

        result = train(config, args.out, resume=not args.no_resume, progress=progress)
    out = {"steps": result.steps, "resumed_from": result.resumed_from, "first_loss": result.first_loss,
           "last_loss": result.last_loss, "images_per_second": result.images_per_second,
           "checkpoint": str(result.checkpoint), "evaluation": result.evaluation, "config": asdict(config),
           "skipped_images": result.skipped_images}
    text = (f"trained steps {result.resumed_from}..{result.steps}: loss {result.first_loss:.4f} -> "
            f"{result.last_loss:.4f}, {result.images_per_second:.1f} images/s; checkpoint {result.checkpoint}")
    if result.skipped_images:
        text += f"\n{result.skipped_images} unreadable images replaced (listed in {args.out}/skipped_images.txt)"
    if "unavailable" in result.evaluation:
        text += f"\nno evaluation: {result.evaluation['unavailable']}"
    return out, text

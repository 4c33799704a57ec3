"""The dataset options shared by ``ssmp3d oracle`` and ``ssmp3d eval``."""

from __future__ import annotations

import argparse

from ..data.frames import FrameDataset
from ..data.open import DATASETS, open_dataset


def add_dataset_args(p: argparse.ArgumentParser) -> None:
    """Registers ``--dataset``, ``--root``, ``--split``, ``--max-frames``, ``--every`` and ``--sequences``."""
    g = p.add_argument_group("real datasets")
    g.add_argument("--dataset", choices=("synthetic", *DATASETS), default="synthetic",
                   help="synthetic scenes (default) or a real dataset under --root")
    g.add_argument("--root", default=None, help="dataset folder (required for panoptic and h36m)")
    g.add_argument("--split", choices=("test", "train"), default="test", help="protocol split (default test)")
    g.add_argument("--max-frames", type=int, default=None,
                   help="at most N frames per sequence and camera (Panoptic) or per subject (Human3.6M), "
                        "evenly spaced")
    g.add_argument("--every", type=int, default=1, help="keep every N-th annotated frame (default 1)")
    g.add_argument("--sequences", default=None,
                   help="Panoptic sequences, comma-separated (default: the protocol's four)")


def open_from_args(args: argparse.Namespace) -> FrameDataset | None:
    """The real dataset the options name, or ``None`` for ``--dataset synthetic``.

    Raises:
        ValueError: ``--root`` missing for a real set, ``--every`` or
            ``--max-frames`` below 1, ``--sequences`` with a set that has
            none, or what the loader raises (``DatasetError``, naming the file).
    """
    if args.dataset == "synthetic":
        return None
    if not args.root:
        raise ValueError(f"--root: required with --dataset {args.dataset}")
    for value, option in ((args.every, "--every"), (args.max_frames, "--max-frames")):
        if value is not None and value < 1:
            raise ValueError(f"{option}: expected an int >= 1, got {value}")
    options: dict = {"every": args.every, "max_frames": args.max_frames}
    if args.sequences is not None:
        if args.dataset != "panoptic":
            raise ValueError(f"--sequences: only for --dataset panoptic, not {args.dataset}")
        options["sequences"] = [s for s in args.sequences.split(",") if s]
    return open_dataset(args.dataset, args.root, args.split, **options)


def source_line(report: dict, root: str | None) -> str:
    """One line naming the frames a real-data report covers."""
    failed = f", {report['frames_failed']} unreadable" if report.get("frames_failed") else ""
    return (f"{report['dataset']} {report['split'] or ''} split under {root}: {report['scenes']} of "
            f"{report['frames']} frames evaluated{failed}, input {report['input_size']}, "
            f"backend {report['backend']}, {report['people']} people in view")

"""``ssmp3d oracle``: decode ground-truth-encoded maps and evaluate (the decoder's upper bound)."""

from __future__ import annotations

import argparse

from ..decoding import DecodeConfig
from ..decoding.types import BACKENDS, READOUTS
from ..eval.frames import FrameEvalConfig, oracle_frames
from ..eval.groups import format_groups
from ..oracle import OracleConfig, run_oracle
from ..skeleton import SKELETONS, get_skeleton
from .datasets import add_dataset_args, open_from_args, source_line
from .decode_args import add_decode_args, decode_overrides
from .progress import progress_bar


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``oracle`` sub-command."""
    p = sub.add_parser("oracle", help="encode ground truth into maps, decode, evaluate",
                       description="Encode ground truth into maps (seeded synthetic scenes, or the frames of a "
                                   "real dataset with --dataset), decode them and report MPJPE, recall and "
                                   "precision for the full and naive read-outs.")
    p.add_argument("--scenes", type=int, default=200, help="number of synthetic scenes (default 200)")
    p.add_argument("--seed", type=int, default=0, help="synthetic scene seed (default 0)")
    p.add_argument("--max-people", type=int, default=12, help="most people per synthetic scene (default 12)")
    p.add_argument("--preset", choices=("crowded", "sparse"), default="crowded",
                   help="crowded: truncation and occlusion; sparse: separate, fully visible people")
    p.add_argument("--skeleton", choices=sorted(SKELETONS), default=None,
                   help="joint set (default panoptic19; a real dataset has its own)")
    p.add_argument("--backend", choices=BACKENDS, default="python", help="decoder backend")
    p.add_argument("--readout", choices=READOUTS, default="full", help="headline read-out")
    p.add_argument("--batch-size", type=int, default=16, help="frames per decode call")
    p.add_argument("--input-size", type=int, default=512,
                   help="real frames are letterboxed to this square input (default 512: 128x128 maps)")
    add_decode_args(p)
    add_dataset_args(p)
    return p


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command; returns (JSON object, human text)."""
    decode = DecodeConfig.from_dict({**decode_overrides(args), "readout": args.readout})
    dataset = open_from_args(args)
    if dataset is not None:
        if args.skeleton is not None and args.skeleton != dataset.skeleton.name:
            raise ValueError(f"--skeleton: {args.dataset} frames use {dataset.skeleton.name}, not {args.skeleton}")
        config = FrameEvalConfig(input_size=args.input_size, batch_size=args.batch_size, backend=args.backend,
                                 decode=decode)
        with progress_bar(len(dataset), "oracle", "frame") as advance:
            report = oracle_frames(dataset, config, progress=advance)
        report["root"] = str(args.root)
        report["decode_config"] = decode.to_dict()
        return report, format_frames_report(report)
    config = OracleConfig(scenes=args.scenes, seed=args.seed, preset=args.preset,
                          max_people=args.max_people, backend=args.backend, batch_size=args.batch_size,
                          decode=decode)
    with progress_bar(config.scenes, "oracle", "frame") as advance:
        report = run_oracle(config, skeleton=get_skeleton(args.skeleton or "panoptic19"), progress=advance)
    report["decode_config"] = decode.to_dict()
    return report, format_report(report)


def _fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _readout_lines(r: dict) -> list[str]:
    lines = [f"{'read-out':<10}{'MPJPE mm':>10}{'recall':>9}{'precision':>11}{'PCK3D@150':>11}"]
    for mode, m in r["readouts"].items():
        lines.append(f"{mode:<10}{_fmt(m['mpjpe_mm'], '10.2f')}{_fmt(m['recall'], '9.4f')}"
                     f"{_fmt(m['precision'], '11.4f')}{_fmt(m.get('pck3d'), '11.4f')}")
    lines.append(f"full / naive MPJPE: {_fmt(r['full_over_naive'], '.3f')}")
    lines.append(f"error by read-out rule ({r['readout']}):")
    for rule, v in r.get("readout_rules", {}).items():
        lines.append(f"  {rule:<8}{v['joints']:>8} joints  {_fmt(v['mpjpe_mm'], '8.2f')} mm")
    return lines


def format_report(r: dict) -> str:
    """Human-readable oracle summary (synthetic scenes)."""
    head = (f"oracle: {r['scenes']} {r['preset']} scenes (seed {r['seed']}), backend {r['backend']}, "
            f"{r['people']} people in view")
    return "\n".join([head, *_readout_lines(r)])


def format_frames_report(r: dict) -> str:
    """Human-readable oracle summary of a real dataset: read-outs, then the per-group table."""
    return "\n".join([f"oracle: {source_line(r, r.get('root'))}", *_readout_lines(r), "",
                      format_groups(r["groups"])])

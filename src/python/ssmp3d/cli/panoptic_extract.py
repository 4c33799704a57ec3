"""``ssmp3d panoptic-extract``: HD video frames of CMU Panoptic into the images the loader reads."""

from __future__ import annotations

import argparse

from ..data.panoptic import PANOPTIC_TEST_CAMERAS
from ..data.panoptic_extract import plan_extraction, run_extraction
from .progress import progress_bar


def _names(text: str | None, option: str) -> list[str] | None:
    if text is None:
        return None
    names = [s for s in text.split(",") if s]
    if not names:
        raise ValueError(f"{option}: expected comma-separated names, got {text!r}")
    return names


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``panoptic-extract`` sub-command."""
    p = sub.add_parser("panoptic-extract", help="extract CMU Panoptic HD frames from the videos",
                       description="Write <root>/<seq>/hdImgs/<cam>/<cam>_%08d.jpg from "
                                   "<root>/<seq>/hdVideos/hd_<cam>.mp4. Resumable: complete images are kept.")
    p.add_argument("--root", required=True, help="the Panoptic folder (one sub-folder per sequence)")
    p.add_argument("--sequences", default=None, help="comma-separated sequences (default: the protocol's four)")
    p.add_argument("--cameras", default=",".join(PANOPTIC_TEST_CAMERAS),
                   help=f"comma-separated HD cameras (default {','.join(PANOPTIC_TEST_CAMERAS)})")
    p.add_argument("--every", type=int, default=1, help="keep every N-th frame (default 1)")
    p.add_argument("--only-annotated", action="store_true",
                   help="only frames with a skeleton file holding a body (every N-th of those with --every)")
    return p


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command; returns (JSON object, human text)."""
    sequences, cameras = _names(args.sequences, "--sequences"), _names(args.cameras, "--cameras")
    jobs = plan_extraction(args.root, sequences, cameras, every=args.every, only_annotated=args.only_annotated)
    with progress_bar(sum(j.expected_frames for j in jobs), "extract", "frame") as advance:
        report = run_extraction(args.root, jobs, progress=advance)
    lines = [f"{key}: {v['written']} written, {v['skipped']} already there"
             + (f", {v['missing']} past the end of the video" if v["missing"] else "")
             for key, v in report["videos"].items()]
    lines.append(f"total: {report['written']} written, {report['skipped']} kept, {report['missing']} missing")
    return report, "\n".join(lines)

"""Entry point of the ``ssmp3d`` command: sub-command dispatch and error policy.

Every command takes ``--json`` (one JSON object on stdout; human text
otherwise) and exits 2 with a one-line message on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence

from .. import __version__
from . import bench, demo, oracle, panoptic_extract, predict
from . import export as export_cmd
from . import eval as eval_cmd
from . import train as train_cmd


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors print one line and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"ssmp3d: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (sub-commands register their own options)."""
    parser = _Parser(prog="ssmp3d", description="Single-shot multi-person 3D human pose estimation.")
    parser.add_argument("--version", action="version", version=f"ssmp3d {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in (demo, oracle, bench, train_cmd, eval_cmd, predict, export_cmd, panoptic_extract):
        p = module.add_parser(sub)
        p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
        p.set_defaults(run=module.run)
    return parser


def _json_safe(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``ssmp3d`` with ``argv``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result, text = args.run(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"ssmp3d {args.command}: error: {message}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(_json_safe(result), sort_keys=False))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

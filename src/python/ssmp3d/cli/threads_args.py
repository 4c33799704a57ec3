"""``--threads`` of ``predict``, ``demo``, ``eval`` and ``train`` (the rule: :mod:`ssmp3d.predict.threads`).

``predict`` passes the count to its :class:`~ssmp3d.predict.Predictor` (no
flag: the count adapts to the cores the machine has free); the others set
torch's intra-op threads for the whole run (no flag: torch's default).
"""

from __future__ import annotations

import argparse

import torch

__all__ = ["add_threads_arg", "apply_threads", "threads_value"]


def add_threads_arg(p: argparse.ArgumentParser, adaptive: bool) -> None:
    """Registers ``--threads`` (``adaptive``: what no flag means for this command)."""
    default = ("adapt to the cores left free by other processes" if adaptive
               else "torch's default; 1 keeps a busy machine from slowing every thread")
    p.add_argument("--threads", type=int, default=None, help=f"CPU threads of the network (default: {default})")


def threads_value(args: argparse.Namespace) -> int | None:
    """The ``--threads`` value, checked (None when not given).

    Raises:
        ValueError: not >= 1.
    """
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads: expected an int >= 1, got {args.threads}")
    return args.threads


def apply_threads(args: argparse.Namespace) -> int:
    """Sets torch's intra-op threads from ``--threads`` (if given); returns the count in use."""
    n = threads_value(args)
    if n is not None:
        torch.set_num_threads(n)
    return torch.get_num_threads()

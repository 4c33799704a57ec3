"""A run's logs: ``log.csv`` (and TensorBoard when installed), kept free of rows a resume repeats.

A run that crashes after step ``s`` but resumes from its checkpoint at step
``t < s`` does steps ``t + 1 .. s`` again. Before it starts,
:func:`truncate_logs` drops what the crashed run logged after ``t`` from
``log.csv``, ``eval.jsonl`` and ``skipped_images.txt`` (each file rewritten
atomically, only when something is dropped), and TensorBoard hides its events
after ``t`` (``purge_step``), so every step is logged once. A last line
without its newline (a write cut short) is dropped too. A fresh run (``t``
= 0) thus starts with empty logs.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from .atomic import atomic_write

__all__ = ["LOG_FILES", "RunLogs", "truncate_logs"]


def _csv_step(line: str) -> int | None:
    head = line.split(",", 1)[0].strip()
    return int(head) if head.isdigit() else None


def _json_step(line: str) -> int | None:
    try:
        step = json.loads(line).get("step")
    except (ValueError, AttributeError):
        return None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def _skipped_step(line: str) -> int | None:
    found = re.match(r"step (\d+):", line)
    return int(found.group(1)) if found else None


#: The files :func:`truncate_logs` keeps in step: name, header lines, how to read a line's step.
LOG_FILES: tuple[tuple[str, int, Callable[[str], int | None]], ...] = (
    ("log.csv", 1, _csv_step), ("eval.jsonl", 0, _json_step), ("skipped_images.txt", 0, _skipped_step))


def truncate_logs(out: str | os.PathLike, step: int) -> None:
    """Drops the lines of a run's logs about steps after ``step`` (see the module docstring).

    Lines whose step cannot be read are kept. A file left with no data line is
    removed (``log.csv`` gets its header again with the next row).

    Args:
        out: The run's directory (missing: nothing to do).
        step: The step the run resumes from (0: a fresh run).

    Raises:
        OSError: a log cannot be read or rewritten.
    """
    for name, header, step_of in LOG_FILES:
        path = Path(out) / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        lines = text.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            lines.pop()  # torn by a crash mid-write
        head, body = lines[:header], lines[header:]
        kept = [line for line in body if (s := step_of(line)) is None or s <= step]
        if not kept:
            path.unlink()
        elif (new := "".join(head + kept)) != text:
            data = new.encode("utf-8", errors="surrogateescape")
            atomic_write(path, lambda f, data=data: f.write(data))


class RunLogs:
    """CSV (and TensorBoard when installed) logs of rank 0; appends on resume.

    Args:
        out: The run's directory.
        enabled: False on the other ranks (nothing is written).
        start_step: The step the run starts from: TensorBoard hides events
            of later steps an earlier, crashed run wrote.
    """

    def __init__(self, out: Path, enabled: bool, start_step: int = 0) -> None:
        self.enabled, self.path, self.tb = enabled, Path(out) / "log.csv", None
        if enabled:
            with contextlib.suppress(ImportError):
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(out) / "tb"), purge_step=start_step + 1)

    def row(self, step: int, values: dict[str, float]) -> None:
        """Appends one row (the header first when the file is new) and the TensorBoard scalars."""
        if not self.enabled:
            return
        new = not self.path.exists()
        with self.path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=["step", *values])
            if new:
                w.writeheader()
            w.writerow({"step": step, **{k: f"{v:.6g}" for k, v in values.items()}})
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        """Closes TensorBoard's writer."""
        if self.tb is not None:
            self.tb.close()

"""Progress of long commands on stderr: a bar on a terminal, plain lines otherwise.

On a terminal, a tqdm bar redrawn in place. When stderr is not a terminal
(a log file, CI, ``nohup``), a bar would be invisible or garbled, so plain
lines are printed instead, at most one every :data:`LINE_INTERVAL` seconds::

    predict: 120/1000 frame (12%), 4.1 frame/s, 3m34s left

and one last line when the job ends, if it printed any (short jobs print
nothing). Postfix values (loss terms, throughput) follow on the same line.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from tqdm import tqdm

__all__ = ["LINE_INTERVAL", "plain_progress", "progress_bar"]

LINE_INTERVAL = 10.0
"""Seconds between two plain progress lines (stderr not a terminal)."""


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class _Lines:
    """Plain progress lines for a stream that is not a terminal."""

    def __init__(self, total: int | None, desc: str, unit: str, stream, interval: float) -> None:
        self.total, self.desc, self.unit, self.stream, self.interval = total, desc, unit, stream, interval
        self.done, self.postfix, self.printed = 0, {}, False
        self.start = self.last = time.monotonic()

    def line(self, now: float, final: bool = False) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        parts = [f"{self.desc}: {count} {self.unit}"]
        if self.total:
            parts[0] += f" ({100 * self.done / self.total:.0f}%)"
        parts.append(f"{rate:.3g} {self.unit}/s")
        if final:
            parts.append(f"{_duration(elapsed)} in all")
        elif self.total and rate > 0 and self.done < self.total:
            parts.append(f"{_duration((self.total - self.done) / rate)} left")
        parts.extend(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.postfix.items())
        return ", ".join(parts)

    def advance(self, n: int, **postfix: object) -> None:
        self.done += n
        if postfix:
            self.postfix.update(postfix)
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self._print(self.line(now))

    def close(self) -> None:
        if self.printed:
            self._print(self.line(time.monotonic(), final=True))

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)
        self.printed = True


@contextmanager
def plain_progress(total: int | None, desc: str, unit: str, *, stream=None, interval: float | None = None):
    """Yields ``advance(n, **postfix)`` printing plain progress lines on ``stream`` (default stderr)
    at most every ``interval`` seconds (default :data:`LINE_INTERVAL`), and a final line if any was printed."""
    lines = _Lines(total, desc, unit, sys.stderr if stream is None else stream,
                   LINE_INTERVAL if interval is None else interval)
    try:
        yield lines.advance
    finally:
        lines.close()


@contextmanager
def progress_bar(total: int | None, desc: str, unit: str):
    """Yields ``advance(n, **postfix)``: a tqdm bar on stderr when it is a terminal, plain
    lines (:func:`plain_progress`) otherwise; ``postfix`` values (e.g. loss terms,
    throughput) are shown beside the count."""
    if not _isatty(sys.stderr):
        with plain_progress(total, desc, unit) as advance:
            yield advance
        return
    with tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True) as bar:
        def advance(n: int, **postfix: object) -> None:
            if postfix:
                bar.set_postfix(postfix, refresh=False)
            bar.update(n)

        yield advance

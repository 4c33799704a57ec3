"""Progress bars for long commands (stderr; hidden when stderr is not a terminal)."""

from __future__ import annotations

from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(total: int, desc: str, unit: str):
    """Yields a callable ``advance(n)`` driving a tqdm bar on stderr."""
    with tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False, dynamic_ncols=True) as bar:
        yield bar.update

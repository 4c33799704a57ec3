"""Progress bars for long commands (stderr; hidden when stderr is not a terminal)."""

from __future__ import annotations

from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(total: int, desc: str, unit: str):
    """Yields ``advance(n, **postfix)`` driving a tqdm bar on stderr; ``postfix``
    values (e.g. loss terms, throughput) are shown beside the bar."""
    with tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False, dynamic_ncols=True) as bar:
        def advance(n: int, **postfix: object) -> None:
            if postfix:
                bar.set_postfix(postfix, refresh=False)
            bar.update(n)

        yield advance

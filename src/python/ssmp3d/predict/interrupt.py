"""Stopping a long prediction job cleanly: Ctrl-C and SIGTERM as one exception.

:func:`~ssmp3d.predict.run_predict` catches ``KeyboardInterrupt`` while it
predicts, writes ``predictions.jsonl`` and ``summary.json`` for the items done
so far, and raises :class:`Interrupted` (a ``KeyboardInterrupt``) carrying
that summary. Python turns SIGINT (Ctrl-C) into ``KeyboardInterrupt`` by
itself; :func:`stop_on_signals` does the same for SIGTERM (``kill``, job
schedulers, ``torchrun`` stopping its workers) while a command runs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Interrupted", "deferred_signals", "signal_name", "stop_on_signals"]


class Interrupted(KeyboardInterrupt):
    """A job stopped by a signal, after writing what it had done.

    Args:
        signal_name: ``"SIGINT"`` or ``"SIGTERM"``.
        summary: What the job wrote (:func:`~ssmp3d.predict.run_predict`'s
            summary, with ``"interrupted"`` set), or None when nothing was written yet.

    Attributes:
        signal_name, summary: As given.
        exit_code: The shell's code for that signal, ``128 + signal number``
            (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signal_name: str = "SIGINT", summary: dict | None = None) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.summary = summary

    @property
    def exit_code(self) -> int:
        number = getattr(signal, self.signal_name, signal.SIGINT)
        return 128 + int(number)


def signal_name(exc: BaseException) -> str:
    """The signal behind a ``KeyboardInterrupt``: its :class:`Interrupted` name, else ``"SIGINT"``."""
    return exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"


def _install(handler) -> dict:
    """Sets ``handler`` for SIGINT and SIGTERM, except where the signal is ignored
    (e.g. SIGINT of a background job); returns the handlers replaced."""
    return {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)
            if signal.getsignal(s) is not signal.SIG_IGN}


def _restore(previous: dict) -> None:
    for s, h in previous.items():
        signal.signal(s, signal.SIG_DFL if h is None else h)  # None: a handler not set from Python


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread.

    The first signal raises; later ones are ignored until the block ends, so
    the job can write its files undisturbed (SIGKILL still stops it). The
    previous handlers are restored on exit. An ignored signal stays ignored.
    Outside the main thread (where Python cannot install handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[str] = []

    def handler(signum: int, frame) -> None:
        if fired:
            return
        fired.append(signal.Signals(signum).name)
        raise Interrupted(fired[0])

    previous = _install(handler)
    try:
        yield
    finally:
        _restore(previous)


@contextmanager
def deferred_signals() -> Iterator[list[str]]:
    """Within the block, SIGINT and SIGTERM are recorded instead of acted on.

    Yields the list the names of received signals are appended to; the
    caller decides what to do after the block (e.g. finish writing a file
    first, then stop). Previous handlers are restored on exit. Outside the
    main thread this records nothing.
    """
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame) -> None:
        received.append(signal.Signals(signum).name)

    previous = _install(handler)
    try:
        yield received
    finally:
        _restore(previous)

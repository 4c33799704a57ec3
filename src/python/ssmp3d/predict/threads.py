"""How many CPU threads inference uses, chosen so that a shared machine degrades gracefully.

The rule (README, "Threads"):

* **Network** (torch intra-op threads): ``threads=N`` fixes them at ``N``.
  ``threads=None`` (the default) adapts them between batches with
  :class:`ThreadTuner`, between 1 and torch's thread count when the tuner
  is made (``OMP_NUM_THREADS`` / ``torch.set_num_threads`` set that
  ceiling): start at the ceiling, and after
  each batch look at two Linux counters over the batch: the machine's idle
  time (``/proc/stat``) and this process's CPU time. When our threads did
  not get their cores (CPU time per wall second well below the thread
  count: another process took them), drop one thread; when at least one
  core sat idle, add one back. Every change is kept only if the next batch
  is not slower per image; a change that was slower is undone, and the
  count then holds for 8 batches. A thread that waits for a descheduled sibling at every
  barrier is what collapses torch on an oversubscribed machine, 3-10x;
  fewer threads than free cores costs little. Without ``/proc/stat`` the
  count stays at its start. The network's float results can differ in the
  last bits between thread counts (the order of its sums changes), so two
  runs of one image may differ slightly when the count adapted between
  them; a fixed ``threads`` makes runs repeat exactly.
* **Decoder**: the ``cpu`` decoder runs with the network's current count
  when decoding in line, and one thread when it runs beside the network
  (the pipelined :class:`~ssmp3d.predict.Predictor`, only while the count
  is at its ceiling: no other process holds cores).
* **OpenMP waiting** is left at OpenMP's default (idle workers spin a
  moment before they sleep): on a quiet machine that is worth 15-25 % of
  the network's throughput here, and the adaptive count removes the
  oversubscription that makes spinning harmful. With a fixed count on a
  shared machine, ``OMP_WAIT_POLICY=PASSIVE`` (set before torch loads)
  avoids most of the collapse (README, "Threads").
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

__all__ = ["CpuSample", "ThreadTuner", "available_cores", "cpu_sample"]

#: Batches the count holds after a change that made things slower was undone.
BACKOFF_BATCHES = 8
#: A change is kept only if time per image is at most this times the batch before it.
KEEP_IF_FASTER = 1.02


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class CpuSample:
    """Counters at one instant.

    Attributes:
        wall: ``time.perf_counter()`` seconds.
        process: This process's CPU seconds (all threads).
        idle: Machine-wide idle + iowait clock ticks (``/proc/stat``), or None where unavailable.
        total: Machine-wide clock ticks, or None.
    """

    wall: float
    process: float
    idle: int | None
    total: int | None


def cpu_sample() -> CpuSample:
    """The counters now (:class:`CpuSample`)."""
    idle = total = None
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
        if fields and fields[0] == "cpu":
            ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            idle, total = ticks[3] + ticks[4], sum(ticks)
    except (OSError, ValueError, IndexError):
        pass
    return CpuSample(time.perf_counter(), time.process_time(), idle, total)


class ThreadTuner:
    """Adapts torch's intra-op thread count between batches (module rule).

    Args:
        threads: A fixed count (>= 1), or None to adapt between 1 and
            ``max_threads``.
        max_threads: Upper bound when adapting; default ``torch.get_num_threads()``.

    Use: ``n = tuner.begin()`` before a batch (it also sets
    ``torch.set_num_threads(n)``), then ``tuner.end(images)`` after it.
    ``history`` keeps ``(threads, seconds per image)`` of each batch.
    """

    def __init__(self, threads: int | None = None, max_threads: int | None = None) -> None:
        for name, value in (("threads", threads), ("max_threads", max_threads)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}: expected an int >= 1 or None, got {value!r}")
        self.fixed = threads
        self.max_threads = max_threads or torch.get_num_threads()
        self.threads = threads if threads is not None else self.max_threads
        self.history: list[tuple[int, float]] = []
        self._start: CpuSample | None = None
        self._trial: tuple[int, float] | None = None  # (count before an increase, its time per image)
        self._wait = 0

    @property
    def adaptive(self) -> bool:
        """Whether the count adapts (no fixed ``threads``)."""
        return self.fixed is None

    def begin(self) -> int:
        """Sets and returns the thread count for the next batch."""
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        self._start = cpu_sample()
        return self.threads

    def end(self, images: int) -> None:
        """Records the batch just run (``images`` of them) and picks the next count."""
        if self._start is None:
            raise RuntimeError("ThreadTuner.end() without begin()")
        start, now = self._start, cpu_sample()
        self._start = None
        wall = max(now.wall - start.wall, 1e-9)
        per_image = wall / max(images, 1)
        self.history.append((self.threads, per_image))
        if not self.adaptive or start.total is None or now.total is None or now.total <= start.total:
            return
        n, cores = self.threads, available_cores()
        used = (now.process - start.process) / wall  # cores our threads actually had
        idle = (now.idle - start.idle) / (now.total - start.total) * cores  # cores nobody used
        if self._trial is not None:  # judge the last change against the batch before it
            before, before_time = self._trial
            self._trial = None
            if per_image > KEEP_IF_FASTER * before_time:
                self.threads, self._wait = before, BACKOFF_BATCHES
                return
        if self._wait > 0:
            self._wait -= 1
            return
        if n > 1 and used < n - 0.6 and idle < 0.5:
            change = n - 1  # our threads waited for cores another process held
        elif n < self.max_threads and idle >= 0.75:
            change = n + 1  # a core sat idle
        else:
            return
        self._trial = (n, per_image)
        self.threads = change

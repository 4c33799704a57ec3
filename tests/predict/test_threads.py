"""The thread rule: fixed counts stay, adaptive counts follow the machine's free cores, pipelining
changes no result, and the caller's torch thread count comes back."""

from __future__ import annotations

import pytest
import torch

from ssmp3d.predict import Predictor
from ssmp3d.predict import threads as threads_mod
from ssmp3d.predict.threads import BACKOFF_BATCHES, CpuSample, ThreadTuner

from predict_helpers import ALL_PEAKS, seeded_images





class FakeClock:
    """Feeds ThreadTuner one (wall seconds, our CPU seconds, idle cores) per batch, 2 cores."""

    def __init__(self, monkeypatch):
        self.wall = self.cpu = 0.0
        self.idle = self.total = 0
        self.queue: list[tuple[float, float, float]] = []
        monkeypatch.setattr(threads_mod, "cpu_sample", self.sample)
        monkeypatch.setattr(threads_mod, "available_cores", lambda: 2)
        self.started = False

    def sample(self) -> CpuSample:
        if self.started:  # the end of a batch: advance by the queued batch
            wall, used, idle = self.queue.pop(0)
            self.wall += wall
            self.cpu += used * wall
            ticks = int(round(wall * 100 * 2))
            self.idle += int(round(idle / 2 * ticks))
            self.total += ticks
        self.started = not self.started
        return CpuSample(self.wall, self.cpu, self.idle, self.total)

    def batch(self, tuner: ThreadTuner, wall: float, used: float, idle: float) -> int:
        """Runs one batch of 8 images; returns the thread count it ran with."""
        n = tuner.begin()
        self.queue.append((wall, used, idle))
        tuner.end(8)
        return n


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_are_refused(bad):
    with pytest.raises(ValueError, match="threads"):
        ThreadTuner(bad)


def test_a_fixed_count_never_changes(monkeypatch, restore_threads):
    clock = FakeClock(monkeypatch)
    tuner = ThreadTuner(1, max_threads=2)
    assert [clock.batch(tuner, 1.0, 0.3, 0.0) for _ in range(5)] == [1] * 5
    assert torch.get_num_threads() == 1 and not tuner.adaptive


def test_contention_drops_a_thread_and_free_cores_bring_it_back(monkeypatch, restore_threads):
    clock = FakeClock(monkeypatch)
    tuner = ThreadTuner(None, max_threads=2)
    assert clock.batch(tuner, 1.0, 1.8, 0.1) == 2  # quiet: both threads ran
    assert clock.batch(tuner, 5.0, 0.9, 0.0) == 2  # another process took a core: our 2 threads got 0.9
    assert clock.batch(tuner, 1.2, 1.0, 0.0) == 1  # dropped; faster than 5.0 -> kept
    assert clock.batch(tuner, 1.2, 1.0, 0.0) == 1  # still busy: stays
    assert clock.batch(tuner, 1.2, 1.0, 1.0) == 1  # the other process ended: a core sat idle
    assert clock.batch(tuner, 0.8, 1.8, 0.1) == 2  # tried 2 and it is faster -> kept
    assert clock.batch(tuner, 0.8, 1.8, 0.1) == 2
    assert [n for n, _ in tuner.history] == [2, 2, 1, 1, 1, 2, 2]


def test_a_change_that_is_slower_is_undone_and_held(monkeypatch, restore_threads):
    clock = FakeClock(monkeypatch)
    tuner = ThreadTuner(None, max_threads=2)
    tuner.threads = 1
    assert clock.batch(tuner, 1.0, 1.0, 1.0) == 1  # an idle core: try 2
    assert clock.batch(tuner, 1.5, 1.2, 0.8) == 2  # slower -> back to 1, held
    runs = [clock.batch(tuner, 1.0, 1.0, 1.0) for _ in range(BACKOFF_BATCHES + 2)]
    assert runs[:BACKOFF_BATCHES + 1] == [1] * (BACKOFF_BATCHES + 1) and runs[-1] == 2


def test_without_proc_stat_the_count_stays(monkeypatch, restore_threads):
    monkeypatch.setattr(threads_mod, "cpu_sample", lambda: CpuSample(0.0, 0.0, None, None))
    tuner = ThreadTuner(None, max_threads=2)
    for _ in range(3):
        assert tuner.begin() == 2
        tuner.end(8)


def test_end_without_begin_is_an_error():
    with pytest.raises(RuntimeError, match="without begin"):
        ThreadTuner(1).end(8)


def test_pipelined_and_in_line_predictors_give_the_same_poses(tiny_checkpoint, restore_threads):
    images = seeded_images(7)
    piped = Predictor(tiny_checkpoint, device="cpu", batch_size=2, decode_config=ALL_PEAKS, threads=1)
    inline = Predictor(tiny_checkpoint, device="cpu", batch_size=2, decode_config=ALL_PEAKS, threads=1,
                       pipeline=False)
    a, b = piped.predict(images), inline.predict(images)
    c = list(piped.predict_iter(iter(images)))
    assert len(a) == len(b) == len(c) == 7 and sum(r.num_people for r in a) > 0
    for x, y, z in zip(a, b, c):
        assert x.to_dict() == y.to_dict() == z.to_dict()
    assert [n for n, _ in piped.thread_tuner.history] == [1] * 8  # 4 batches, twice


def test_the_callers_thread_count_comes_back(tiny_checkpoint, restore_threads):
    torch.set_num_threads(2)
    p = Predictor(tiny_checkpoint, device="cpu", batch_size=2, decode_config=ALL_PEAKS, threads=1)
    p.predict(seeded_images(3))
    assert torch.get_num_threads() == 2 and p.thread_tuner.history[0][0] == 1


def test_predictor_checks_pipeline_and_threads(tiny_checkpoint):
    with pytest.raises(TypeError, match="pipeline"):
        Predictor(tiny_checkpoint, device="cpu", pipeline="yes")
    with pytest.raises(ValueError, match="threads"):
        Predictor(tiny_checkpoint, device="cpu", threads=0)


def test_a_decode_error_in_the_worker_reaches_the_caller(tiny_checkpoint, monkeypatch, restore_threads):
    p = Predictor(tiny_checkpoint, device="cpu", batch_size=1, decode_config=ALL_PEAKS, threads=1)

    def broken(*args, **kwargs):
        raise ValueError("tags: contains NaN at a candidate peak (image 0)")

    monkeypatch.setattr(p, "decode", broken)
    with pytest.raises(ValueError, match="contains NaN"):
        p.predict(seeded_images(3))

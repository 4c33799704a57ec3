"""The CUDA pipeline's parts that run without a GPU: the ring of host buffers, the in-order driver,
and the stages end to end with the kernel replaced by its twin (tables packed on the host).

The GPU half (streams, events, pinned memory, equality with the in-line ``cuda`` path) is
``test_stream_cuda_gpu.py``.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch

from ssmp3d.decoding.cuda import DeviceTables, copy_tables, gather_lists, pack_tables
from ssmp3d.ops import _reference
from ssmp3d.ops._ext import has_cpu_ext
from ssmp3d.predict import Predictor
from ssmp3d.predict import stream_cuda
from ssmp3d.predict.stream import in_order
from ssmp3d.predict.stream_cuda import CudaStages, PinnedRing, run_cuda_batches
from ssmp3d.skeleton import PANOPTIC19

from predict_helpers import ALL_PEAKS, chunks, seeded_images





# ----------------------------------------------------------------------------
# PinnedRing


def test_ring_hands_out_slots_in_turn_and_reuses_them():
    ring = PinnedRing(2, torch.uint8, pin_memory=False)
    seen = []
    for n in (100, 100, 80, 100, 60):
        slot, buf = ring.take(n)
        assert buf.numel() == n and buf.dtype == torch.uint8
        seen.append((slot, buf.data_ptr()))
    assert [s for s, _ in seen] == [0, 1, 0, 1, 0]
    assert seen[0][1] == seen[2][1] == seen[4][1] and seen[1][1] == seen[3][1] != seen[0][1]
    assert ring.allocations == 2 and len(ring.buffers()) == 2


def test_ring_grows_a_slot_only_when_a_request_is_larger():
    ring = PinnedRing(2, torch.float32, pin_memory=False)
    ring.take(10)
    ring.take(10)
    _, big = ring.take(30)  # slot 0 grows
    _, small = ring.take(5)  # slot 1 keeps its buffer
    assert ring.allocations == 3 and big.numel() == 30 and small.numel() == 5
    assert [b.numel() for b in ring.buffers()] == [30, 10]


def test_ring_waits_for_a_slots_last_user():
    ring = PinnedRing(2, pin_memory=False)
    calls = []
    slot, _ = ring.take(8)
    ring.hold(slot, lambda: calls.append("slot 0 released"))
    ring.take(8)  # slot 1: no hold
    assert calls == []
    ring.take(8)  # slot 0 again: waits for its hold first
    assert calls == ["slot 0 released"]
    ring.take(8)
    ring.take(8)  # the hold was used once
    assert calls == ["slot 0 released"]


def test_ring_blocks_until_the_reader_is_done():
    ring = PinnedRing(1, pin_memory=False)
    slot, _ = ring.take(4)
    done = threading.Event()
    ring.hold(slot, done.wait)
    got = []
    taker = threading.Thread(target=lambda: got.append(ring.take(4)))
    taker.start()
    time.sleep(0.05)
    assert not got  # still held by the reader
    done.set()
    taker.join(5)
    assert got and got[0][0] == 0


def test_ring_release_all_forgets_holds():
    ring = PinnedRing(1, pin_memory=False)
    slot, _ = ring.take(4)
    ring.hold(slot, threading.Event().wait)  # never set
    ring.release_all()
    assert ring.take(4)[0] == 0


@pytest.mark.parametrize(("kwargs", "error", "name"), [
    ({"slots": 0}, ValueError, "slots"), ({"slots": True}, ValueError, "slots"),
    ({"dtype": "uint8"}, TypeError, "dtype")])
def test_ring_checks_its_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        PinnedRing(**{"pin_memory": False, **kwargs})


def test_ring_refuses_a_negative_size():
    with pytest.raises(ValueError, match="numel"):
        PinnedRing(pin_memory=False).take(-1)


# ----------------------------------------------------------------------------
# in_order


def test_in_order_finishes_one_item_behind_in_a_worker():
    log = []
    caller = threading.get_ident()

    def items():
        for i in range(4):
            log.append(f"made {i}")
            yield i

    def finish(i):
        assert threading.get_ident() != caller
        return i * 10

    out = []
    for r in in_order(items(), finish):
        log.append(f"got {r // 10}")
        out.append(r)
    assert out == [0, 10, 20, 30]
    assert log.index("made 1") < log.index("got 0")  # item 1 was made before result 0 was due
    assert log.index("made 3") < log.index("got 2")


def test_in_order_raises_a_finish_error_when_its_result_is_due():
    def finish(i):
        if i == 2:
            raise ValueError("tags: contains NaN at a candidate peak (image 0)")
        return i

    got = []
    with pytest.raises(ValueError, match="contains NaN"):
        for r in in_order(iter(range(5)), finish):
            got.append(r)
    assert got == [0, 1]


def test_in_order_in_line_runs_in_the_callers_thread():
    caller = threading.get_ident()
    threads = []

    def finish(i):
        threads.append(threading.get_ident() == caller)
        return i

    assert list(in_order(iter(range(3)), finish, in_line=lambda: True)) == [0, 1, 2]
    assert threads == [True] * 3


# ----------------------------------------------------------------------------
# The stages end to end on the CPU: the kernel is its twin, the copy a host copy.

needs_cpp = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")


def twin_gather(heat, tags, orpm, config, skeleton):
    """``gather_tables`` with the kernel replaced by its twin: tables packed in a CPU tensor."""
    lists = gather_lists(skeleton, orpm is not None)
    sec = _reference.nms_gather_tables(heat, tags, orpm, config.det_threshold, config.nms_radius,
                                       config.max_candidates, lists.start, lists.maps)
    b, k, h, w = heat.shape
    d = sec["tags_at"].shape[3]
    buf = pack_tables(sec, b, k, config.max_candidates, d, lists.total)
    return DeviceTables(torch.from_numpy(buf), (b, k, h, w, d), lists, orpm is not None)


@pytest.fixture
def twin(monkeypatch):
    monkeypatch.setattr(stream_cuda, "gather_tables", twin_gather)


def _predictor(checkpoint, **kwargs):
    return Predictor(checkpoint, device="cpu", backend="cpu", batch_size=2, decode_config=ALL_PEAKS, threads=1,
                     **kwargs)


@needs_cpp
@pytest.mark.parametrize("mixed", [True, False], ids=["mixed-sizes", "one-size"])
def test_stages_equal_the_in_line_decode(tiny_checkpoint, twin, restore_threads, mixed):
    images = seeded_images(7, mixed)  # 4 batches, the last one partial; mixed: several letterboxes per batch
    p = _predictor(tiny_checkpoint, pipeline=False)
    want = p.predict(images)
    got = [r for batch in run_cuda_batches(p, chunks(images, 2), "rgb") for r in batch]
    assert len(got) == 7 and sum(r.num_people for r in want) > 0
    assert [r.to_dict() for r in got] == [r.to_dict() for r in want]


@needs_cpp
def test_stages_reuse_their_buffers(tiny_checkpoint, twin, restore_threads):
    p = _predictor(tiny_checkpoint)
    stages = CudaStages(p)
    assert stages.stream is None and not stages.tables.pin_memory  # on the CPU: no stream, no pinning
    batches = list(run_cuda_batches(p, chunks(seeded_images(11, mixed=False), 2), "rgb", stages=stages))
    assert [len(b) for b in batches] == [2] * 5 + [1]
    assert stages.inputs.allocations == 2 and stages.tables.allocations == 2


@needs_cpp
def test_stages_raise_a_decode_error_at_its_batch(tiny_checkpoint, twin, restore_threads, monkeypatch):
    p = _predictor(tiny_checkpoint)
    calls = []
    real = stream_cuda.decode_host

    def failing(staged, *args):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("heatmaps: contains NaN")
        return real(staged, *args)

    monkeypatch.setattr(stream_cuda, "decode_host", failing)
    got = []
    with pytest.raises(ValueError, match="heatmaps: contains NaN"):
        for batch in run_cuda_batches(p, chunks(seeded_images(10, mixed=False), 2), "rgb"):
            got.append(batch)
    assert len(got) == 2


@needs_cpp
def test_stages_raise_an_enqueue_error_at_once(tiny_checkpoint, twin, restore_threads):
    p = _predictor(tiny_checkpoint)
    bad = seeded_images(4, mixed=False)
    bad[2] = bad[2][..., 0]  # not [H, W, 3]
    with pytest.raises(ValueError, match=r"images\[0\]"):
        list(run_cuda_batches(p, chunks(bad, 2), "rgb"))


def test_copy_tables_checks_the_host_buffer():
    launched = DeviceTables(torch.zeros(128, dtype=torch.uint8), (1, 19, 4, 4, 1), gather_lists(PANOPTIC19), True)
    staged = copy_tables(launched, torch.ones(128, dtype=torch.uint8))
    assert staged.ready is None and staged.tables.shape == (128,) and not staged.tables.any()
    with pytest.raises(ValueError, match="host"):
        copy_tables(launched, torch.ones(64, dtype=torch.uint8))
    with pytest.raises(ValueError, match="host"):
        copy_tables(launched, torch.ones(128, dtype=torch.float32))

"""The pipelined CUDA Predictor on a GPU (marked ``cuda``; skipped with the reason elsewhere).

Checks that the pipeline (:mod:`ssmp3d.predict.stream_cuda`) gives exactly the in-line
``cuda`` path's poses over several batches, the last one partial, with one or several
letterboxes per batch; that a decode error comes out at its batch and a NaN network the
in-line error; that its two rings of pinned buffers are allocated once and reused; and that
the side-stream copy is ordered after the kernel and keeps the device buffer from being
reused before it is done (``record_stream``).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
import torch

from ssmp3d.decoding import DecodeConfig, DecodeResult, decode
from ssmp3d.decoding.cuda import copy_tables, decode_host, gather_lists, gather_on_device, gather_tables, table_layout
from ssmp3d.geometry import MapTransform
from ssmp3d.ops._ext import cuda_unavailable_reason
from ssmp3d.predict import Predictor
from ssmp3d.predict import predictor as predictor_mod
from ssmp3d.predict import stream_cuda
from ssmp3d.predict.stream_cuda import CudaStages, run_cuda_batches
from ssmp3d.skeleton import PANOPTIC19

from predict_helpers import ALL_PEAKS, chunks, seeded_images

REASON = cuda_unavailable_reason()
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(REASON is not None, reason=str(REASON))]



def _predictor(checkpoint, pipeline: bool, batch_size: int = 2) -> Predictor:
    return Predictor(checkpoint, device="cuda", backend="cuda", batch_size=batch_size, decode_config=ALL_PEAKS,
                     threads=1, pipeline=pipeline)


def _dicts(results):
    return [r.to_dict() for r in results]


@pytest.mark.parametrize(("n", "batch_size", "mixed"), [(7, 2, True), (7, 2, False), (70, 32, True)])
def test_pipelined_equals_in_line(tiny_checkpoint, n, batch_size, mixed):
    images = seeded_images(n, mixed)
    piped, inline = _predictor(tiny_checkpoint, True, batch_size), _predictor(tiny_checkpoint, False, batch_size)
    want = inline.predict(images)
    assert sum(r.num_people for r in want) > 0
    assert _dicts(piped.predict(images)) == _dicts(want)
    assert _dicts(piped.predict_iter(iter(images))) == _dicts(want)
    assert _dicts(piped.predict(images)) == _dicts(want)  # a second call: new stages, same poses


def test_pipeline_false_stays_in_line(tiny_checkpoint, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pipeline=False must not use the CUDA pipeline")

    monkeypatch.setattr(predictor_mod, "run_cuda_batches", refuse)
    assert len(_predictor(tiny_checkpoint, False).predict(seeded_images(3))) == 3


def test_a_decode_error_is_raised_at_its_batch(tiny_checkpoint, monkeypatch):
    p = _predictor(tiny_checkpoint, True)
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
        for poses in p.predict_iter(iter(seeded_images(10, mixed=False))):
            got.append(poses)
    assert len(got) == 4  # batches 0 and 1, then batch 2's error


def test_a_nan_network_gives_the_in_line_error(tiny_checkpoint):
    messages = []
    for pipeline in (False, True):
        p = _predictor(tiny_checkpoint, pipeline)
        with torch.no_grad():
            next(p.model.parameters()).fill_(float("nan"))
        with pytest.raises(ValueError) as info:
            p.predict(seeded_images(5))
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "heatmaps: contains NaN" in messages[0]


def test_pinned_buffers_are_allocated_once_and_reused(tiny_checkpoint):
    p = _predictor(tiny_checkpoint, True)
    stages = CudaStages(p)
    images = seeded_images(11, mixed=False)
    got = [r for batch in run_cuda_batches(p, chunks(images, 2), "rgb", stages=stages) for r in batch]
    assert _dicts(got) == _dicts(_predictor(tiny_checkpoint, False).predict(images))
    assert stages.inputs.allocations == 2 and stages.tables.allocations == 2
    assert all(b.is_pinned() for b in stages.inputs.buffers() + stages.tables.buffers())
    assert stages.stream is not None and stages.stream != torch.cuda.current_stream()


def _maps(b: int = 8, seed: int = 3):
    gen = torch.Generator().manual_seed(seed)
    hm = torch.rand((b, 19, 32, 32), generator=gen)
    return hm.cuda(), torch.randn((b, 19, 1, 32, 32), generator=gen).cuda(), \
        torch.randn((b, 19, 3, 32, 32), generator=gen).cuda()


def test_side_stream_copy_waits_for_the_kernel_and_keeps_the_buffer():
    config = DecodeConfig(det_threshold=0.3)
    hm, tg, om = _maps()
    lists = gather_lists(PANOPTIC19)
    want, d = gather_on_device(hm, tg, om, config, lists)
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        torch.cuda._sleep(50_000_000)  # the copy starts late, long after the current stream moved on
    launched = gather_tables(hm, tg, om, config, PANOPTIC19)
    host = torch.empty(launched.nbytes, dtype=torch.uint8, pin_memory=True)
    staged = copy_tables(launched, host, side, blocking=True)
    del launched  # the device buffer goes back to the allocator...
    junk = torch.full((host.numel(),), 255, dtype=torch.uint8, device="cuda")  # ...which must not hand it out yet
    staged.wait()
    size, layout = table_layout(8, 19, config.max_candidates, d, lists.total)
    assert staged.tables.shape == (size,) and junk.numel() == size
    for name, (shape, dtype, off) in layout.items():
        a, b = np.ndarray(shape, dtype, want, off), np.ndarray(shape, dtype, staged.tables, off)
        assert np.array_equal(a, b, equal_nan=True), name
    tf = MapTransform(stride=4)
    ref = decode(hm, tg, om, config, backend="cuda", num_threads=1)
    got = decode_host(staged, config, PANOPTIC19, tf, 1)
    for f in fields(DecodeResult):
        a, b = getattr(ref, f.name), getattr(got, f.name)
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f.name

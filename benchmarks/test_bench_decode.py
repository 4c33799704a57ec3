"""Per-frame latency of the decoders: the reference (``backend="python"``) and
the compiled one (``backend="cpu"``), side by side.

Maps are built directly: 19 x 128 x 128, N people-like blobs (one Gaussian
peak per joint around a body centre, a constant tag disc per person), random
ORPM. torch runs on one thread, and so does the cpu decoder unless the case
says otherwise (batch 64 is also timed with 2 threads). Run with::

    PYTHONPATH=src/python python -m pytest benchmarks/test_bench_decode.py --benchmark-only

``extra_info`` holds the per-frame milliseconds (median round / batch size),
the number of people decoded per frame and, for the cpu rows, the ratio to
the python decoder on the same maps (``speedup_vs_python``).
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
import torch

from ssmp3d.decoding import DecodeConfig, available_backends, decode
from ssmp3d.skeleton import PANOPTIC19

K, H, W = PANOPTIC19.num_joints, 128, 128


def people_maps(num_people: int, batch: int, seed: int = 0):
    """``heatmaps [B, K, H, W]``, ``tags [B, K, H, W]``, ``orpm [B, K, 3, H, W]``
    float32 with ``num_people`` blobs per image."""
    rng = np.random.default_rng(seed)
    hm = np.zeros((batch, K, H, W), np.float32)
    tg = np.zeros((batch, K, H, W), np.float32)
    om = rng.normal(scale=0.2, size=(batch, K, 3, H, W)).astype(np.float32)
    sigma, r = 2.0, 4
    oy, ox = np.mgrid[-r : r + 1, -r : r + 1]
    gauss = np.exp(-(ox**2 + oy**2) / (2 * sigma**2)).astype(np.float32)
    disc = ox**2 + oy**2 <= 4
    for b in range(batch):
        centres = rng.uniform(16, 112, size=(num_people, 2))
        for p in range(num_people):
            joints = np.clip(centres[p] + rng.normal(scale=8.0, size=(K, 2)), r, W - 1 - r).astype(int)
            peaks = rng.uniform(0.4, 1.0, K).astype(np.float32)
            for k, (x, y) in enumerate(joints):
                win = (b, k, slice(y - r, y + r + 1), slice(x - r, x + r + 1))
                hm[win] = np.maximum(hm[win], peaks[k] * gauss)
                tg[win][disc] = 2.0 * p
    return hm, tg, om


@pytest.fixture(autouse=True)
def one_torch_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


_PYTHON_MS: dict[tuple[int, int], float] = {}


def python_per_frame_ms(hm, tg, om, config, num_people, batch) -> float:
    """Median per-frame ms of the python decoder on these maps (timed once per case)."""
    key = (num_people, batch)
    if key not in _PYTHON_MS:
        times = []
        for _ in range(5 if batch == 1 else 2):
            start = time.perf_counter()
            decode(hm, tg, om, config, backend="python")
            times.append(time.perf_counter() - start)
        _PYTHON_MS[key] = statistics.median(times) / batch * 1e3
    return _PYTHON_MS[key]


@pytest.mark.parametrize("batch", [1, 64])
@pytest.mark.parametrize("num_people", [1, 5, 10, 20])
def test_decode_python(benchmark, num_people, batch):
    hm, tg, om = people_maps(num_people, batch)
    config = DecodeConfig()
    decode(hm, tg, om, config)  # warm-up
    result = benchmark.pedantic(decode, args=(hm, tg, om, config), kwargs={"backend": "python"},
                                rounds=20 if batch == 1 else 3, warmup_rounds=1)
    benchmark.extra_info["backend"] = "python"
    benchmark.extra_info["batch"] = batch
    benchmark.extra_info["people_rendered"] = num_people
    benchmark.extra_info["people_decoded_per_frame"] = float(result.num_people.mean())
    benchmark.extra_info["per_frame_ms"] = benchmark.stats.stats.median / batch * 1e3
    _PYTHON_MS[(num_people, batch)] = benchmark.extra_info["per_frame_ms"]
    assert result.num_people.min() >= 1


@pytest.mark.skipif("cpu" not in available_backends(), reason="ssmp3d._C is not built")
@pytest.mark.parametrize(("batch", "threads"), [(1, 1), (64, 1), (64, 2)])
@pytest.mark.parametrize("num_people", [1, 5, 10, 20])
def test_decode_cpu(benchmark, num_people, batch, threads):
    hm, tg, om = people_maps(num_people, batch)
    config = DecodeConfig()
    kwargs = {"backend": "cpu", "num_threads": threads}
    decode(hm, tg, om, config, **kwargs)  # warm-up
    result = benchmark.pedantic(decode, args=(hm, tg, om, config), kwargs=kwargs,
                                rounds=500 if batch == 1 else 30, warmup_rounds=5)
    per_frame = benchmark.stats.stats.median / batch * 1e3
    python_ms = python_per_frame_ms(hm, tg, om, config, num_people, batch)
    benchmark.extra_info.update(backend="cpu", batch=batch, threads=threads, people_rendered=num_people,
                                people_decoded_per_frame=float(result.num_people.mean()), per_frame_ms=per_frame,
                                python_per_frame_ms=python_ms, speedup_vs_python=python_ms / per_frame)
    assert result.num_people.min() >= 1


def network_output_views(num_people: int, batch: int, dtype: torch.dtype = torch.float32):
    """The maps of :func:`people_maps` as the channel slices of one ``[B, 5K, H, W]`` network output
    of ``dtype``."""
    from ssmp3d.model import split_prediction

    hm, tg, om = people_maps(num_people, batch)
    pred = torch.from_numpy(np.concatenate([hm, tg, om.reshape(batch, 3 * K, H, W)], axis=1)).to(dtype)
    return tuple(split_prediction(pred, K, 1))


@pytest.mark.skipif("cpu" not in available_backends(), reason="ssmp3d._C is not built")
@pytest.mark.parametrize("batch", [1, 8, 64])
@pytest.mark.parametrize("layout", ["views", "contiguous", "bfloat16_views", "float16_views"])
def test_decode_cpu_network_views(benchmark, layout, batch):
    """Network-output views (read in place through their strides) beside contiguous copies of
    the same maps: the per-frame times should agree within noise. bfloat16 / float16 network
    outputs are read in their own dtype (no conversion pass). 10 people, one thread."""
    dtype = {"bfloat16_views": torch.bfloat16, "float16_views": torch.float16}.get(layout, torch.float32)
    views = network_output_views(10, batch, dtype)
    maps = tuple(x.contiguous() for x in views) if layout == "contiguous" else views
    config, kwargs = DecodeConfig(), {"backend": "cpu", "num_threads": 1}
    decode(*maps, config, **kwargs)  # warm-up
    result = benchmark.pedantic(decode, args=(*maps, config), kwargs=kwargs,
                                rounds=300 if batch == 1 else 30, warmup_rounds=5)
    benchmark.extra_info.update(backend="cpu", layout=layout, batch=batch, threads=1, dtype=str(dtype),
                                per_frame_ms=benchmark.stats.stats.median / batch * 1e3,
                                contiguous_inputs=all(x.is_contiguous() for x in maps))
    assert result.num_people.min() >= 1


def _cuda_ready() -> bool:
    return "cuda" in available_backends()


@pytest.mark.cuda
@pytest.mark.skipif(not _cuda_ready(), reason="needs a GPU and ssmp3d._C_cuda")
@pytest.mark.parametrize("batch", [1, 64])
@pytest.mark.parametrize("num_people", [1, 5, 10, 20])
def test_decode_cuda(benchmark, num_people, batch):
    """The whole call (kernel, one copy, host grouping) is timed: it returns host results,
    so its synchronisation is inside the timed call. The host half uses all cores."""
    hm, tg, om = (torch.from_numpy(x).cuda() for x in people_maps(num_people, batch))
    config = DecodeConfig()
    kwargs = {"backend": "cuda", "num_threads": 0}
    for _ in range(5):
        decode(hm, tg, om, config, **kwargs)  # warm-up (allocators, pinned memory)
    result = benchmark.pedantic(decode, args=(hm, tg, om, config), kwargs=kwargs,
                                rounds=500 if batch == 1 else 50, warmup_rounds=5)
    per_frame = benchmark.stats.stats.median / batch * 1e3
    python_ms = python_per_frame_ms(*(x.cpu().numpy() for x in (hm, tg, om)), config, num_people, batch)
    cpu_start = time.perf_counter()
    decode(*(x.cpu().numpy() for x in (hm, tg, om)), config, backend="cpu", num_threads=1)
    cpu_ms = (time.perf_counter() - cpu_start) / batch * 1e3
    benchmark.extra_info.update(backend="cuda", batch=batch, people_rendered=num_people,
                                people_decoded_per_frame=float(result.num_people.mean()), per_frame_ms=per_frame,
                                python_per_frame_ms=python_ms, speedup_vs_python=python_ms / per_frame,
                                cpu_1thread_per_frame_ms=cpu_ms, device=torch.cuda.get_device_name())
    assert result.num_people.min() >= 1


@pytest.mark.cuda
@pytest.mark.skipif(not _cuda_ready(), reason="needs a GPU and ssmp3d._C_cuda")
@pytest.mark.parametrize("batch", [1, 64])
def test_nms_gather_kernel_vs_bandwidth_floor(benchmark, batch):
    """Device time of the fused NMS + gather kernel (CUDA events) beside the floor:
    the bytes the heatmaps occupy over the measured device copy bandwidth."""
    from ssmp3d.bench import copy_bandwidth
    from ssmp3d.decoding.cuda import gather_lists, launch_gather

    hm, tg, om = (torch.from_numpy(x).cuda() for x in people_maps(10, batch))
    config, lists = DecodeConfig(), gather_lists(PANOPTIC19)

    def kernel_seconds():
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        launch_gather(hm, tg, om, config, lists)
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3

    for _ in range(10):
        kernel_seconds()
    benchmark.pedantic(kernel_seconds, rounds=200, warmup_rounds=5)
    device_s = statistics.median(kernel_seconds() for _ in range(200))
    bw = copy_bandwidth(hm.device)
    floor_s = hm[0].numel() * hm.element_size() / bw
    benchmark.extra_info.update(batch=batch, kernel_per_frame_us=1e6 * device_s / batch,
                                floor_per_frame_us=1e6 * floor_s, ratio_to_floor=device_s / batch / floor_s,
                                copy_bandwidth_GBps=bw / 1e9, device=torch.cuda.get_device_name())

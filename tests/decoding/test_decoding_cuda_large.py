"""The ``cuda`` backend at the sizes a network gives it (GPU only, marked ``cuda``).

Written before the first run on an H100 / H200: 128 x 128 maps (thousands of
peaks on noise, so the kernel's many-peaks path runs), the non-contiguous
heatmap / tag / ORPM views of one ``[B, 95, H, W]`` network output, M = 4096,
more blocks than one wave (B * K = 1216 and 9728), and tensors on a device
other than the current one. Every result must equal the ``cpu`` backend bit
for bit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from ssmp3d.decoding import DecodeConfig, decode
from ssmp3d.decoding.cuda import gather_lists, gather_on_device, table_layout
from ssmp3d.model import split_prediction
from ssmp3d.ops._ext import cuda_unavailable_reason, has_cpu_ext
from ssmp3d.skeleton import PANOPTIC19

from test_decoding_cpu import PAPER, assert_same, random_frames
from test_decoding_cuda import twin_tables

REASON = cuda_unavailable_reason() if has_cpu_ext() else "ssmp3d._C is not built"
pytestmark = [pytest.mark.cuda, pytest.mark.skipif(REASON is not None, reason=str(REASON))]

K, D = 19, 1


def network_output(rng: np.random.Generator, b: int, h: int, w: int, dtype: torch.dtype,
                   channels_last: bool = False) -> torch.Tensor:
    """A ``[B, K * (4 + D), H, W]`` CUDA tensor laid out like the network's last layer."""
    hm, tg, om = random_frames(rng, b, "blobs", k=K, h=h, w=w, d=D)
    pred = torch.cat([torch.from_numpy(hm), torch.from_numpy(tg).reshape(b, K * D, h, w), torch.from_numpy(om).flatten(1, 2)],
                     dim=1).to(dtype)
    pred = pred.cuda()
    return pred.contiguous(memory_format=torch.channels_last) if channels_last else pred


def cpu_views(views):
    return [v.cpu() for v in views]


@pytest.mark.parametrize("kind", ["noise", "plateaus", "blobs"])
def test_128x128_maps_equal_cpu(kind):
    rng = np.random.default_rng(40 + ["noise", "plateaus", "blobs"].index(kind))
    maps = random_frames(rng, 4, kind, h=128, w=128)
    dev = [torch.from_numpy(x).cuda() for x in maps]
    for config in (DecodeConfig(), DecodeConfig(nms_radius=2, **PAPER),
                   DecodeConfig(nms_radius=0, max_candidates=200, det_threshold=0.3, **PAPER)):
        assert_same(decode(*maps, config, backend="cpu"), decode(*dev, config, backend="cuda"), f"{kind} {config}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_network_output_views_equal_cpu(dtype, channels_last):
    rng = np.random.default_rng(50)
    pred = network_output(rng, 6, 64, 48, dtype, channels_last)
    views = split_prediction(pred, K, D)
    assert not views.heatmaps.is_contiguous() and not views.orpm.is_contiguous()
    got = decode(views.heatmaps, views.tags, views.orpm, backend="cuda")
    assert_same(decode(*cpu_views(views), backend="cpu"), got, f"{dtype} channels_last={channels_last}")
    got2d = decode(views.heatmaps, views.tags, None, backend="cuda")
    assert_same(decode(views.heatmaps.cpu(), views.tags.cpu(), None, backend="cpu"), got2d)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_network_output_views_are_read_in_place(dtype):
    """Decoding the views allocates nothing near the size of the maps: the kernel reads them
    through their strides (MapLayout), no contiguous copy is made."""
    rng = np.random.default_rng(51)
    pred = network_output(rng, 32, 128, 128, dtype)
    views = split_prediction(pred, K, D)
    decode(*views, backend="cuda")  # warm-up: gather lists, allocator
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    decode(*views, backend="cuda")
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - before
    heat_bytes = views.heatmaps.numel() * views.heatmaps.element_size()
    assert extra < heat_bytes / 2, f"{extra} bytes allocated while decoding {heat_bytes} bytes of heatmaps"


@pytest.mark.parametrize("radius", [0, 1])
def test_max_candidates_4096(radius):
    rng = np.random.default_rng(60 + radius)
    maps = random_frames(rng, 2, "noise", h=128, w=128)
    config = DecodeConfig(max_candidates=4096, nms_radius=radius, det_threshold=0.05, **PAPER)
    lists = gather_lists(PANOPTIC19)
    got, d = gather_on_device(*[torch.from_numpy(x).cuda() for x in maps], config, lists)
    want, _ = twin_tables(*maps, config)
    _, layout = table_layout(2, K, 4096, d, lists.total)
    for name, (shape, dt, off) in layout.items():
        assert np.array_equal(np.ndarray(shape, dt, want, off), np.ndarray(shape, dt, got, off)), name
    # The whole decode at M = 4096, with fewer candidates (a 4096-candidate greedy grouping is slow on the host).
    one, fewer = [x[:1] for x in maps], replace(config, det_threshold=0.9)
    assert_same(decode(*one, fewer, backend="cpu"), decode(*[torch.from_numpy(x).cuda() for x in one], fewer,
                                                           backend="cuda"))


@pytest.mark.parametrize("b", [64, 512])
def test_more_blocks_than_one_wave(b):
    rng = np.random.default_rng(70 + b)
    maps = random_frames(rng, b, "blobs", h=32, w=32)
    dev = [torch.from_numpy(x).cuda() for x in maps]
    config = DecodeConfig(**PAPER) if b == 512 else DecodeConfig()
    assert_same(decode(*maps, config, backend="cpu", num_threads=0),
                decode(*dev, config, backend="cuda", num_threads=0), f"B={b}")


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs")
def test_tensors_on_a_non_current_device():
    from ssmp3d.ops import _device_cache

    rng = np.random.default_rng(80)
    maps = random_frames(rng, 4, "blobs", h=64, w=64)
    torch.cuda.set_device(0)
    other = [torch.from_numpy(x).to("cuda:1") for x in maps]
    assert_same(decode(*maps, backend="cpu"), decode(*other, backend="cuda"))
    assert torch.cuda.current_device() == 0
    on_1 = [t for (kind, index, *_), (t, _) in _device_cache._ENTRIES.items() if kind == "cuda" and index == 1]
    assert on_1 and all(t.device == torch.device("cuda:1") for t in on_1)
    pred = network_output(rng, 3, 32, 32, torch.bfloat16).to("cuda:1")
    views = split_prediction(pred, K, D)
    assert_same(decode(*cpu_views(views), backend="cpu"), decode(*views, backend="cuda"))

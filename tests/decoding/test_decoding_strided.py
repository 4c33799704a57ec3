"""Network-output views are decoded in place, with the results of contiguous copies.

The network's three heads are channel slices of one ``[B, K * (4 + D), H, W]``
tensor (:func:`ssmp3d.model.split_prediction`): not contiguous, but each
``[H, W]`` map is. The ``cpu`` decoder and the CPU NMS ops read such inputs
through their strides (``src/csrc/map_strides.h``): no input-sized copy, the
same outputs bit for bit. Layouts whose maps are not contiguous (channels-last,
transposed maps) still decode correctly, through a copy. float16 and
bfloat16 maps are read in their own dtype (widened to float32 as read) and
decode exactly as their float32 copies.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.decoding import DecodeConfig, decode
from ssmp3d.decoding.native import map_inputs
from ssmp3d.grouping_bench.maps import AmbiguityConfig, make_frame
from ssmp3d.model import split_prediction
from ssmp3d.ops import heatmap_nms, nms_gather
from ssmp3d.ops._ext import has_cpu_ext
from ssmp3d.ops._maps import in_place

from test_decoding_cpu import assert_same

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

K = 19


def network_output(b: int, d: int = 1, seed: int = 0) -> torch.Tensor:
    """``[B, K * (4 + D), 32, 32]`` with people-like heatmaps and tags, random ORPM."""
    rng = np.random.default_rng(seed)
    frames = [make_frame(3 + i % 4, seed + i, AmbiguityConfig(2.0, 0.1), image_size=128) for i in range(b)]
    pred = torch.from_numpy(rng.normal(scale=0.3, size=(b, K * (4 + d), 32, 32)).astype(np.float32))
    for i, f in enumerate(frames):
        pred[i, :K] = torch.from_numpy(f.heatmaps)
        for j in range(d):
            pred[i, K + j : K + K * d : d] = torch.from_numpy(f.tags) * (j + 1)
    return pred


def assert_views_decode_like_float32_copies(out, readout: str | None) -> None:
    """The views of ``out`` (a split network output) decode, on 1 and 2 threads and through the
    python reference, exactly as contiguous float32 copies of them do; some people are found."""
    config = DecodeConfig(readout=readout or "full")
    orpm = out.orpm if readout else None
    copies = [x.float().contiguous() if x is not None else None for x in (out.heatmaps, out.tags, orpm)]
    want = decode(*copies, config, backend="cpu", num_threads=1)
    assert want.num_people.sum() > 0
    for threads in (1, 2):
        assert_same(want, decode(out.heatmaps, out.tags, orpm, config, backend="cpu", num_threads=threads))
    assert_same(want, decode(out.heatmaps, out.tags, orpm, config, backend="python"))


@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("readout", ["full", "naive", None])
def test_views_decode_like_contiguous_copies(d, readout):
    pred = network_output(4, d, seed=d)
    out = split_prediction(pred, K, d)
    assert not out.heatmaps.is_contiguous() and not out.orpm.is_contiguous()
    assert_views_decode_like_float32_copies(out, readout)


def test_views_are_read_in_place():
    """The addresses handed to the C++ decoder are the views' own: no copy is made."""
    out = split_prediction(network_output(2), K, 1)
    keep, addresses, strides, types = map_inputs(out.heatmaps, out.tags, out.orpm)
    assert types == (0, 0, 0)
    assert addresses == (out.heatmaps.data_ptr(), out.tags.data_ptr(), out.orpm.data_ptr())
    assert [x.data_ptr() for x in keep] == list(addresses)  # what is kept alive is the input itself
    c = K * 5 * 32 * 32  # the batch stride of the network output
    assert strides == (c, 1024, c, 1024, 1024, c, 3 * 1024, 1024)
    assert in_place(out.heatmaps.numpy()) and in_place(out.orpm)


@pytest.mark.parametrize("layout", ["channels_last", "transposed", "expanded", "numpy_view", "float16",
                                    "float16_transposed", "numpy_float16"])
def test_other_layouts_decode_like_contiguous_copies(layout):
    pred = network_output(2, seed=7)
    if layout == "channels_last":
        pred = pred.to(memory_format=torch.channels_last)
    out = split_prediction(pred, K, 1)
    hm, tg, om = out.heatmaps, out.tags, out.orpm
    if layout == "transposed":  # maps stored transposed: x stride W
        hm, tg, om = (x.transpose(-1, -2).contiguous().transpose(-1, -2) for x in (hm, tg, om))
    elif layout == "expanded":  # one image repeated by a zero batch stride
        hm, tg, om = (x[:1].expand_as(x) for x in (hm, tg, om))
    elif layout == "numpy_view":
        hm, tg, om = (x.numpy() for x in (hm, tg, om))
    elif layout == "float16":
        hm, tg, om = (x.half() for x in (hm, tg, om))
    elif layout == "float16_transposed":  # a float16 copy, not a float32 one
        hm, tg, om = (x.half().transpose(-1, -2).contiguous().transpose(-1, -2) for x in (hm, tg, om))
    elif layout == "numpy_float16":
        hm, tg, om = (x.half().numpy() for x in (hm, tg, om))
    copies = [np.ascontiguousarray(np.asarray(x, dtype=np.float32)) if isinstance(x, np.ndarray)
              else x.float().contiguous() for x in (hm, tg, om)]
    want = decode(*copies, DecodeConfig(), backend="cpu")
    assert_same(want, decode(hm, tg, om, DecodeConfig(), backend="cpu"))
    assert in_place(hm) == (layout in ("expanded", "numpy_view", "float16", "numpy_float16"))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("d", [1, 2])
@pytest.mark.parametrize("readout", ["full", "naive", None])
def test_half_views_are_read_in_place_and_decode_like_float32(dtype, d, readout):
    """float16 / bfloat16 network outputs: the C++ decoder gets the views' own addresses and type
    codes (no conversion pass) and returns what their exact float32 copies give, on 1 and 2
    threads, and what the python reference gives; refinement and read-out included."""
    pred = network_output(4, d, seed=10 + d).to(dtype)
    out = split_prediction(pred, K, d)
    orpm = out.orpm if readout else None
    keep, addresses, strides, types = map_inputs(out.heatmaps, out.tags, orpm)
    code = 1 if dtype == torch.float16 else 2
    assert addresses[:2] == (out.heatmaps.data_ptr(), out.tags.data_ptr())
    assert types == (code, code, code if readout else 0)
    assert keep[0] is out.heatmaps and in_place(out.heatmaps)
    assert_views_decode_like_float32_copies(out, readout)


def test_mixed_dtypes_decode_like_float32():
    """Each input has its own type code: float16 heatmaps, bfloat16 tags, float32 ORPM."""
    out = split_prediction(network_output(3, seed=21), K, 1)
    hm, tg, om = out.heatmaps.half(), out.tags.bfloat16(), out.orpm
    want = decode(hm.float(), tg.float(), om, DecodeConfig(), backend="cpu")
    assert_same(want, decode(hm, tg, om, DecodeConfig(), backend="cpu"))
    assert map_inputs(hm, tg, om)[3] == (1, 2, 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_heatmap_nms_reads_views_in_place(dtype):
    pred = network_output(3).to(dtype)
    view = split_prediction(pred, K, 1).heatmaps
    pairs = [(view, view.contiguous()), (view, view.float())]
    if dtype != torch.bfloat16:
        pairs.append((view.numpy(), view.contiguous().numpy()))
    for x, y in pairs:
        for got, want in zip(heatmap_nms(x, 0.1, 2, 20), heatmap_nms(y, 0.1, 2, 20)):
            got, want = torch.as_tensor(np.asarray(got) if isinstance(got, np.ndarray) else got), torch.as_tensor(want)
            assert torch.equal(got.to(want.dtype), want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_nms_gather_reads_views_in_place(dtype):
    out = split_prediction(network_output(3, d=2).to(dtype), K, 2)
    got = nms_gather(out.heatmaps, out.tags, out.orpm, 0.1, 1, 20)
    want = nms_gather(*(x.float().contiguous() for x in (out.heatmaps, out.tags, out.orpm)), 0.1, 1, 20)
    assert got[0].sum() > 0
    for a, b in zip(got, want):
        assert torch.equal(a, b)


def test_negative_strides_of_numpy_views_are_copied_not_misread():
    pred = network_output(2, seed=3).numpy()
    hm = pred[::-1, :K]  # negative batch stride
    assert not in_place(hm)
    want = decode(np.ascontiguousarray(hm), np.ascontiguousarray(pred[::-1, K : 2 * K]), None, DecodeConfig())
    assert_same(want, decode(hm, pred[::-1, K : 2 * K], None, DecodeConfig(), backend="cpu"))

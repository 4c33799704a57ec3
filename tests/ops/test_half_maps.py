"""float16 / bfloat16 maps are read by the CPU ops in their own dtype, widened exactly.

``src/csrc/map_types.h`` widens float16 (F16C when the CPU has it, else bit
arithmetic) and bfloat16 (a shift) to float32 as values are read. Every one
of the 2^16 bit patterns of each type is checked against torch's own
conversion: through the NMS (whole maps widened into the thread's scratch)
and through the gather (single values read at the peaks). NaN patterns are
left out where the ops refuse NaN and checked where they count them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.ops import heatmap_nms, nms_gather
from ssmp3d.ops._ext import has_cpu_ext

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

DTYPES = [torch.float16, torch.bfloat16]


def every_value(dtype: torch.dtype) -> torch.Tensor:
    """The 65536 values of ``dtype`` in bit-pattern order, NaNs replaced by 0: ``[16, 64, 64]``."""
    x = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16).view(dtype).clone()
    x[torch.isnan(x)] = 0
    return x.reshape(16, 64, 64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_value_is_widened_exactly_by_the_gather(dtype):
    """Radius 0 makes every pixel above the threshold a peak: the tags and ORPM gathered at
    all 4096 pixels of each of 16 maps are the float32 values of every bit pattern."""
    values = every_value(dtype)[None]  # [1, 16, 64, 64]
    heat = torch.ones_like(values)  # a plateau: at radius 0 every pixel is its own peak
    orpm = values[:, :, None].expand(1, 16, 3, 64, 64)
    scores, indices, counts, tags_at, orpm_at = nms_gather(heat, values, orpm, 0.5, 0, 4096)
    assert (counts == 4096).all()
    want = values.float().reshape(1, 16, 4096)
    got = torch.empty_like(want).scatter_(2, indices, tags_at[..., 0])
    assert torch.equal(got.view(torch.int32), want.view(torch.int32))  # bits: -0.0 and subnormals too
    own = orpm_at[0, torch.arange(16), :, torch.arange(16), 0]  # [16, M]: map k read at joint k's peaks
    got = torch.empty(16, 4096).scatter_(1, indices[0], own)
    assert torch.equal(got.view(torch.int32), want[0].view(torch.int32))


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_value_is_widened_exactly_by_the_nms(dtype):
    """Whole maps of every value through the NMS at radius 0: the ranked scores and indices equal
    those of the float32 copy (every finite value and the infinities compared as float32)."""
    values = every_value(dtype)[None]
    for x in (values, values.transpose(-1, -2)):  # in place, and through a copy of the dtype
        got = heatmap_nms(x, -3e38, 0, 4096)
        want = heatmap_nms(x.float().contiguous(), -3e38, 0, 4096)
        assert got[0].dtype == dtype
        assert torch.equal(got[0].float(), want[0]) and torch.equal(got[1], want[1])
        assert torch.equal(got[2], want[2])


def test_numpy_float16_is_read_in_place():
    values = every_value(torch.float16)[None].numpy()
    got = heatmap_nms(values, -3e38, 0, 4096)
    want = heatmap_nms(values.astype(np.float32), -3e38, 0, 4096)
    assert got[0].dtype == np.float16
    assert np.array_equal(got[0].astype(np.float32), want[0]) and np.array_equal(got[1], want[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_in_half_maps_is_counted(dtype):
    x = torch.zeros(2, 3, 8, 8, dtype=dtype)
    x[1, 2, 3, 4] = float("nan")
    with pytest.raises(ValueError, match="heatmaps: contains NaN"):
        heatmap_nms(x, 0.1, 1, 4)
    tags = torch.zeros(2, 3, 8, 8, dtype=dtype)
    heat = torch.zeros(2, 3, 8, 8, dtype=dtype)
    heat[0, 1, 2, 2] = 1.0
    tags[0, 1, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="tags: contains NaN"):
        nms_gather(heat, tags, torch.zeros(2, 3, 3, 8, 8, dtype=dtype), 0.1, 1, 4)

"""The compiled extensions load and speak the interface version the wrappers expect."""

from __future__ import annotations

import importlib.util

import pytest

from ssmp3d.ops import _ext


def test_cpu_extension_interface_version():
    assert _ext.load_cpu().ABI_VERSION == _ext.ABI_VERSION


@pytest.mark.skipif(importlib.util.find_spec("ssmp3d._C_cuda") is None,
                    reason="ssmp3d._C_cuda is not built (CPU-only build)")
def test_cuda_extension_loads_without_a_gpu():
    # Importing the CUDA module makes no CUDA call, so this runs on GPU-less
    # machines too; a version mismatch would silently skip every CUDA test.
    mod = _ext.load_cuda()
    assert mod.ABI_VERSION == _ext.CUDA_ABI_VERSION
    assert mod.device_count() >= 0

"""Why the CUDA backend is unavailable: one line from the extension's own runtime.

``ssmp3d._C_cuda`` links the CUDA runtime statically, so a built module can
meet a driver older than its runtime. These tests replace the loader with
fakes, so they run on machines without a GPU.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from ssmp3d.decoding import api
from ssmp3d.ops import _ext

OLD_DRIVER = ("cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime version "
              "(driver supports CUDA 12.4, this module's runtime is CUDA 13.0)")


@pytest.fixture
def fake_cuda(monkeypatch):
    """``install(module_or_exception, torch_sees_gpu)``: replaces ``load_cuda``; caches cleared around."""
    calls = []

    def install(module, torch_sees_gpu=True):
        def load():
            calls.append(1)
            if isinstance(module, Exception):
                raise module
            return module

        monkeypatch.setattr(_ext, "load_cuda", load)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: torch_sees_gpu)
        _ext.cuda_unavailable_reason.cache_clear()
        return calls

    _ext.cuda_unavailable_reason.cache_clear()
    yield install
    _ext.cuda_unavailable_reason.cache_clear()


def frames():
    rng = np.random.default_rng(0)
    return (rng.random((1, 19, 8, 8), np.float32), rng.random((1, 19, 8, 8), np.float32),
            rng.random((1, 19, 3, 8, 8), np.float32))


needs_cpu = pytest.mark.skipif(not _ext.has_cpu_ext(), reason="ssmp3d._C is not built")


def test_old_driver_is_the_reason(fake_cuda):
    fake_cuda(types.SimpleNamespace(device_status=lambda: (0, OLD_DRIVER)))
    reason = _ext.cuda_unavailable_reason()
    assert reason is not None and "\n" not in reason
    assert "cudaErrorInsufficientDriver" in reason and "12.4" in reason


def test_no_device_from_an_older_module_without_device_status(fake_cuda):
    fake_cuda(types.SimpleNamespace(device_count=lambda: 0))
    assert "no CUDA device" in _ext.cuda_unavailable_reason()


def test_not_built_is_one_line(fake_cuda):
    fake_cuda(ImportError("ssmp3d._C_cuda (the compiled CUDA extension) is not available: No module named "
                          "'ssmp3d._C_cuda'; build it with `pip install .`"))
    reason = _ext.cuda_unavailable_reason()
    assert reason.startswith("ssmp3d._C_cuda") and "No module named" in reason
    assert "pip install" not in reason and "\n" not in reason


def test_torch_without_a_gpu(fake_cuda):
    fake_cuda(types.SimpleNamespace(device_status=lambda: (1, "")), torch_sees_gpu=False)
    assert _ext.cuda_unavailable_reason().startswith("torch sees no CUDA device")


def test_usable_and_cached(fake_cuda):
    calls = fake_cuda(types.SimpleNamespace(device_status=lambda: (2, "")))
    assert _ext.cuda_unavailable_reason() is None
    assert _ext.cuda_unavailable_reason() is None
    assert len(calls) == 1  # the runtime is asked once per process


@needs_cpu
def test_backends_and_decode_say_the_reason(fake_cuda):
    calls = fake_cuda(types.SimpleNamespace(device_status=lambda: (0, OLD_DRIVER)))
    hm, tg, om = frames()
    assert api.auto_backend(torch.from_numpy(hm)) == "cpu"
    assert not calls  # CPU inputs never ask the CUDA runtime
    assert "cuda" not in api.available_backends()
    assert api.backend_unavailable_reason("cuda") == _ext.cuda_unavailable_reason()
    with pytest.raises(ValueError, match="'cuda' is not available: ssmp3d._C_cuda cannot use the GPU: "
                                         "cudaErrorInsufficientDriver"):
        api.decode(hm, tg, om, backend="cuda")


@needs_cpu
def test_usable_cuda_is_listed(fake_cuda):
    fake_cuda(types.SimpleNamespace(device_status=lambda: (1, "")))
    assert api.available_backends() == ("python", "cpu", "cuda")
    assert api.backend_unavailable_reason("python") is None
    assert api.backend_unavailable_reason("gpu") == "unknown backend 'gpu'"


def test_conftest_skip_reason_is_the_same(fake_cuda):
    # By path: with tests/fuzz/conftest.py also loaded, "import conftest" may name that one.
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("tests_root_conftest", Path(__file__).parents[1] / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    fake_cuda(types.SimpleNamespace(device_status=lambda: (0, OLD_DRIVER)))
    assert conftest._cuda_skip_reason() == _ext.cuda_unavailable_reason()


def test_real_extension_answers_in_one_line():
    # Whatever this machine has: None exactly when torch and the module both see a GPU.
    _ext.cuda_unavailable_reason.cache_clear()
    reason = _ext.cuda_unavailable_reason()
    if _ext.has_cuda_ext():
        status = _ext.load_cuda().device_status()
        assert isinstance(status, tuple) and len(status) == 2
        assert (status[1] == "") == (status[0] > 0)
    assert (reason is None) == (_ext.has_cuda_ext() and torch.cuda.is_available()
                                and _ext.load_cuda().device_count() > 0)
    assert reason is None or "\n" not in reason

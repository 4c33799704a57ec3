"""Shared pytest fixtures."""

from __future__ import annotations

import pytest
import torch


def _cuda_skip_reason() -> str | None:
    if not torch.cuda.is_available():
        return "no CUDA device"
    from ssmp3d.ops._ext import has_cuda_ext

    if not has_cuda_ext():
        return "ssmp3d._C_cuda is not built"
    return None


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request) -> torch.device:
    """Each available device: "cpu", and "cuda" when a GPU and the CUDA extension exist."""
    if request.param == "cuda":
        reason = _cuda_skip_reason()
        if reason is not None:
            pytest.skip(reason)
    return torch.device(request.param)

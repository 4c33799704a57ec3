"""Shared pytest fixtures."""

from __future__ import annotations

import pytest
import torch


def _cuda_skip_reason() -> str | None:
    """One line: why the CUDA tests cannot run (extension not built, no usable
    driver or device for its statically linked runtime, torch without a GPU)."""
    from ssmp3d.ops._ext import cuda_unavailable_reason

    return cuda_unavailable_reason()


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request) -> torch.device:
    """Each available device: "cpu", and "cuda" when a GPU and the CUDA extension exist."""
    if request.param == "cuda":
        reason = _cuda_skip_reason()
        if reason is not None:
            pytest.skip(reason)
    return torch.device(request.param)


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run the tests marked slow (or set SSMP3D_RUN_SLOW=1)")


def pytest_collection_modifyitems(config, items):
    import os

    if config.getoption("--run-slow") or os.environ.get("SSMP3D_RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow or SSMP3D_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def make_checkpoint(path, **model_overrides):
    """Writes an untrained tiny-network checkpoint (seeded) as ``ssmp3d train`` would; returns its path."""
    from ssmp3d.model import HourglassConfig, HourglassNet
    from ssmp3d.train.checkpoint import save_checkpoint
    from ssmp3d.train.config import TrainConfig

    config = TrainConfig(model=HourglassConfig.tiny(**model_overrides))
    torch.manual_seed(0)
    return save_checkpoint(path, config=config, model=HourglassNet(config.model).state_dict(), step=0,
                           with_rng=False)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """An untrained tiny-network checkpoint file (Panoptic joints, 64 x 64 input)."""
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture
def checkpoint_factory(tmp_path):
    """``make(name, **HourglassConfig.tiny overrides)`` -> path of an untrained checkpoint in ``tmp_path``."""
    return lambda name, **overrides: make_checkpoint(tmp_path / name, **overrides)

"""Fixtures shared by the Predictor tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def restore_threads():
    """Puts torch's thread count back after a test that changes it."""
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)

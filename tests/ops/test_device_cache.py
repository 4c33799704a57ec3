"""The per-device cache of gather lists (ops/_device_cache.py), on the CPU.

The same logic serves CUDA devices; these tests use ``cpu`` tensors and a
faked capture state, so they run anywhere. The GPU tests (graph capture,
tensors on a non-current device) are in test_nms_gather.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.decoding.cuda import gather_lists
from ssmp3d.ops import _device_cache as cache
from ssmp3d.ops.nms_gather import _all_maps
from ssmp3d.skeleton import PANOPTIC19

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch):
    monkeypatch.setattr(cache, "_ENTRIES", type(cache._ENTRIES)())
    yield


def read(address: int, n: int) -> np.ndarray:
    """The int32 values at a cached CPU address (for the checks only)."""
    for tensor, _ in cache._ENTRIES.values():
        if tensor.data_ptr() == address:
            assert tensor.numel() == n
            return tensor.numpy().copy()
    raise AssertionError("address not in the cache")


def test_same_content_same_buffer_and_values_are_copied():
    values = np.arange(10, dtype=np.int32)
    a = cache.device_address(values, CPU)
    values[0] = 99  # the caller's array is not kept
    assert cache.device_address(np.arange(10, dtype=np.int32), CPU) == a
    np.testing.assert_array_equal(read(a, 10), np.arange(10))
    b = cache.device_address(np.arange(11, dtype=np.int32), CPU)
    assert b != a and cache.cache_size() == 2


def test_bounded_least_recently_used():
    first = cache.device_address(np.array([0], np.int32), CPU)
    for i in range(1, cache.CAPACITY):
        cache.device_address(np.array([i], np.int32), CPU)
    assert cache.device_address(np.array([0], np.int32), CPU) == first  # refreshes entry 0
    cache.device_address(np.array([-1], np.int32), CPU)  # evicts entry 1, the oldest
    assert cache.cache_size() == cache.CAPACITY
    keys = [k[4] for k in cache._ENTRIES]
    assert np.array([1], np.int32).tobytes() not in keys and np.array([0], np.int32).tobytes() in keys


def test_capture_needs_a_warm_up_and_pins(monkeypatch):
    warm = cache.device_address(np.array([1, 2], np.int32), CPU)
    monkeypatch.setattr(cache, "_capturing", lambda device: True)
    with pytest.raises(RuntimeError, match="warm-up"):
        cache.device_address(np.array([3], np.int32), CPU)
    assert cache.device_address(np.array([1, 2], np.int32), CPU) == warm  # a hit is fine, and pins
    monkeypatch.setattr(cache, "_capturing", lambda device: False)
    for i in range(2 * cache.CAPACITY):
        cache.device_address(np.array([100 + i], np.int32), CPU)
    assert cache.device_address(np.array([1, 2], np.int32), CPU) == warm  # never evicted
    cache.clear()
    assert cache.cache_size() == 1


def test_all_pinned_is_an_error(monkeypatch):
    monkeypatch.setattr(cache, "CAPACITY", 2)
    for i in range(2):
        cache.device_address(np.array([i], np.int32), CPU)
    monkeypatch.setattr(cache, "_capturing", lambda device: True)
    for i in range(2):
        cache.device_address(np.array([i], np.int32), CPU)
    monkeypatch.setattr(cache, "_capturing", lambda device: False)
    with pytest.raises(RuntimeError, match="pinned"):
        cache.device_address(np.array([7], np.int32), CPU)


@pytest.mark.parametrize("bad, exc", [(np.arange(3), TypeError), (np.zeros((2, 2), np.int32), TypeError),
                                      ([1, 2], TypeError)])
def test_bad_values(bad, exc):
    with pytest.raises(exc, match="values"):
        cache.device_address(bad, CPU)
    with pytest.raises(TypeError, match="device"):
        cache.device_address(np.arange(3, dtype=np.int32), "cuda:0")


def test_the_lists_the_ops_cache():
    k = 4
    lists = _all_maps(k)
    assert lists.dtype == np.int32
    np.testing.assert_array_equal(lists[:k + 1], np.arange(k + 1) * k)
    np.testing.assert_array_equal(lists[k + 1:], np.tile(np.arange(k), k))
    g = gather_lists(PANOPTIC19)
    a = cache.device_address(np.concatenate([g.start, g.maps]), CPU)
    assert cache.device_address(np.concatenate([gather_lists(PANOPTIC19).start, g.maps]), CPU) == a

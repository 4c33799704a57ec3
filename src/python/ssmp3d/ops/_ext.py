"""Lazy loading of the compiled extensions ``ssmp3d._C`` and ``ssmp3d._C_cuda``.

Nothing here runs at ``import ssmp3d``: the extensions are imported on the
first call of a loader, and loading ``_C_cuda`` makes no CUDA call (its
runtime initialises on the first kernel launch or device query).
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

#: Version of the raw-pointer interface these Python wrappers expect.
ABI_VERSION = 4

_BUILD_HINT = (
    "build it with `pip install .` (or, for a development tree, "
    "`cmake -S . -B build/dev && cmake --build build/dev && cp build/dev/_C*.so src/python/ssmp3d/`)"
)


def _load(name: str, what: str) -> ModuleType:
    try:
        module = importlib.import_module(f"ssmp3d.{name}")
    except ImportError as exc:
        raise ImportError(f"ssmp3d.{name} ({what}) is not available: {exc}; {_BUILD_HINT}") from exc
    found = getattr(module, "ABI_VERSION", None)
    if found != ABI_VERSION:
        raise ImportError(
            f"ssmp3d.{name} is stale: interface version {found}, expected {ABI_VERSION}; rebuild it ({_BUILD_HINT})"
        )
    return module


@functools.cache
def _cpu_module() -> ModuleType:
    return _load("_C", "the compiled CPU extension")


@functools.cache
def _cuda_module() -> ModuleType:
    return _load("_C_cuda", "the compiled CUDA extension")


def load_cpu() -> ModuleType:
    """Returns the compiled CPU extension ``ssmp3d._C``.

    Raises:
        ImportError: The extension is not built or is stale (with build instructions).
    """
    return _cpu_module()


def load_cuda() -> ModuleType:
    """Returns the compiled CUDA extension ``ssmp3d._C_cuda``.

    Raises:
        ImportError: The extension is not built (e.g. a CPU-only build) or is stale.
    """
    return _cuda_module()


@functools.cache
def has_cpu_ext() -> bool:
    """Whether ``ssmp3d._C`` can be loaded."""
    try:
        load_cpu()
    except ImportError:
        return False
    return True


@functools.cache
def has_cuda_ext() -> bool:
    """Whether ``ssmp3d._C_cuda`` was built and can be loaded (says nothing about a GPU)."""
    try:
        load_cuda()
    except ImportError:
        return False
    return True

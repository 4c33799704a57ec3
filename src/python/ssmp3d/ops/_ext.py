"""Lazy loading of the compiled extensions ``ssmp3d._C`` and ``ssmp3d._C_cuda``.

Nothing here runs at ``import ssmp3d``: the extensions are imported on the
first call of a loader, and loading ``_C_cuda`` makes no CUDA call (its
runtime initialises on the first kernel launch or device query).

``_C_cuda`` links the CUDA runtime statically, so a built module can still be
unusable: a driver older than that runtime, or no device at all.
:func:`cuda_unavailable_reason` asks the module's own runtime (one
``cudaGetDeviceCount``, cached for the process) and says why in one line.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

#: Version of the raw-pointer interface these Python wrappers expect of ``ssmp3d._C``.
ABI_VERSION = 7
#: Version of the raw-pointer interface these Python wrappers expect of ``ssmp3d._C_cuda``
#: (7: the NMS functions take ``splits`` / ``scratch_ptr``; ``nms_split_count``,
#: ``nms_scratch_bytes``).
CUDA_ABI_VERSION = 7

_BUILD_HINT = (
    "build it with `pip install .` (or, for a development tree, "
    "`cmake -S . -B build/dev && cmake --build build/dev && cp build/dev/_C*.so src/python/ssmp3d/`)"
)


def _load(name: str, what: str, expected: int) -> ModuleType:
    try:
        module = importlib.import_module(f"ssmp3d.{name}")
    except ImportError as exc:
        raise ImportError(f"ssmp3d.{name} ({what}) is not available: {exc}; {_BUILD_HINT}") from exc
    found = getattr(module, "ABI_VERSION", None)
    if found != expected:
        raise ImportError(
            f"ssmp3d.{name} is stale: interface version {found}, expected {expected}; rebuild it ({_BUILD_HINT})"
        )
    return module


@functools.cache
def _cpu_module() -> ModuleType:
    return _load("_C", "the compiled CPU extension", ABI_VERSION)


@functools.cache
def _cuda_module() -> ModuleType:
    return _load("_C_cuda", "the compiled CUDA extension", CUDA_ABI_VERSION)


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
    """Whether ``ssmp3d._C_cuda`` was built and can be loaded (says nothing about a GPU:
    see :func:`cuda_unavailable_reason`)."""
    try:
        load_cuda()
    except ImportError:
        return False
    return True


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0] if lines else ""


@functools.cache
def cuda_unavailable_reason() -> str | None:
    """Why the CUDA ops cannot run here, in one line; None when they can.

    Checked in order: ``ssmp3d._C_cuda`` loads (built, current interface);
    its statically linked runtime sees a device (``cudaGetDeviceCount``
    fails e.g. with ``cudaErrorInsufficientDriver`` when the driver is older
    than the runtime); torch sees one. Cached: the first call initialises the
    module's CUDA runtime; ``cuda_unavailable_reason.cache_clear()`` forgets
    the answer.

    Returns:
        None, or a one-line reason such as ``"ssmp3d._C_cuda cannot use the
        GPU: cudaErrorInsufficientDriver: ..."``.
    """
    try:
        module = load_cuda()
    except ImportError as exc:
        return _first_line(str(exc).split(";")[0])
    status = getattr(module, "device_status", None)
    if status is not None:
        count, error = status()
    else:  # a module built before device_status existed
        count, error = module.device_count(), ""
    if error:
        return f"ssmp3d._C_cuda cannot use the GPU: {_first_line(error)}"
    if count <= 0:
        return "ssmp3d._C_cuda sees no CUDA device (cudaGetDeviceCount returned 0)"
    import torch

    if not torch.cuda.is_available():
        return f"torch sees no CUDA device (torch {torch.__version__}, built for CUDA {torch.version.cuda})"
    return None

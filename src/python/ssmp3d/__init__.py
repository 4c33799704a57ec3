"""ssmp3d: single-shot multi-person 3D human pose estimation (Benzine et al., ICIP 2019).

Importing the package makes no CUDA call and does not load the compiled
extensions; they are loaded on first use of an op. ``ssmp3d.Predictor`` and
``ssmp3d.decode`` (the function; the decoder package is ``ssmp3d.decoding``),
which need torch, are imported on first access.
"""

from .skeleton import H36M17, PANOPTIC19, Skeleton, get_skeleton

__version__ = "0.1.0"

__all__ = ["H36M17", "PANOPTIC19", "DecodeConfig", "DecodeResult", "Predictor", "Skeleton", "decode",
           "get_skeleton", "__version__"]

_LAZY = {"Predictor": "predict", "decode": "decoding", "DecodeConfig": "decoding", "DecodeResult": "decoding"}


def __getattr__(name: str):
    """Lazy attributes, which import torch: ``Predictor`` (:mod:`ssmp3d.predict`),
    and the function ``decode`` with ``DecodeConfig`` and ``DecodeResult``
    (:mod:`ssmp3d.decoding`). ``ssmp3d.decode`` is always the function: the
    decoder package is :mod:`ssmp3d.decoding`."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)

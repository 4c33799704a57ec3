"""ssmp3d: single-shot multi-person 3D human pose estimation (Benzine et al., ICIP 2019).

Importing the package makes no CUDA call and does not load the compiled
extensions; they are loaded on first use of an op. ``ssmp3d.Predictor``
(which needs torch) is imported on first access.
"""

from .skeleton import H36M17, PANOPTIC19, Skeleton, get_skeleton

__version__ = "0.1.0"

__all__ = ["H36M17", "PANOPTIC19", "Predictor", "Skeleton", "get_skeleton", "__version__"]


def __getattr__(name: str):
    """Lazy attributes: ``Predictor`` (from :mod:`ssmp3d.predict`, which imports torch)."""
    if name == "Predictor":
        from .predict import Predictor

        return Predictor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

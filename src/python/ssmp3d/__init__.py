"""ssmp3d: single-shot multi-person 3D human pose estimation (Benzine et al., ICIP 2019).

Importing the package makes no CUDA call and does not load the compiled
extensions; they are loaded on first use of an op.
"""

from .skeleton import H36M17, PANOPTIC19, Skeleton, get_skeleton

__version__ = "0.1.0"

__all__ = ["H36M17", "PANOPTIC19", "Skeleton", "get_skeleton", "__version__"]

"""Decoding network outputs into multi-person 2D/3D poses (DESIGN.md section 6).

:func:`decode` is the public entry point; ``backend="python"`` is the pure
torch/numpy reference decoder (:mod:`.reference`, with :mod:`.grouping` and
:mod:`.readout`) that the compiled backends reproduce exactly.
"""

from .api import available_backends, decode
from .types import DecodeConfig, DecodeResult, Person, ReadoutRule

__all__ = ["DecodeConfig", "DecodeResult", "Person", "ReadoutRule", "available_backends", "decode"]

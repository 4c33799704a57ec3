"""Decoding network outputs into multi-person 2D/3D poses (DESIGN.md section 6).

:func:`decode` is the public entry point (also ``ssmp3d.decode``);
``backend="python"`` is the pure torch/numpy reference decoder
(:mod:`.reference`, with :mod:`.grouping`, :mod:`.assignment`, :mod:`.lap`
and :mod:`.readout`) that the compiled backends reproduce exactly.

Imports go one way: :mod:`.types` and :mod:`.validate` at the bottom; the
reference decoder and the compiled helpers (:mod:`.native`, then
:mod:`.candidate_tables`) above them; the
backends (:mod:`.reference`, :mod:`.cpu`, :mod:`.cuda`) above those; the
custom op (:mod:`.op`) and the entry point (:mod:`.api`) on top. Importing
this package registers ``torch.ops.ssmp3d.decode``.
"""

from . import op as _op  # noqa: F401  (registers torch.ops.ssmp3d.decode)
from .api import auto_backend, available_backends, decode
from .types import GROUPINGS, PERSON_SCORES, DecodeConfig, DecodeResult, Person, ReadoutRule

__all__ = ["GROUPINGS", "PERSON_SCORES", "DecodeConfig", "DecodeResult", "Person", "ReadoutRule",
           "auto_backend", "available_backends", "decode"]

"""The compiled CPU decoder (``backend="cpu"``): heatmaps to 3D people in one C++ call.

The C++ decoder (``src/csrc/decode.cpp``) does, per image, the NMS, the tag
gather, the grouping (either strategy), the ORPM read-out (reading the maps
only at the chosen locations) and the quarter-pixel refinement; images are
split across threads with the GIL released. The results equal the
``python`` reference decoder (:mod:`.reference`) exactly, and its errors too.

float32, float16 and bfloat16 inputs whose ``[H, W]`` maps are contiguous
(e.g. the network's output views) are read in place, the half types widened
to float32 as they are read (exact); other inputs are converted to
contiguous float32 first (float64 elementwise, which is what the reference
does to every value it reads). The refined map coordinates come back as float64 and go through
``MapTransform.map_to_image`` like the reference's.

The eager path calls ``ssmp3d._C.decode_cpu`` directly: a custom op costs
10-25 us of dispatch per call. ``torch.ops.ssmp3d.decode`` (:mod:`.op`) is the
same decoder as a custom op for ``torch.compile``.
"""

from __future__ import annotations

import numpy as np
import torch

from ..geometry import MapTransform
from ..skeleton import Skeleton
from .native import config_tables, decode_arrays
from .types import DecodeConfig, DecodeResult

__all__ = ["decode_cpu"]


def decode_cpu(
    heatmaps: torch.Tensor | np.ndarray,
    tags: torch.Tensor | np.ndarray,
    orpm: torch.Tensor | np.ndarray | None,
    config: DecodeConfig,
    skeleton: Skeleton,
    transform: MapTransform,
    num_threads: int,
) -> DecodeResult:
    """Decodes a validated batch with the C++ decoder (see :func:`ssmp3d.decoding.decode`).

    Args:
        heatmaps: ``[B, K, H, W]``, validated by :func:`ssmp3d.decoding.validate.validate_inputs`.
        tags: ``[B, K, D, H, W]`` (``[B, K, H, W]`` for ``D = 1``), channel-first.
        orpm: ``[B, K, 3, H, W]``, or None for 2D-only decoding.
        config: Decoding parameters.
        skeleton: Joint set.
        transform: Map -> image coordinates for the 2D output.
        num_threads: Threads (images are split across them); 0 = all cores.
    """
    b, k, h, w = heatmaps.shape
    d = 1 if tags.ndim == 4 else tags.shape[2]
    coords, *rest = decode_arrays(heatmaps, tags, orpm, b, k, h, w, d, config, config_tables(config, skeleton),
                                  skeleton.neck, skeleton.pelvis, num_threads)
    joints2d = transform.map_to_image(coords, out=coords).astype(np.float32)  # coords: our own buffer
    return DecodeResult(joints2d, *rest)

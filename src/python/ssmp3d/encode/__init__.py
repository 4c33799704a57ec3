"""Ground-truth target encoders (DESIGN.md section 5): heatmaps, AE tags, ORPM.

These numpy functions are the reference: float32 outputs, with the exact
arithmetic documented in each module so a compiled port can equal them bit
for bit.
"""

from .heatmaps import encode_heatmaps, gaussian_radius
from .mean_bones import mean_bone_vectors
from .orpm import depth_order, disc_offsets, encode_orpm
from .tags import ORACLE_TAG_SPACING, encode_tag_maps, oracle_tag_values, tag_indices
from .targets import (
    BatchTargets,
    TargetConfig,
    Targets,
    encode_batch,
    encode_scene,
)

__all__ = [
    "ORACLE_TAG_SPACING",
    "BatchTargets",
    "TargetConfig",
    "Targets",
    "depth_order",
    "disc_offsets",
    "encode_batch",
    "encode_heatmaps",
    "encode_orpm",
    "encode_scene",
    "encode_tag_maps",
    "gaussian_radius",
    "mean_bone_vectors",
    "oracle_tag_values",
    "tag_indices",
]

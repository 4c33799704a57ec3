"""Checked public ops backed by the compiled extensions.

Each op validates its inputs, runs the C++ (``ssmp3d._C``) or CUDA
(``ssmp3d._C_cuda``) kernel, and is also registered as a
``torch.library.custom_op`` in the ``ssmp3d`` namespace (importing this
package registers them, e.g. ``torch.ops.ssmp3d.heatmap_nms``). The
extensions are loaded on first use, not on import. Pure torch twins of every
op, used as the specification in tests, live in :mod:`ssmp3d.ops._reference`.

Every op (and :func:`ssmp3d.decoding.decode`) bounds, from its argument
shapes and scalars and before allocating anything, the memory the call needs
(outputs, working memory per thread, converted input copies), and refuses a
call beyond :data:`MEMORY_BUDGET_BYTES` (2 GiB) with a ``ValueError`` naming
the arguments.
"""

from ._budget import MEMORY_BUDGET_BYTES
from .encode import encode_heatmaps, encode_orpm, encode_tag_maps
from .grouping import group_candidates
from .heatmap_nms import heatmap_nms
from .nms_gather import nms_gather
from .readout import CUDA_MAX_JOINTS, orpm_readout, skeleton_table

__all__ = [
    "CUDA_MAX_JOINTS",
    "MEMORY_BUDGET_BYTES",
    "encode_heatmaps",
    "encode_orpm",
    "encode_tag_maps",
    "group_candidates",
    "heatmap_nms",
    "nms_gather",
    "orpm_readout",
    "skeleton_table",
]

"""Checked public ops backed by the compiled extensions.

Each op validates its inputs, runs the C++ (``ssmp3d._C``) or CUDA
(``ssmp3d._C_cuda``) kernel, and is also registered as a
``torch.library.custom_op`` in the ``ssmp3d`` namespace (importing this
package registers them, e.g. ``torch.ops.ssmp3d.heatmap_nms``). The
extensions are loaded on first use, not on import. Pure torch twins of every
op, used as the specification in tests, live in :mod:`ssmp3d.ops._reference`.
"""

from .heatmap_nms import heatmap_nms

__all__ = ["heatmap_nms"]

# Decoder ops (the stages of the cpu decoder).
from .grouping import group_candidates  # noqa: E402
from .nms_gather import nms_gather  # noqa: E402
from .readout import orpm_readout, skeleton_table  # noqa: E402

__all__ += ["nms_gather", "group_candidates", "orpm_readout", "skeleton_table"]

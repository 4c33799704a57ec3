"""The grouping benchmark (``ssmp3d bench --grouping``): our strategies beside the public AE decoders.

:mod:`.maps` makes associative-embedding maps with controlled ambiguity,
:mod:`.baseline` re-implements the public AE grouping, :mod:`.score` scores
a grouping by joint accuracy, :mod:`.run` runs and formats the table.
"""

from .baseline import group_public_ae, public_ae_order
from .maps import AmbiguityConfig, GroupingFrame, make_frames
from .run import STRATEGIES, GroupingBenchConfig, format_grouping, run_grouping_bench
from .score import joint_accuracy

__all__ = ["STRATEGIES", "AmbiguityConfig", "GroupingBenchConfig", "GroupingFrame", "format_grouping",
           "group_public_ae", "joint_accuracy", "make_frames", "public_ae_order", "run_grouping_bench"]

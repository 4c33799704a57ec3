"""Evaluation: matching, MPJPE / PCK3D / recall metrics and reports (DESIGN.md section 7).

Typical use::

    from ssmp3d.eval import EvalConfig, PANOPTIC_PROTOCOL_JOINTS, evaluate
    report = evaluate(decode_result, scenes, config=EvalConfig(joints=PANOPTIC_PROTOCOL_JOINTS))
    print(report.format_table())

or stream frames with :class:`Evaluator` (``add(people, scene)``, ``report()``), or per
reporting group with :class:`GroupedEvaluator`. :mod:`ssmp3d.eval.frames` runs the
oracle or a network over the frames of a real dataset.
"""

from .groups import GroupedEvaluator, format_groups
from .matching import match_people, pairwise_root_distance
from .metrics import PANOPTIC_PROTOCOL_JOINTS, RULE_NAMES, EvalConfig, EvalReport, Evaluator, evaluate
from .report import combine_reports, format_report, format_table1, json_safe

__all__ = [
    "PANOPTIC_PROTOCOL_JOINTS", "RULE_NAMES", "EvalConfig", "EvalReport", "Evaluator", "GroupedEvaluator",
    "combine_reports", "evaluate", "format_groups", "format_report", "format_table1", "json_safe", "match_people",
    "pairwise_root_distance",
]

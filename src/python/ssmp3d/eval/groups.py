"""Evaluation per reporting group (Panoptic scenario, Human3.6M action) and its Table-1-style report.

A :class:`GroupedEvaluator` keeps, for each *row* (a read-out, a stack: the
rows of the paper's Table 1), one :class:`~ssmp3d.eval.metrics.Evaluator`
per group and one over all frames. :meth:`GroupedEvaluator.summary` gives
the JSON section ``groups``::

    {"label": "scenario", "names": ["haggling", ...],
     "rows": {row: {"per_group": {group: metrics + frames, people, joints},
                    "mean_over_groups": metrics,      # unweighted mean of the groups (Table 1 "Mean")
                    "mean_over_people": metrics}}}    # all frames pooled

with ``metrics`` the keys of :func:`~ssmp3d.eval.report.combine_reports`
(``mpjpe_mm``, ``mpjpe_per_person_mm``, ``pck3d``, ``recall``,
``precision``, ``miss_rate``; ``mean_over_people`` adds the counts).
:func:`format_groups` renders it as text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..data.scene import Scene
from ..decoding.types import Person
from ..skeleton import PANOPTIC19, Skeleton
from .metrics import EvalConfig, EvalReport, Evaluator
from .report import combine_reports, format_table1, json_safe

__all__ = ["GroupedEvaluator", "format_groups"]


class GroupedEvaluator:
    """Per-row, per-group and pooled evaluators.

    Args:
        rows: Row names (e.g. ``("full", "naive")``), report order.
        skeleton: Joint set of predictions and ground truth.
        config: Evaluation settings, shared by every evaluator.
        label: What the groups are (``"scenario"``, ``"action"``), for reports.

    Raises:
        ValueError: no rows, or repeated row names.
    """

    def __init__(self, rows: Sequence[str], skeleton: Skeleton = PANOPTIC19, config: EvalConfig = EvalConfig(),
                 label: str = "group") -> None:
        rows = tuple(rows)
        if not rows or len(set(rows)) != len(rows) or not all(isinstance(r, str) for r in rows):
            raise ValueError(f"rows: expected distinct row names, got {rows!r}")
        self.rows, self.skeleton, self.config, self.label = rows, skeleton, config, str(label)
        self._pooled = {r: Evaluator(skeleton, config) for r in rows}
        self._groups: dict[str, dict[str, Evaluator]] = {}

    def add(self, row: str, group: str, people: Sequence[Person], scene: Scene) -> list[tuple[int, int]]:
        """Adds one frame's predictions of ``row`` to its group and to the pool.

        Returns:
            The frame's matches (see :meth:`Evaluator.add`).

        Raises:
            KeyError: an unknown row.
        """
        if row not in self._pooled:
            raise KeyError(f"row {row!r} is not one of {self.rows}")
        evaluators = self._groups.get(group)
        if evaluators is None:
            evaluators = self._groups[str(group)] = {r: Evaluator(self.skeleton, self.config) for r in self.rows}
        evaluators[row].add(people, scene)
        return self._pooled[row].add(people, scene)

    @property
    def groups(self) -> list[str]:
        """The groups seen, in order of first appearance."""
        return list(self._groups)

    def report(self, row: str) -> EvalReport:
        """The report of ``row`` over every frame."""
        return self._pooled[row].report()

    def group_reports(self, row: str) -> dict[str, EvalReport]:
        """``{group: report}`` of ``row``."""
        return {g: ev[row].report() for g, ev in self._groups.items()}

    def summary(self) -> dict:
        """The JSON-ready ``groups`` section (see the module docstring)."""
        rows = {}
        for row in self.rows:
            reports = self.group_reports(row)
            combined = combine_reports(reports)
            per_group = {g: {**m, "people": reports[g].people, "frames": reports[g].frames,
                             "joints": reports[g].joints} for g, m in combined["scenarios"].items()}
            rows[row] = {"per_group": per_group, "mean_over_groups": combined["mean_over_scenarios"],
                         "mean_over_people": combined["mean_over_people"]}
        return json_safe({"label": self.label, "names": self.groups, "rows": rows})


def format_groups(section: Mapping, *, labels: Mapping[str, str] | None = None, metric: str = "mpjpe_mm",
                  digits: int = 1) -> str:
    """Text of a ``groups`` section: one line per row, one column per group,
    then ``Mean`` (over groups) and ``All people`` (pooled), like Table 1.

    Args:
        section: :meth:`GroupedEvaluator.summary` (or its JSON round trip).
        labels: ``{row: display name}``: the rows shown, in this order
            (default: every row, by its name).
        metric: The metric shown (default MPJPE in mm).
        digits: Decimals.

    Returns:
        The table, then the frames and in-view people of each group.
    """
    labels = dict(labels) if labels else {row: row for row in section["rows"]}
    names = list(section["names"])
    table = {}
    for row, label in labels.items():
        v = section["rows"][row]
        cells = {g: v["per_group"][g][metric] for g in names}
        cells["Mean"] = v["mean_over_groups"][metric]
        cells["All people"] = v["mean_over_people"][metric]
        table[label] = cells
    header = "MPJPE mm" if metric == "mpjpe_mm" else metric
    lines = [format_table1(table, [*names, "Mean", "All people"], digits=digits, row_header=header)]
    first = next(iter(section["rows"].values()), None)
    if first is not None and names:
        per = first["per_group"]
        lines.append(f"{section['label']}s: " + ", ".join(
            f"{g} ({per[g]['frames']} frames, {per[g]['people']} people)" for g in names))
    return "\n".join(lines)

"""Text tables and cross-scenario summaries of evaluation reports (DESIGN.md section 7).

* :func:`format_table1` renders a table shaped like the paper's Table 1:
  one row per method or configuration, one column per scenario, plus an
  optional ``Mean`` column.
* :func:`combine_reports` summarises several :class:`~ssmp3d.eval.metrics.EvalReport`
  (one per scenario) two ways. *Mean over scenarios* is the unweighted mean
  of the scenario values (the paper's Table 1 "Mean" column). *Mean over
  people* pools every scenario's samples, as if all frames were one dataset:
  MPJPE and PCK3D weighted by scored joints, the per-person MPJPE by scored
  people, recall / precision from summed counts.
* :func:`json_safe` turns NaN / inf into ``None`` recursively (JSON has no NaN).
* :func:`format_report` is the human text of one report.

Undefined values are NaN (never an exception); a NaN in any scenario makes
the mean over scenarios NaN, so a scenario without matches is never hidden.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .metrics import EvalReport

_SUMMARY_KEYS = ("mpjpe_mm", "mpjpe_per_person_mm", "pck3d", "recall", "precision", "miss_rate")


def json_safe(value: Any) -> Any:
    """Recursively converts ``value`` to JSON-ready types.

    Non-finite floats become ``None``; numpy scalars become Python scalars;
    tuples and numpy arrays become lists; mapping keys become strings.
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return "-"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "nan" if math.isnan(v) else f"{v:.{digits}f}"


def _grid(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Left-aligned first column, right-aligned others, two-space gaps."""
    table = [list(header), *[list(r) for r in body]]
    widths = [max(len(r[c]) for r in table) for c in range(len(header))]
    lines = []
    for i, r in enumerate(table):
        cells = [r[0].ljust(widths[0])] + [r[c].rjust(widths[c]) for c in range(1, len(r))]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table1(
    rows: Mapping[str, Mapping[str, float]],
    columns: Sequence[str] | None = None,
    *,
    add_mean: bool = False,
    digits: int = 1,
    row_header: str = "Method",
) -> str:
    """A Table-1 style text table.

    Args:
        rows: ``{row name: {column name: value}}`` (e.g. method -> scenario -> MPJPE mm).
        columns: Column order; ``None``: every column in first-seen order.
        add_mean: Append a ``Mean`` column: the unweighted mean of the row's
            ``columns`` values (NaN if one is missing or NaN). Ignored when
            ``"Mean"`` is already one of ``columns``.
        digits: Decimals shown.
        row_header: Title of the first column.

    Returns:
        The table; missing cells show ``-``, NaN shows ``nan``.

    Raises:
        TypeError: if ``rows`` is not a mapping of mappings.
        ValueError: if ``digits`` is negative.
    """
    if not isinstance(rows, Mapping) or not all(isinstance(r, Mapping) for r in rows.values()):
        raise TypeError("rows: expected a mapping {row name: {column name: value}}")
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"digits: expected an int >= 0, got {digits!r}")
    if columns is None:
        columns = list(dict.fromkeys(c for r in rows.values() for c in r))
    elif isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise TypeError("columns: expected a sequence of column names")
    columns = list(columns)
    with_mean = add_mean and "Mean" not in columns
    header = [row_header, *columns] + (["Mean"] if with_mean else [])
    body = []
    for name, row in rows.items():
        cells = [_cell(row.get(c), digits) for c in columns]
        if with_mean:
            vals = [float(row[c]) if row.get(c) is not None else math.nan for c in columns]
            mean = sum(vals) / len(vals) if vals else math.nan
            cells.append(_cell(mean, digits))
        body.append([str(name), *cells])
    return _grid(header, body)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def combine_reports(reports: Mapping[str, EvalReport]) -> dict[str, Any]:
    """Summarises per-scenario reports (see the module docstring).

    Args:
        reports: ``{scenario name: EvalReport}``.

    Returns:
        ``{"scenarios": {name: {metric: value}}, "mean_over_scenarios":
        {metric: value}, "mean_over_people": {metric: value, "people": int,
        "tp": int, "fp": int, "joints": int}}`` where metrics are
        ``mpjpe_mm, mpjpe_per_person_mm, pck3d, recall, precision, miss_rate``.
        Values are floats (NaN where undefined); pass through
        :func:`json_safe` before ``json.dumps``.

    Raises:
        TypeError: if ``reports`` is not a mapping of EvalReport.
    """
    from .metrics import EvalReport  # runtime import: metrics imports this module

    if not isinstance(reports, Mapping) or not all(isinstance(r, EvalReport) for r in reports.values()):
        raise TypeError("reports: expected a mapping {scenario name: EvalReport}")
    scenarios = {name: {k: float(getattr(r, k)) for k in _SUMMARY_KEYS} for name, r in reports.items()}
    over_scen = {
        k: (sum(s[k] for s in scenarios.values()) / len(scenarios) if scenarios else math.nan)
        for k in _SUMMARY_KEYS
    }
    rs = list(reports.values())

    def weighted(attr: str, weight: str) -> float:
        den = sum(getattr(r, weight) for r in rs)
        return _ratio(sum(getattr(r, attr) * getattr(r, weight) for r in rs if getattr(r, weight) > 0), den)

    people = sum(r.people for r in rs)
    tp = sum(r.tp for r in rs)
    fp = sum(r.fp for r in rs)
    recall = _ratio(tp, people)
    over_people = {
        "mpjpe_mm": weighted("mpjpe_mm", "joints"),
        "mpjpe_per_person_mm": weighted("mpjpe_per_person_mm", "scored_people"),
        "pck3d": weighted("pck3d", "joints"),
        "recall": recall,
        "precision": _ratio(tp, tp + fp),
        "miss_rate": 1.0 - recall,
        "people": people,
        "tp": tp,
        "fp": fp,
        "joints": sum(r.joints for r in rs),
    }
    return {"scenarios": scenarios, "mean_over_scenarios": over_scen, "mean_over_people": over_people}


def format_report(report: EvalReport, *, title: str | None = None, digits: int = 1) -> str:
    """Human-readable text of one report: headline metrics, counts, per read-out
    rule and per joint errors."""
    pct = lambda v: "nan" if math.isnan(v) else f"{100.0 * v:.{digits}f}%"  # noqa: E731
    mm = lambda v: _cell(v, digits)  # noqa: E731
    lines = [title] if title else []
    lines += [
        f"MPJPE            {mm(report.mpjpe_mm)} mm  ({report.joints} joints; per-person mean "
        f"{mm(report.mpjpe_per_person_mm)} mm over {report.scored_people} people)",
        f"PCK3D@{report.pck_threshold_mm:g}mm     {pct(report.pck3d)}",
        f"recall           {pct(report.recall)}  (miss rate {pct(report.miss_rate)})",
        f"precision        {pct(report.precision)}",
        f"people {report.people}  predictions {report.predictions}  tp {report.tp}  fp {report.fp}  "
        f"misses {report.misses}  ignored {report.ignored}  frames {report.frames}  "
        f"(match < {report.match_threshold_px:g} px)",
        "",
        _grid(["read-out", "joints", "share", "MPJPE mm"], [
            [rule, str(v["joints"]), pct(_ratio(v["joints"], report.joints)), mm(v["mpjpe_mm"])]
            for rule, v in report.readout_rules.items()
        ]),
        "",
        _grid(["joint", "MPJPE mm"], [[name, mm(v)] for name, v in report.per_joint_mm.items()]),
    ]
    return "\n".join(lines)

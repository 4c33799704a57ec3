"""GroupedEvaluator: per-group reports, their means, and the Table-1-style text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssmp3d import PANOPTIC19
from ssmp3d.data.synthetic import SceneConfig, sample_scenes
from ssmp3d.decoding import decode
from ssmp3d.encode import TargetConfig
from ssmp3d.eval import EvalConfig, Evaluator
from ssmp3d.eval.groups import GroupedEvaluator, format_groups
from ssmp3d.oracle import stack_maps


@pytest.fixture(scope="module")
def decoded():
    scenes = sample_scenes(9, 4, SceneConfig.crowded(max_people=6))
    result = decode(*stack_maps(scenes, PANOPTIC19, TargetConfig()))
    return scenes, [result.people(i) for i in range(len(scenes))]


def test_groups_pool_and_means(decoded):
    scenes, people = decoded
    groups = ["b", "a", "b", "c", "a", "b", "c", "c", "b"]
    grouped = GroupedEvaluator(("full",), label="scenario")
    plain = Evaluator()
    per = {g: Evaluator() for g in "abc"}
    for g, p, s in zip(groups, people, scenes):
        grouped.add("full", g, p, s)
        plain.add(p, s)
        per[g].add(p, s)
    assert grouped.groups == ["b", "a", "c"]
    assert grouped.report("full") == plain.report()
    for g in "abc":
        assert grouped.group_reports("full")[g] == per[g].report()
    section = grouped.summary()
    json.dumps(section)
    row = section["rows"]["full"]
    assert section["label"] == "scenario" and section["names"] == ["b", "a", "c"]
    assert row["per_group"]["b"]["frames"] == 4 and row["per_group"]["b"]["people"] == per["b"].report().people
    means = np.mean([per[g].report().mpjpe_mm for g in "abc"])
    assert np.isclose(row["mean_over_groups"]["mpjpe_mm"], means)
    # Mean over people = every frame pooled.
    assert np.isclose(row["mean_over_people"]["mpjpe_mm"], plain.report().mpjpe_mm)
    assert row["mean_over_people"]["people"] == plain.report().people


def test_format_groups_rows_columns_and_labels(decoded):
    scenes, people = decoded
    grouped = GroupedEvaluator(("full", "naive"), config=EvalConfig(joints=(0, 2, 3)), label="action")
    for i, (p, s) in enumerate(zip(people, scenes)):
        for row in ("full", "naive"):
            grouped.add(row, "Walking" if i % 2 else "Eating", p, s)
    section = json.loads(json.dumps(grouped.summary()))
    text = format_groups(section)
    lines = text.splitlines()
    assert lines[0].split() == ["MPJPE", "mm", "Eating", "Walking", "Mean", "All", "people"]
    assert lines[2].startswith("full") and lines[3].startswith("naive")
    assert "actions: Eating (5 frames" in text and "Walking (4 frames" in text
    only = format_groups(section, labels={"naive": "4 stacks, naive read-out"}).splitlines()
    assert only[2].startswith("4 stacks, naive read-out") and not any(x.startswith("full") for x in only)


def test_bad_rows():
    for rows in ((), ("full", "full")):
        with pytest.raises(ValueError, match="rows"):
            GroupedEvaluator(rows)
    with pytest.raises(KeyError, match="naive"):
        GroupedEvaluator(("full",)).add("naive", "g", [], sample_scenes(1, 0)[0])

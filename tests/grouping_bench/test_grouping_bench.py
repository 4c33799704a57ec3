"""The grouping benchmark: its maps, its score, the public-AE baseline and the runner."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ssmp3d.cli.main import main
from ssmp3d.decoding import available_backends
from ssmp3d.grouping_bench import (AmbiguityConfig, GroupingBenchConfig, group_public_ae, joint_accuracy,
                                   make_frames, public_ae_order, run_grouping_bench)
from ssmp3d.grouping_bench.maps import make_frame
from ssmp3d.ops import heatmap_nms
from ssmp3d.skeleton import PANOPTIC19

needs_cpu = pytest.mark.skipif("cpu" not in available_backends(), reason="ssmp3d._C is not built")


def test_frames_are_seeded_and_as_described():
    amb = AmbiguityConfig(spacing=2.0, noise=0.0, missing=0.2)
    a, b = make_frame(5, 11, amb), make_frame(5, 11, amb)
    assert np.array_equal(a.heatmaps, b.heatmaps) and np.array_equal(a.tags, b.tags)
    assert a.heatmaps.shape == (19, 128, 128) and a.joints.shape == (5, 19, 2)
    assert sorted(a.person_tags.tolist()) == [0.0, 2.0, 4.0, 6.0, 8.0]
    # Without noise, the pixel of each present joint reads its person's tag unless another
    # person's joint of that type is as close.
    p, k = np.argwhere(a.present)[0]
    x, y = np.floor(a.joints[p, k] + 0.5).astype(int)
    assert a.tags[k, y, x] == a.person_tags[p]
    assert 0.6 < a.present.mean() < 1.0  # a fifth of the joints dropped, some out of the map
    with pytest.raises(ValueError, match="spacing"):
        AmbiguityConfig(spacing=0.0)
    with pytest.raises(ValueError, match="missing"):
        AmbiguityConfig(missing=1.0)


def ideal_peaks(frame):
    """Each person's own joints at their nearest pixel: a perfect grouping."""
    w = frame.heatmaps.shape[2]
    pix = np.floor(frame.joints + 0.5).astype(int)
    return np.where(frame.present, pix[..., 1] * w + pix[..., 0], -1)


def test_score_of_a_perfect_and_a_spoiled_grouping():
    frame = make_frame(4, 3, AmbiguityConfig())
    peaks = ideal_peaks(frame)
    right, total = joint_accuracy(frame, peaks, 128)
    assert right == total == frame.present.sum()
    swapped = peaks.copy()
    swapped[[0, 1], 3] = swapped[[1, 0], 3]  # two people exchange a joint
    right, total = joint_accuracy(frame, swapped, 128)
    assert total == frame.present.sum() and right == total - int(frame.present[[0, 1], 3].sum())
    assert joint_accuracy(frame, np.zeros((0, 19), np.int64), 128) == (0, 0)


@needs_cpu
def test_public_ae_baseline_groups_clean_tags_perfectly():
    frames = make_frames(6, 2, AmbiguityConfig(spacing=3.0, noise=0.0))
    order = public_ae_order(PANOPTIC19)
    assert sorted(order) == list(range(19)) and order[0] == PANOPTIC19.joints.index("nose")
    for f in frames:
        s, idx, c = heatmap_nms(f.heatmaps[None], 0.1, 1, 30)
        tags = np.take_along_axis(f.tags.reshape(19, -1), np.maximum(idx[0], 0), axis=1)
        rows, scores = group_public_ae(s[0], tags, c[0], order)
        peaks = np.where(rows >= 0, idx[0][np.arange(19)[None], np.maximum(rows, 0)], -1)
        right, total = joint_accuracy(f, peaks, 128)
        assert right == total > 0
        assert scores.shape == (rows.shape[0],) and (scores <= 1.0).all()


@needs_cpu
def test_runner_rows_and_the_assignment_beats_the_baseline():
    config = GroupingBenchConfig(people=(10,), frames=3, backends=("cpu",), repeat=1,
                                 settings=(("ambiguous", AmbiguityConfig(spacing=1.0, noise=0.3)),))
    result = run_grouping_bench(config)
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == {"assign", "assign-tags-only", "paper", "public-ae"}
    assert all(r["joints"] > 0 and r["per_frame_ms"] > 0 for r in rows.values())
    assert rows["assign"]["accuracy"] > rows["public-ae"]["accuracy"] > rows["paper"]["accuracy"]
    assert rows["assign"]["accuracy"] >= 0.95
    with pytest.raises(ValueError, match="strategies"):
        GroupingBenchConfig(strategies=("hungarian",))


@needs_cpu
def test_cli_grouping_option(capsys):
    assert main(["bench", "--grouping", "--people", "3", "--frames", "2", "--backends", "python,cpu",
                 "--repeat", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    methods = {(r["setting"], r["method"], r["backend"]) for r in out["rows"]}
    assert ("ambiguous", "assign", "python") in methods and ("easy", "public-ae", "python") in methods
    assert main(["bench", "--grouping", "--missing", "1.5"]) == 2

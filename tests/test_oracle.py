"""Oracle round trip: decode ground-truth-encoded maps of seeded scenes (acceptance figures)."""

import pytest

from ssmp3d import H36M17
from ssmp3d.data.synthetic import SceneConfig, sample_scenes
from ssmp3d.oracle import OracleConfig, run_oracle


def test_sparse_scenes_are_decoded_exactly():
    report = run_oracle(OracleConfig(scenes=40, seed=11, preset="sparse", max_people=6))
    assert report["people"] > 60
    assert report["recall"] == 1.0 and report["precision"] == 1.0
    assert report["mpjpe_mm"] < 1.0
    assert report["readout_rules"].get("mean", {"joints": 0})["joints"] == 0


def test_crowded_scenes_recall_and_full_beats_naive():
    report = run_oracle(OracleConfig(scenes=80, seed=5, preset="crowded", max_people=12))
    assert report["people"] > 250
    assert report["recall"] >= 0.98
    naive = report["readouts"]["naive"]["mpjpe_mm"]
    assert report["mpjpe_mm"] <= 0.25 * naive
    # The per-rule breakdown accounts for every scored joint.
    rules = report["readout_rules"]
    assert sum(v["joints"] for v in rules.values()) > 0


def test_round_trip_with_the_h36m_skeleton():
    scenes = sample_scenes(10, 2, SceneConfig.sparse(max_people=4), H36M17)
    report = run_oracle(OracleConfig(scenes=10, preset="sparse"), skeleton=H36M17, scenes=scenes)
    assert report["recall"] == 1.0 and report["mpjpe_mm"] < 1.0


def test_oracle_config_validation():
    with pytest.raises(ValueError, match="scenes"):
        OracleConfig(scenes=0)
    with pytest.raises(ValueError, match="preset"):
        OracleConfig(preset="dense")
    with pytest.raises(ValueError, match="batch_size"):
        OracleConfig(batch_size=0)
    with pytest.raises(ValueError, match="scenes"):
        run_oracle(OracleConfig(), scenes=[])

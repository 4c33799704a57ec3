"""The which-half-limits-it report: rows, ground-truth alignment, constant ORPM maps, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.data.augment import AugmentConfig
from ssmp3d.data.dataset import SyntheticTestSet
from ssmp3d.model import HourglassConfig, HourglassNet
from ssmp3d.train.config import TrainConfig
from ssmp3d.train.decompose import ROWS, _constant_orpm, decompose_model, format_decomposition
from ssmp3d.train.sources import data_config

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    config = TrainConfig(model=HourglassConfig.tiny(), preset="crowded", max_people=3)
    test = SyntheticTestSet(11, 3, **{**data_config(config), "augment_config": AugmentConfig.none()})
    return HourglassNet(config.model), test


def test_rows_and_the_oracle_row(setup):
    net, test = setup
    bones = np.full((19, 3), 0.1, np.float32)
    report = decompose_model(net, test, train_mean_bones=bones, backend="cpu", batch_size=2)
    assert [(r["heatmaps_tags"], r["orpm"]) for r in report["rows"]] == list(ROWS)
    assert report["scenes"] == 3 and report["backend"] == "cpu"
    gt = report["rows"][-1]
    # ground-truth maps line up with the test images (crowded scenes: a merged peak may still lose someone)
    assert gt["full"]["recall"] >= 0.8 and gt["full"]["precision"] >= 0.8 and gt["full"]["mpjpe_mm"] < 50
    # the 2D half decides recall and precision; the ORPM source does not change them
    net_rows = [r for r in report["rows"] if r["heatmaps_tags"] == "network"]
    assert len({(r["full"]["recall"], r["full"]["precision"]) for r in net_rows}) == 1
    text = format_decomposition(report)
    assert text.count("\n") == len(ROWS) and "ground truth" in text


def test_without_training_mean_the_row_is_dropped(setup):
    net, test = setup
    report = decompose_model(net, test, backend="python")
    assert ("network", "training mean") not in [(r["heatmaps_tags"], r["orpm"]) for r in report["rows"]]
    with pytest.raises(ValueError, match="train_mean_bones"):
        decompose_model(net, test, train_mean_bones=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="train_mean_bones"):
        decompose_model(net, test, train_mean_bones=np.full((19, 3), np.nan))


def test_constant_orpm_maps():
    like = torch.zeros(2, 19, 3, 4, 5)
    bones = np.arange(57, dtype=np.float32).reshape(19, 3)
    maps = _constant_orpm(bones, like)
    assert maps.shape == like.shape and maps.is_contiguous()
    np.testing.assert_array_equal(maps[1, :, :, 3, 4].numpy(), bones)

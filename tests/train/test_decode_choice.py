"""Choosing recommended decoder settings: the rule, the sweep's rows, and bad input."""

from __future__ import annotations

import pytest
import torch

from ssmp3d.data.augment import AugmentConfig
from ssmp3d.data.dataset import SyntheticTestSet
from ssmp3d.decoding import DecodeConfig, decode
from ssmp3d.eval import EvalConfig, Evaluator
from ssmp3d.geometry import MapTransform
from ssmp3d.model import HourglassConfig, HourglassNet
from ssmp3d.train.config import TrainConfig
from ssmp3d.train.decode_choice import ChoiceRule, choose_setting, sweep_decode_settings
from ssmp3d.train.sources import data_config

pytest.importorskip("cv2")


def _row(radius, score, recall, precision, pck3d):
    return {"nms_radius": radius, "min_person_score": score, "recall": recall, "precision": precision,
            "pck3d": pck3d}


def test_choice_is_the_best_pck3d_that_clears_both_bounds():
    rows = [_row(4, 0.1, 0.964, 0.824, 0.617),   # clears both
            _row(4, 0.125, 0.960, 0.854, 0.619),  # better PCK3D, recall below 0.963
            _row(3, 0.1, 0.972, 0.80, 0.62),      # better PCK3D, precision below 0.82
            _row(2, 0.2, 0.97, 0.83, 0.60)]       # clears both, worse PCK3D
    assert choose_setting(rows) is rows[0]
    assert choose_setting(rows, ChoiceRule(recall=0.95, precision=0.8)) is rows[2]
    assert choose_setting(rows, ChoiceRule(recall=0.99, precision=0.8)) is None
    assert choose_setting([]) is None
    tie = [_row(1, 0.1, 1.0, 1.0, 0.5), _row(2, 0.1, 1.0, 1.0, 0.5)]
    assert choose_setting(tie) is tie[0]  # the grid's order breaks ties


@pytest.mark.parametrize("field, value", [("recall", 1.5), ("precision", -0.1), ("recall", float("nan")),
                                          ("precision", "0.8")])
def test_rule_refuses_bounds_outside_0_1(field, value):
    with pytest.raises(ValueError, match=field):
        ChoiceRule(**{field: value})


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    config = TrainConfig(model=HourglassConfig.tiny(), preset="crowded", max_people=3)
    make = lambda seed, n: SyntheticTestSet(seed, n, **{**data_config(config), "augment_config": AugmentConfig.none()})
    return HourglassNet(config.model), [make(21, 2), make(22, 3)]


def test_sweep_pools_the_sets_and_matches_a_direct_evaluation(setup):
    net, sets = setup
    base = DecodeConfig(det_threshold=0.0)  # an untrained network's peaks are low: let it find people
    rows = sweep_decode_settings(net, sets, base, radii=(1, 3), scores=(0.0, 0.2), batch_size=2)
    assert [(r["nms_radius"], r["min_person_score"]) for r in rows] == [(1, 0.0), (1, 0.2), (3, 0.0), (3, 0.2)]
    assert len({r["people"] for r in rows}) == 1 and rows[0]["people"] > 0  # the same pooled people
    assert net.training  # the mode is restored
    # the third row, recomputed by decoding each set's images one by one
    config = DecodeConfig(det_threshold=0.0, nms_radius=3, min_person_score=0.0)
    ev = Evaluator(sets[0].maker.skeleton, EvalConfig())
    net.eval()
    with torch.no_grad():
        for ts in sets:
            for i in range(len(ts)):
                out = net(ts[i].image[None])[-1]
                result = decode(out.heatmaps, out.tags, out.orpm, config, skeleton=ts.maker.skeleton,
                                transform=MapTransform(stride=net.config.stride), backend="cpu")
                ev.add(result.people(0), ts.image_and_scene(i)[1])
    net.train()
    want = ev.report()
    assert rows[2]["recall"] == want.recall and rows[2]["precision"] == want.precision
    assert rows[2]["pck3d"] == pytest.approx(want.pck3d, nan_ok=True)


def test_sweep_refuses_empty_input(setup):
    net, sets = setup
    with pytest.raises(ValueError, match="test_sets"):
        sweep_decode_settings(net, [], DecodeConfig())
    with pytest.raises(ValueError, match="radii"):
        sweep_decode_settings(net, sets, DecodeConfig(), radii=())

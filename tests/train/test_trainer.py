"""The training loop: it learns, it resumes bit for bit, it refuses what it should."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from ssmp3d.model import HourglassConfig
from ssmp3d.train import CheckpointError, LossConfig, load_checkpoint
from ssmp3d.train.config import TrainConfig
from ssmp3d.train.trainer import train

pytest.importorskip("cv2")


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def tiny(steps: int, **kw) -> TrainConfig:
    return TrainConfig(model=HourglassConfig.tiny(), loss=LossConfig(pull_weight=0.1, push_weight=0.1), steps=steps,
                       batch_size=4, lr=2e-3, max_people=3, augment=False, eval_scenes=0, log_every=1, **kw)


class _Stop(Exception):
    pass


def _stop_at(n: int):
    def progress(step, values):
        if step == n:
            raise _Stop  # like a crash right after the step-n checkpoint

    return progress


def _losses(path):
    rows = [r.split(",") for r in path.read_text().splitlines()]
    head = rows[0]
    keep = [i for i, name in enumerate(head) if name not in ("images_per_s",)]
    return [[r[i] for i in keep] for r in rows]


def test_resumed_run_equals_the_uninterrupted_one(tmp_path):
    straight = train(tiny(6), tmp_path / "a")
    with pytest.raises(_Stop):
        train(tiny(6, checkpoint_every=3), tmp_path / "b", progress=_stop_at(3))
    assert load_checkpoint(tmp_path / "b" / "last.pt")["step"] == 3
    resumed = train(tiny(6, checkpoint_every=3), tmp_path / "b")
    assert resumed.resumed_from == 3 and resumed.steps == 6
    a, b = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert resumed.last_loss == straight.last_loss
    assert _losses(tmp_path / "a" / "log.csv") == _losses(tmp_path / "b" / "log.csv")


def test_loss_falls_on_the_synthetic_stream(tmp_path):
    # A fresh batch every step: compare the means of the first and last 20 steps.
    result = train(replace(tiny(300, checkpoint_every=1000), lr=4e-3), tmp_path)
    rows = _losses(tmp_path / "log.csv")
    col = rows[0].index("total")
    totals = [float(r[col]) for r in rows[1:]]
    assert len(totals) == result.steps == 300
    first, last = sum(totals[:20]) / 20, sum(totals[-20:]) / 20
    assert last < 0.75 * first, (first, last)  # measured: 0.184 -> 0.123


def test_refuses_another_configuration_and_keeps_the_checkpoint(tmp_path):
    train(tiny(2), tmp_path)
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(CheckpointError, match="another configuration.*'lr'"):
        train(replace(tiny(2), lr=1e-3), tmp_path)
    (tmp_path / "last.pt").write_bytes(before[:100])
    with pytest.raises(CheckpointError, match="last.pt: not a readable checkpoint"):
        train(tiny(2), tmp_path)


def test_bad_configs():
    with pytest.raises(ValueError, match="steps"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(amp="fp8")
    with pytest.raises(ValueError, match="fp16"):
        train(replace(tiny(1), amp="fp16"), "/nonexistent-never-written", device="cpu")

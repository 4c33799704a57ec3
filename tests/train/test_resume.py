"""Resuming: logs without duplicate rows, exported weights refused as last.pt, malformed states refused."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
import torch

from ssmp3d.model import HourglassConfig
from ssmp3d.train import CheckpointError, LossConfig
from ssmp3d.train.checkpoint import export_weights
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
                       batch_size=2, lr=2e-3, max_people=2, augment=False, eval_scenes=0, log_every=1, **kw)


class _Stop(Exception):
    pass


def _stop_at(n: int):
    def progress(step, values):
        if step == n:
            raise _Stop

    return progress


def _rows(path):
    with path.open(newline="") as f:
        return [{k: v for k, v in r.items() if k != "images_per_s"} for r in csv.DictReader(f)]


def test_resume_drops_the_log_rows_after_the_checkpoint(tmp_path):
    train(tiny(5), tmp_path / "a")
    with pytest.raises(_Stop):  # checkpoint at step 2, crash after step 3 was logged
        train(tiny(5, checkpoint_every=2), tmp_path / "b", progress=_stop_at(3))
    assert [r["step"] for r in _rows(tmp_path / "b" / "log.csv")] == ["1", "2", "3"]
    assert train(tiny(5, checkpoint_every=2), tmp_path / "b").resumed_from == 2
    rows = _rows(tmp_path / "b" / "log.csv")
    assert [r["step"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows == _rows(tmp_path / "a" / "log.csv")
    assert not [p for p in (tmp_path / "b").iterdir() if p.name.endswith(".tmp")]


def test_truncate_logs_keeps_rows_up_to_the_step(tmp_path):
    from ssmp3d.train.logs import truncate_logs

    (tmp_path / "log.csv").write_text("step,total\n1,0.5\n2,0.4\n3,0.3\n4,0.")  # torn last row
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps({"step": s, "x": 1}) + "\n" for s in (2, 4)))
    (tmp_path / "skipped_images.txt").write_text("step 1: a.jpg bad\nstep 3: b.jpg bad\n")
    truncate_logs(tmp_path, 2)
    assert (tmp_path / "log.csv").read_text() == "step,total\n1,0.5\n2,0.4\n"
    assert [json.loads(line)["step"] for line in (tmp_path / "eval.jsonl").read_text().splitlines()] == [2]
    assert (tmp_path / "skipped_images.txt").read_text() == "step 1: a.jpg bad\n"
    truncate_logs(tmp_path, 0)  # a fresh run: nothing of an earlier one is kept (the header is written again)
    assert not any((tmp_path / n).exists() for n in ("log.csv", "eval.jsonl", "skipped_images.txt"))
    truncate_logs(tmp_path / "missing", 3)  # no logs yet: nothing to do


def test_an_exported_weights_file_as_last_pt_is_refused(tmp_path):
    train(tiny(2), tmp_path / "src")
    export_weights(tmp_path / "src" / "last.pt", tmp_path / "ship.pt")
    (tmp_path / "run").mkdir()
    shutil.copy(tmp_path / "ship.pt", tmp_path / "run" / "last.pt")
    with pytest.raises(CheckpointError, match=r"run/last.pt: an exported weights file .* cannot resume .*"
                                              r"--init-weights"):
        train(tiny(2), tmp_path / "run")
    assert (tmp_path / "run" / "last.pt").read_bytes() == (tmp_path / "ship.pt").read_bytes()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["last.pt"]


@pytest.mark.parametrize("change, match", [
    (lambda c: c.update(optimizer={"state": {}, "param_groups": []}), r"the optimizer state does not fit"),
    (lambda c: c.update(rng={"cpu": torch.zeros(3, dtype=torch.uint8)}), r"the random generator state"),
    (lambda c: c.update(step=7), r"step 7 is past the run's 2 steps"),
    (lambda c: c["model"].pop("stem.0.0.weight"), r"the stored network does not load .*stem.0.0.weight"),
])
def test_a_malformed_training_state_is_refused_and_kept(tmp_path, change, match):
    train(tiny(2), tmp_path)
    path = tmp_path / "last.pt"
    ckpt = torch.load(path, weights_only=True)
    change(ckpt)
    torch.save(ckpt, path)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"last.pt: " + match):
        train(tiny(2), tmp_path)
    assert path.read_bytes() == before


def test_batch_size_one_with_a_one_pixel_bottleneck_is_refused_up_front():
    with pytest.raises(ValueError, match=r"batch_size: .*1 x 1 .*batch norm"):
        TrainConfig(model=HourglassConfig.tiny(), batch_size=1)
    TrainConfig(model=HourglassConfig.tiny(), batch_size=2)
    TrainConfig(model=HourglassConfig.tiny(input_size=128), batch_size=1)  # a 2 x 2 bottleneck is fine
    TrainConfig(model=HourglassConfig.small(), batch_size=1)


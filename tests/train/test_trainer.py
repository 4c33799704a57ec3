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
    assert a["extra"]["mean_bones"] == b["extra"]["mean_bones"] and a["extra"]["mean_bones"] is not None
    assert a["extra"]["bone_sums"] == b["extra"]["bone_sums"]


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


def test_mean_bones_of_the_training_targets_reach_the_decoder(tmp_path):
    """The checkpoint's mean bones are the mean ORPM target per joint; recommended_decode_config uses them."""
    import numpy as np

    from ssmp3d.data.dataset import SyntheticDataset, collate_samples
    from ssmp3d.train.checkpoint import recommended_decode_config
    from ssmp3d.train.sources import data_config

    config = tiny(3)
    train(config, tmp_path)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    stream = SyntheticDataset(config.seed, start_index=0, num_samples=12, chunk_size=4, **data_config(config))
    batch = collate_samples(list(stream))
    w = batch.orpm_weight.double()
    want = (torch.einsum("bkchw,bkhw->kc", batch.orpm.double(), w) / w.sum(dim=(0, 2, 3))[:, None]).float()
    got = np.asarray(ckpt["extra"]["mean_bones"], dtype=np.float32)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-6, atol=1e-7)
    decode = recommended_decode_config(ckpt)
    np.testing.assert_array_equal(np.asarray(decode.mean_bones, dtype=np.float32), got)


def test_warm_start_loads_matching_tensors(tmp_path):
    from ssmp3d.model import HourglassNet
    from ssmp3d.train.warm_start import warm_start

    train(tiny(2), tmp_path / "src")
    src = load_checkpoint(tmp_path / "src" / "last.pt")["model"]
    torch.manual_seed(5)
    other = HourglassNet(HourglassConfig.tiny(head_features=8))
    report = warm_start(other, tmp_path / "src" / "last.pt")
    own = other.state_dict()
    assert report["skipped"] and all(k.startswith("heads.") for k in report["skipped"])
    for k in report["loaded"]:
        assert torch.equal(own[k], src[k]), k
    # a fresh run started from it uses those tensors; a resumed run ignores init_weights
    result = train(tiny(1, init_weights=str(tmp_path / "src" / "last.pt")), tmp_path / "warm")
    assert result.steps == 1
    with pytest.raises(CheckpointError, match="none of its tensors"):
        warm_start(HourglassNet(HourglassConfig.tiny(features=12, num_joints=17)), tmp_path / "src" / "last.pt")
    with pytest.raises(CheckpointError):
        warm_start(other, tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="init_weights"):
        tiny(1, init_weights="")

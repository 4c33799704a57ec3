"""Checkpoints: atomic writes, safe loads, exact resume, clear errors naming the file."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import torch

from ssmp3d.train.checkpoint import (FORMAT, CheckpointError, check_config, config_to_dict, load_checkpoint,
                                     save_checkpoint, set_rng_state)


@dataclass(frozen=True)
class Inner:
    lr: float = 1e-3
    milestones: tuple[int, ...] = (10, 20)


@dataclass(frozen=True)
class RunConfig:
    steps: int = 100
    inner: Inner = Inner()
    name: str = "tiny"


def small_run(seed: int = 0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.3), torch.nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [5, 9], 0.1)
    return model, opt, sched


def steps(model, opt, sched, n):
    losses = []
    for _ in range(n):
        x = torch.randn(16, 4)  # draws from the global generator: resumed only if the RNG is restored
        loss = (model(x) - x.sum(1, keepdim=True)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_resume_continues_bit_for_bit(tmp_path):
    model, opt, sched = small_run()
    straight = steps(model, opt, sched, 12)
    final = [p.detach().clone() for p in model.parameters()]

    model, opt, sched = small_run()
    first = steps(model, opt, sched, 7)
    save_checkpoint(tmp_path / "ck.pt", config=RunConfig(), model=model.state_dict(), step=7,
                    optimizer=opt.state_dict(), scheduler=sched.state_dict(), extra={"stream_index": 7 * 16})
    torch.manual_seed(1234)  # disturb the generator: the checkpoint must restore it
    model, opt, sched = small_run(seed=99)
    ck = load_checkpoint(tmp_path / "ck.pt")
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["optimizer"])
    sched.load_state_dict(ck["scheduler"])
    set_rng_state(ck["rng"])
    rest = steps(model, opt, sched, 12 - ck["step"])
    assert first + rest == straight
    for a, b in zip(final, model.parameters()):
        assert torch.equal(a, b)
    assert ck["extra"] == {"stream_index": 112}
    assert ck["config"] == config_to_dict(RunConfig())


def test_write_is_atomic_and_leaves_no_temporary(tmp_path, monkeypatch):
    model, _, _ = small_run()
    target = tmp_path / "sub" / "ck.pt"
    save_checkpoint(target, config=RunConfig(), model=model.state_dict(), step=1)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(target, config=RunConfig(), model=model.state_dict(), step=2)
    assert target.read_bytes() == before  # the old checkpoint is intact
    assert os.listdir(target.parent) == ["ck.pt"]


def test_bad_files_give_errors_naming_them(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pt: no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    model, _, _ = small_run()
    good = save_checkpoint(tmp_path / "good.pt", config=RunConfig(), model=model.state_dict(), step=3)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated.pt: not a readable checkpoint"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="garbage.pt"):
        load_checkpoint(garbage)
    other = tmp_path / "other.pt"
    torch.save({"format": "something-else", "model": {}}, other)
    with pytest.raises(CheckpointError, match="not an ssmp3d checkpoint"):
        load_checkpoint(other)


def test_pickled_objects_are_refused(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "config": RunConfig(), "model": {}, "step": 0}, evil)  # a dataclass instance
    with pytest.raises(CheckpointError, match="evil.pt: not a readable checkpoint"):
        load_checkpoint(evil)


def test_config_mismatch_names_the_field(tmp_path):
    stored = config_to_dict(RunConfig())
    check_config(stored, config_to_dict(RunConfig()), "ck.pt")
    with pytest.raises(CheckpointError, match="ck.pt: .*'inner.lr'"):
        check_config(stored, config_to_dict(RunConfig(inner=Inner(lr=1.0))), "ck.pt")
    check_config(stored, config_to_dict(RunConfig(steps=5)), "ck.pt", ignore=("steps",))
    with pytest.raises(TypeError, match="cannot store"):
        config_to_dict({"x": object()})


def test_export_weights_keeps_the_network_only(tmp_path):
    from ssmp3d.model import HourglassConfig, HourglassNet
    from ssmp3d.train.checkpoint import export_weights, load_model
    from ssmp3d.train.config import TrainConfig

    torch.manual_seed(0)
    net = HourglassNet(HourglassConfig.tiny())
    opt = torch.optim.Adam(net.parameters())
    src = save_checkpoint(tmp_path / "last.pt", config=TrainConfig(model=net.config), model=net.state_dict(),
                          step=7, optimizer=opt.state_dict(), extra={"stream": 56})
    dst = export_weights(src, tmp_path / "ship.pt", provenance={"command": "ssmp3d train ..."})
    ckpt = load_checkpoint(dst)
    assert ckpt["optimizer"] is None and ckpt["rng"] is None and ckpt["step"] == 7
    assert ckpt["extra"] == {"stream": 56, "provenance": {"command": "ssmp3d train ..."}}
    model, _ = load_model(dst)
    x = torch.randn(1, 3, 64, 64)
    net.eval()
    with torch.no_grad():
        assert torch.equal(model(x)[-1].heatmaps, net(x)[-1].heatmaps)
    with pytest.raises(CheckpointError, match="overwrite"):
        export_weights(src, src)
    with pytest.raises(CheckpointError, match="no such"):
        export_weights(tmp_path / "missing.pt", tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_recommended_decode_config(tmp_path):
    from ssmp3d.decoding import DecodeConfig
    from ssmp3d.model import HourglassConfig, HourglassNet
    from ssmp3d.train.checkpoint import export_weights, recommended_decode_config
    from ssmp3d.train.config import TrainConfig

    net = HourglassNet(HourglassConfig.tiny())
    src = save_checkpoint(tmp_path / "last.pt", config=TrainConfig(model=net.config), model=net.state_dict(), step=1)
    assert recommended_decode_config(load_checkpoint(src)) == DecodeConfig()
    cfg = DecodeConfig(nms_radius=2, min_person_score=0.1)
    dst = export_weights(src, tmp_path / "ship.pt", decode_config=cfg)
    assert recommended_decode_config(load_checkpoint(dst)) == cfg
    # An export of an export keeps the recommendation unless given another one.
    again = export_weights(dst, tmp_path / "again.pt")
    assert recommended_decode_config(load_checkpoint(again)) == cfg
    # Older files: the provenance's recommendation; a broken one is a CheckpointError naming the file.
    legacy = {"extra": {"provenance": {"recommended_decode": {"nms_radius": 3}}}}
    assert recommended_decode_config(legacy) == DecodeConfig(nms_radius=3)
    with pytest.raises(CheckpointError, match="x.pt.*nms_radius"):
        recommended_decode_config({"extra": {"decode_config": {"nms_radius": -1}}}, "x.pt")
    with pytest.raises(CheckpointError, match="unknown field"):
        recommended_decode_config({"extra": {"decode_config": {"radius": 1}}})
    with pytest.raises(TypeError, match="decode_config"):
        export_weights(src, tmp_path / "y.pt", decode_config={"nms_radius": 2})


def test_shipped_weights_load():
    from ssmp3d.train.checkpoint import load_model
    from ssmp3d.weights import default_checkpoint

    try:
        path = default_checkpoint()
    except FileNotFoundError:
        pytest.skip("no shipped weights in this tree")
    assert path.stat().st_size <= 20 * 2**20
    model, ckpt = load_model(path)
    assert ckpt["optimizer"] is None and "command" in ckpt["extra"]["provenance"]
    assert model.config.num_joints == 19
    from ssmp3d.train.checkpoint import recommended_decode_config

    cfg = recommended_decode_config(ckpt, path)
    # chosen on validation maps of this network (README, Shipped weights), and the training mean bones
    assert (cfg.grouping, cfg.person_score) == ("assign", "all") and cfg.min_person_score > 0
    assert cfg.nms_radius == ckpt["extra"]["decode_config"]["nms_radius"]
    assert cfg.mean_bones is not None and len(cfg.mean_bones) == 19

"""Checkpoints that are damaged, malformed, oversized or half-written are refused with one clear line."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from dataclasses import dataclass

import pytest
import torch

from ssmp3d.model import HourglassConfig, HourglassNet
from ssmp3d.train.checkpoint import FORMAT, CheckpointError, load_checkpoint, load_model, save_checkpoint
from ssmp3d.train.config import TrainConfig


@dataclass(frozen=True)
class Payload:
    x: int = 1


def tiny_checkpoint(path):
    torch.manual_seed(0)
    net = HourglassNet(HourglassConfig.tiny())
    opt = torch.optim.Adam(net.parameters())
    return save_checkpoint(path, config=TrainConfig(model=net.config), model=net.state_dict(), step=3,
                           optimizer=opt.state_dict(), scheduler={"last_epoch": 3}, extra={"stream": 12})


def rewrite(path, change):
    """Loads ``path`` as plain data, applies ``change(ckpt)`` and saves it back (valid zip, valid CRCs)."""
    ckpt = torch.load(path, weights_only=True)
    change(ckpt)
    torch.save(ckpt, path)
    return path


def member_offset(path, name_suffix):
    """(offset of the first data byte, size) of the zip member whose name ends with ``name_suffix``."""
    with zipfile.ZipFile(path) as z:
        info = next(i for i in z.infolist() if i.filename.endswith(name_suffix))
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    name_len = int.from_bytes(header[26:28], "little")
    extra_len = int.from_bytes(header[28:30], "little")
    return info.header_offset + 30 + name_len + extra_len, info.file_size


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


# --- integrity --------------------------------------------------------------------------------------------------


def test_a_flipped_byte_in_a_weight_record_is_refused(tmp_path):
    path = tiny_checkpoint(tmp_path / "ck.pt")
    load_model(path)  # intact: loads
    with zipfile.ZipFile(path) as z:
        biggest = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size).filename
    start, size = member_offset(path, biggest)
    flip_byte(path, start + size // 2)
    with pytest.raises(CheckpointError, match=rf"ck.pt: damaged \(record '{re.escape(biggest)}' fails its CRC-32"):
        load_model(path)
    with pytest.raises(CheckpointError, match="ck.pt: damaged"):
        load_checkpoint(path)


def test_a_flipped_byte_in_the_pickle_is_refused(tmp_path):
    path = tiny_checkpoint(tmp_path / "ck.pt")
    start, size = member_offset(path, "data.pkl")
    flip_byte(path, start + size - 3)
    with pytest.raises(CheckpointError, match="ck.pt: damaged"):
        load_checkpoint(path)


def test_shipped_weights_pass_the_integrity_check():
    from ssmp3d.weights import default_checkpoint

    try:
        path = default_checkpoint()
    except FileNotFoundError:
        pytest.skip("no shipped weights in this tree")
    model, ckpt = load_model(path)
    assert ckpt["step"] > 0 and model.config.num_joints == 19


# --- structure ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, match", [
    (lambda c: c.update(step=3.5), r"step: expected an int >= 0, got 3.5"),
    (lambda c: c.update(step="3"), r"step: expected an int >= 0, got '3'"),
    (lambda c: c.update(step=True), r"step: expected an int >= 0, got True"),
    (lambda c: c.update(step=-1), r"step: expected an int >= 0, got -1"),
    (lambda c: c.update(config="tiny"), r"config: expected a dict, got str"),
    (lambda c: c.update(model=[1, 2]), r"model: expected a dict of tensors, got list"),
    (lambda c: c["model"].update(extra=3), r"model\['extra'\]: expected a tensor, got int"),
    (lambda c: c.update(optimizer=5), r"optimizer: expected a dict or None, got int"),
    (lambda c: c.update(rng=[1]), r"rng: expected a dict or None, got list"),
    (lambda c: c.update(rng={"cpu": 3}), r"rng\['cpu'\]: expected a uint8 tensor"),
    (lambda c: c.update(extra=[1]), r"extra: expected a dict or None, got list"),
])
def test_malformed_structure_is_one_clear_error(tmp_path, change, match):
    path = rewrite(tiny_checkpoint(tmp_path / "ck.pt"), change)
    with pytest.raises(CheckpointError, match=r"ck.pt: " + match):
        load_checkpoint(path)


@pytest.mark.parametrize("model_config, match", [
    ([19, 2], r"config\.model: expected a dict, got list"),
    ({"num_joints": 19, "colour": "red"}, r"config\.model: .*colour"),
    ({"num_joints": "19"}, r"config\.model: .*num_joints"),
])
def test_a_malformed_network_configuration_is_refused(tmp_path, model_config, match):
    path = rewrite(tiny_checkpoint(tmp_path / "ck.pt"), lambda c: c["config"].update(model=model_config))
    with pytest.raises(CheckpointError, match=r"ck.pt: " + match):
        load_model(path)


def test_unsafe_pickles_get_our_message_not_torchs_advice(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "config": {}, "model": {}, "step": 0, "x": Payload()}, evil)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(evil)
    message = str(info.value)
    assert message.startswith(f"{evil}: not a readable checkpoint") and "Payload" in message
    assert "pickled Python objects" in message and "\n" not in message
    assert "weights_only" not in message and "can still be loaded" not in message


# --- sizes -------------------------------------------------------------------------------------------------------


def test_an_oversized_configuration_is_refused_before_building(tmp_path, monkeypatch):
    path = tiny_checkpoint(tmp_path / "ck.pt")
    rewrite(path, lambda c: c["config"]["model"].update(tag_dim=800_000))

    def no_build(self, *args, **kwargs):
        raise AssertionError("the network was built")

    monkeypatch.setattr(HourglassNet, "__init__", no_build)
    tic = time.perf_counter()
    with pytest.raises(CheckpointError, match=r"ck.pt: the stored tensors hold [0-9,]+ values, .*tag_dim=800000.*"
                                              r"[0-9,]+"):
        load_model(path)
    assert time.perf_counter() - tic < 5
    rewrite(path, lambda c: c["config"]["model"].update(tag_dim=10**9))
    with pytest.raises(CheckpointError, match=r"ck.pt: config\.model: .*more than"):
        load_model(path)


def test_stored_tensors_of_the_wrong_shape_are_refused(tmp_path):
    path = tiny_checkpoint(tmp_path / "ck.pt")

    def swap(c):  # same number of values, another shape
        w = c["model"]["stem.0.0.weight"]
        c["model"]["stem.0.0.weight"] = w.reshape(w.shape[1], w.shape[0], *w.shape[2:])

    rewrite(path, swap)
    with pytest.raises(CheckpointError, match=r"ck.pt: the stored network does not load .*stem.0.0.weight"):
        load_model(path)


# --- saving ------------------------------------------------------------------------------------------------------


_KILL_DURING_SAVE = """
import os, signal, sys
import torch
from ssmp3d.train.checkpoint import save_checkpoint

def die(fd):
    os.kill(os.getpid(), signal.SIGKILL)  # the process dies with the temporary file written

os.fsync = die
save_checkpoint(sys.argv[1], config={"run": 1}, model={"w": torch.ones(3)}, step=1)
"""


def test_a_killed_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "last.pt"
    save_checkpoint(target, config={"run": 1}, model={"w": torch.zeros(3)}, step=0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILL_DURING_SAVE), str(target)], env=env,
                          capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    stale = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stale) == 1 and stale[0].startswith(".last.pt.")
    assert load_checkpoint(target)["step"] == 0  # the old checkpoint is intact
    others = [tmp_path / ".other.pt.abcdefgh.tmp", tmp_path / "notes.tmp", tmp_path / ".last.pt.keep"]
    for p in others:
        p.write_text("not ours")
    save_checkpoint(target, config={"run": 1}, model={"w": torch.ones(3)}, step=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["last.pt", *(p.name for p in others)])
    assert load_checkpoint(target)["step"] == 2


def test_the_directory_is_fsynced_after_the_rename(tmp_path, monkeypatch):
    if os.name != "posix":
        pytest.skip("directory fsync is POSIX only")
    target = tmp_path / "sub" / "ck.pt"
    real_fsync, seen = os.fsync, []

    def spy(fd):
        seen.append((stat.S_ISDIR(os.fstat(fd).st_mode), target.exists()))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    save_checkpoint(target, config={"run": 1}, model={"w": torch.ones(3)}, step=1)
    assert seen[0] == (False, False)  # the temporary file, before the rename
    assert (True, True) in seen  # its directory, after the rename


def test_saved_files_get_the_usual_permissions(tmp_path):
    """Not mkstemp's 0600: a shipped or shared checkpoint must be readable by others (0666 & ~umask)."""
    import os

    from ssmp3d.train.checkpoint import save_checkpoint

    mask = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "c.pt", config={"a": 1}, model={}, step=0, with_rng=False)
    finally:
        os.umask(mask)
    assert (path.stat().st_mode & 0o777) == 0o644

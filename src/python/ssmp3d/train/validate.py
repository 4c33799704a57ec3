"""Checks of a checkpoint before any of it is used: integrity, structure, sizes, resumability.

Every check raises :class:`CheckpointError` with one line naming the file:

* :func:`zip_problem`: a checkpoint is a zip archive (``torch.save``) whose
  records carry CRC-32 checksums that ``torch.load`` never verifies; every
  record is read and checked first, so a flipped bit is refused instead of
  loading as a changed weight.
* :func:`check_structure`: the top-level keys have the types the format
  promises (``step`` an int >= 0, ``model`` a dict of tensors, ...).
* :func:`network_config` and :func:`check_network_size`: the stored network
  configuration is a valid :class:`~ssmp3d.model.HourglassConfig` (bounded
  by :data:`~ssmp3d.model.config.MAX_PARAMETERS`) and the stored tensors hold
  exactly as many values as its network, all computed without building it.
* :func:`check_config`: a resumed run's configuration is the stored one.
* :func:`check_resumable`: a file to resume from has the optimizer,
  scheduler and random-generator states that an exported weights file lacks.
"""

from __future__ import annotations

import dataclasses
import os
import re
import zipfile
from collections.abc import Mapping
from typing import Any, BinaryIO

import torch

__all__ = ["CheckpointError", "check_config", "check_network_size", "check_resumable", "check_structure",
           "network_config", "one_line", "unsafe_pickle_message", "zip_problem"]


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, damaged, malformed, of another format or of another configuration."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``"Type: message"`` on one line (whitespace runs collapsed, ANSI codes dropped), at most ``limit`` characters."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unsafe_pickle_message(exc: BaseException) -> str:
    """Our reason for a file ``torch.load(weights_only=True)`` refused (never torch's advice to turn it off)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = re.search(r"GLOBAL ([\w.<>]+)", text)
    what = f"e.g. {found.group(1)}" if found else "not only tensors and plain containers"
    return (f"it holds pickled Python objects ({what}), which ssmp3d checkpoints never contain, so it was not "
            f"written by ssmp3d or was altered; it is not loaded")


def zip_problem(f: BinaryIO) -> str | None:
    """Reads every record of the zip archive ``f`` and checks its CRC-32; None when all are intact.

    Returns:
        What is wrong, as the end of a sentence starting with the file name.
    """
    try:
        with zipfile.ZipFile(f) as archive:
            bad = archive.testzip()
    except Exception as exc:  # BadZipFile (not a zip, truncated), EOFError, OSError, zlib.error, ...
        return f"not a readable checkpoint (not a complete zip archive: {one_line(exc)})"
    if bad is not None:
        return (f"damaged (record {bad!r} fails its CRC-32 or header check): the file was corrupted on disk or in "
                f"transfer; restore it from an intact copy")
    return None


def check_config(stored: Any, current: Any, path: str | os.PathLike, ignore: tuple[str, ...] = ()) -> None:
    """Raises :class:`CheckpointError` naming the first differing field of two config dicts.

    Args:
        stored: ``checkpoint["config"]``.
        current: :func:`config_to_dict` of the resuming run's config.
        path: The checkpoint (for the message).
        ignore: Top-level keys allowed to differ (e.g. the run length).
    """
    def walk(a: Any, b: Any, where: str) -> str | None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if not where and key in ignore:
                    continue
                if key not in a or key not in b:
                    return f"{where}{key}"
                found = walk(a[key], b[key], f"{where}{key}.")
                if found:
                    return found
            return None
        return None if a == b else where.rstrip(".")

    diff = walk(stored, current, "")
    if diff is not None:
        raise CheckpointError(f"{path}: the checkpoint was written with another configuration "
                              f"(first difference: {diff!r})")


def _int(value: Any, name: str) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return f"{name}: expected an int >= 0, got {value!r}"
    return None


def _dict_or_none(value: Any, name: str) -> str | None:
    return None if value is None or isinstance(value, dict) else \
        f"{name}: expected a dict or None, got {type(value).__name__}"


def _structure_problem(ckpt: Mapping[str, Any]) -> str | None:
    if not isinstance(ckpt["config"], dict):
        return f"config: expected a dict, got {type(ckpt['config']).__name__}"
    state = ckpt["model"]
    if not isinstance(state, dict):
        return f"model: expected a dict of tensors, got {type(state).__name__}"
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            return f"model[{key!r}]: expected a tensor, got {type(value).__name__}"
    problem = _int(ckpt["step"], "step")
    for name in ("optimizer", "scheduler", "rng", "extra"):
        problem = problem or _dict_or_none(ckpt.get(name), name)
    if problem:
        return problem
    rng = ckpt.get("rng")
    if rng is not None:
        cpu = rng.get("cpu")
        if not isinstance(cpu, torch.Tensor) or cpu.dtype != torch.uint8:
            return f"rng['cpu']: expected a uint8 tensor, got {type(cpu).__name__}"
        cuda = rng.get("cuda", [])
        if not isinstance(cuda, (list, tuple)) or not all(
                isinstance(t, torch.Tensor) and t.dtype == torch.uint8 for t in cuda):
            return "rng['cuda']: expected a list of uint8 tensors"
    return None


def check_structure(ckpt: Mapping[str, Any], path: str | os.PathLike) -> None:
    """Raises :class:`CheckpointError` unless the top-level entries have the types the format promises.

    ``config`` a dict; ``model`` a dict of str to tensor; ``step`` an int
    >= 0; ``optimizer``, ``scheduler``, ``rng`` and ``extra`` dicts or None
    (or absent); ``rng["cpu"]`` a uint8 tensor.
    """
    problem = _structure_problem(ckpt)
    if problem:
        raise CheckpointError(f"{path}: {problem}")


def network_config(ckpt: Mapping[str, Any], path: str | os.PathLike):
    """The :class:`~ssmp3d.model.HourglassConfig` stored in ``ckpt["config"]["model"]``.

    Raises:
        CheckpointError: it is missing, not a dict, has unknown fields or
            invalid values, or exceeds :data:`~ssmp3d.model.config.MAX_PARAMETERS`.
    """
    from ..model import HourglassConfig

    stored = ckpt["config"].get("model")
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path}: config.model: expected a dict, got {type(stored).__name__}")
    known = {f.name for f in dataclasses.fields(HourglassConfig)}
    unknown = sorted(str(k) for k in stored if k not in known)
    if unknown:
        raise CheckpointError(f"{path}: config.model: unknown fields {', '.join(map(repr, unknown))} "
                              f"(written by another version of ssmp3d?)")
    try:
        return HourglassConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in stored.items()})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: config.model: {exc}") from exc


def check_network_size(config: Any, state: Mapping[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Raises :class:`CheckpointError` unless ``state`` holds exactly as many values as ``config``'s network.

    Run before the network is built: a configuration that does not match its
    tensors is refused without allocating its (possibly huge) network.
    """
    stored = sum(t.numel() for t in state.values())
    if stored != config.state_numel:
        raise CheckpointError(f"{path}: the stored tensors hold {stored:,} values, the network of its "
                              f"configuration {config} has {config.state_numel:,}")


def check_resumable(ckpt: Mapping[str, Any], path: str | os.PathLike, steps: int) -> None:
    """Raises :class:`CheckpointError` unless training can resume from ``ckpt`` for a run of ``steps`` steps.

    An exported weights file (:func:`~ssmp3d.train.checkpoint.export_weights`,
    the shipped weights) has no optimizer, scheduler or random-generator
    state: it is refused with the advice to warm-start a fresh run from it.
    """
    names = {"optimizer": "optimizer", "scheduler": "scheduler", "rng": "random-generator"}
    lacking = [name for key, name in names.items() if ckpt.get(key) is None]
    if lacking:
        what = " or ".join([", ".join(lacking[:-1]), lacking[-1]] if len(lacking) > 1 else lacking)
        raise CheckpointError(f"{path}: an exported weights file (no {what} state) cannot resume "
                              f"training; to train from its weights, start a new run in another directory with "
                              f"--init-weights {path} (TrainConfig.init_weights)")
    if ckpt["step"] > steps:
        raise CheckpointError(f"{path}: step {ckpt['step']} is past the run's {steps} steps")

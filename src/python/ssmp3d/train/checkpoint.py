"""Training checkpoints: written atomically, loaded safely, resumed exactly.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python
containers, so it loads with ``torch.load(weights_only=True)`` (no pickle of
arbitrary objects):

* ``format``: :data:`FORMAT` (a string, checked on load);
* ``config``: the run's configuration as plain data (frozen dataclasses
  through :func:`dataclasses.asdict`), compared with the resuming run's;
* ``model``, ``optimizer``, ``scheduler``: state dicts;
* ``step``: optimizer steps taken;
* ``rng``: the torch CPU generator state and, when CUDA is initialised,
  every device's, so a resumed run draws the same random numbers;
* ``extra``: anything else plain (e.g. the data stream position, metrics),
  and ``extra["decode_config"]``: the decoder settings recommended for this
  network (:meth:`DecodeConfig.to_dict`; :func:`recommended_decode_config`).

Writing goes to a temporary file in the same directory, is flushed and
fsynced, then renamed over the target and the directory fsynced
(:func:`~ssmp3d.train.atomic.atomic_write`): a crash leaves either the old
checkpoint or the new one, never a torn file, and the next save removes the
temporary file a killed process left behind.

Loading checks before it uses anything (:mod:`ssmp3d.train.validate`): the
CRC-32 of every record of the zip archive (``torch.load`` does not), then
only tensors and plain containers are unpickled, then the types of the
entries; :func:`load_model` also checks the stored network configuration
and the number of stored values against it before building the network.
Every error is one :class:`CheckpointError` line naming the file.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..decoding.types import DecodeConfig
from .atomic import atomic_write
from .validate import (CheckpointError, check_config, check_network_size, check_structure, network_config, one_line,
                       unsafe_pickle_message, zip_problem)

__all__ = ["FORMAT", "CheckpointError", "save_checkpoint", "load_checkpoint", "config_to_dict",
           "recommended_decode_config", "restore_training_state",
           "check_config", "rng_state", "set_rng_state", "load_model", "export_weights"]

#: Format tag stored in (and required of) every checkpoint.
FORMAT = "ssmp3d-checkpoint-v1"


def config_to_dict(config: Any) -> Any:
    """Plain-data form of a (nested) frozen dataclass config: dicts, lists, str, int, float, bool, None.

    Raises:
        TypeError: a field holds something that is not plain data.
    """
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, Mapping):
        return {str(k): config_to_dict(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [config_to_dict(v) for v in config]
    if config is None or isinstance(config, (str, bool, int, float)):
        return config
    raise TypeError(f"config: cannot store a {type(config).__name__} in a checkpoint")


def rng_state() -> dict[str, Any]:
    """The torch random generators' states (CPU, and CUDA devices when initialised)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restores :func:`rng_state` (CUDA states only when CUDA is available)."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | os.PathLike, *, config: Any, model: Mapping[str, Any], step: int,
                    optimizer: Mapping[str, Any] | None = None, scheduler: Mapping[str, Any] | None = None,
                    extra: Mapping[str, Any] | None = None, with_rng: bool = True) -> Path:
    """Writes a checkpoint atomically (:func:`~ssmp3d.train.atomic.atomic_write`).

    Args:
        path: Target file; its directory is created if needed.
        config: The run's configuration (frozen dataclass or plain data).
        model: ``model.state_dict()`` (unwrap DDP / compiled modules first).
        step: Optimizer steps taken.
        optimizer, scheduler: Their state dicts, if any.
        extra: Further plain data (data stream position, metrics, ...).
        with_rng: Store the torch generator states (for an exact resume).

    Returns:
        The path written.

    Raises:
        TypeError: ``config`` or ``extra`` holds non-plain data.
        OSError: the file cannot be written (nothing is replaced then, and
            no temporary file is left).
    """
    payload = {"format": FORMAT, "config": config_to_dict(config), "model": dict(model), "step": int(step),
               "optimizer": None if optimizer is None else dict(optimizer),
               "scheduler": None if scheduler is None else dict(scheduler),
               "rng": rng_state() if with_rng else None,
               "extra": config_to_dict(dict(extra or {}))}
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Loads a checkpoint safely and checks its integrity, format and structure.

    The CRC-32 of every record is checked first, then only tensors and plain
    containers are unpickled (``weights_only=True``), then the format tag
    and the types of the entries (:func:`~ssmp3d.train.validate.check_structure`).

    Args:
        path: The file.
        map_location: Where tensors go (default CPU).

    Returns:
        The checkpoint dict (keys described in the module docstring).

    Raises:
        CheckpointError: missing, unreadable, truncated or damaged file, one
            holding pickled objects, not an ssmp3d checkpoint, or entries of
            the wrong type; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with path.open("rb") as f:  # one open file: the checks and the load see the same bytes
            problem = zip_problem(f)
            if problem is not None:
                raise CheckpointError(f"{path}: {problem}")
            f.seek(0)
            ckpt = torch.load(f, map_location=map_location, weights_only=True)
    except CheckpointError:
        raise
    except pickle.UnpicklingError as exc:  # a disallowed global: never repeat torch's weights_only advice
        raise CheckpointError(f"{path}: not a readable checkpoint ({unsafe_pickle_message(exc)})") from None
    except Exception as exc:  # unreadable file, a record torch cannot parse, ...
        raise CheckpointError(f"{path}: not a readable checkpoint ({one_line(exc)})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path}: not an ssmp3d checkpoint (format {found!r}, expected {FORMAT!r})")
    missing = [k for k in ("config", "model", "step") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    check_structure(ckpt, path)
    return ckpt


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu"):
    """The network stored in a checkpoint, in eval mode.

    The stored configuration is checked, and the number of stored values
    compared with its network's, before the network is built.

    Returns:
        ``(model, checkpoint)``: a :class:`~ssmp3d.model.HourglassNet` with
        the stored weights, and the checkpoint dict.

    Raises:
        CheckpointError: unreadable or damaged file, or a configuration /
            weights that do not make a network of this version.
    """
    from ..model import HourglassNet

    ckpt = load_checkpoint(path, map_location)
    config = network_config(ckpt, path)
    check_network_size(config, ckpt["model"], path)
    try:
        model = HourglassNet(config)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: the stored network does not load ({one_line(exc)})") from exc
    return model.to(map_location).eval(), ckpt


def restore_training_state(ckpt: Mapping[str, Any], path: str | os.PathLike, model: torch.nn.Module,
                           optimizer: torch.optim.Optimizer, scheduler: Any) -> None:
    """Loads a checkpoint's weights, optimizer, scheduler and generator states for a resumed run.

    Call :func:`~ssmp3d.train.validate.check_resumable` first (an exported
    weights file has none of these states).

    Raises:
        CheckpointError: a state that does not fit ``model`` / ``optimizer``
            / ``scheduler`` (the message says which).
    """
    def load_optimizer() -> None:
        optimizer.load_state_dict(ckpt["optimizer"])
        for group in optimizer.param_groups:  # Adam would fail (or broadcast) at its first step otherwise
            for p in group["params"]:
                for key, value in optimizer.state.get(p, {}).items():
                    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != p.shape:
                        raise ValueError(f"{key!r} has shape {tuple(value.shape)}, its parameter {tuple(p.shape)}")

    parts = (("the stored network does not load", lambda: model.load_state_dict(ckpt["model"])),
             ("the optimizer state does not fit", load_optimizer),
             ("the scheduler state does not fit", lambda: scheduler.load_state_dict(ckpt["scheduler"])),
             ("the random generator state does not load", lambda: set_rng_state(ckpt["rng"])))
    for what, load in parts:
        try:
            load()
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
            raise CheckpointError(f"{path}: {what} ({one_line(exc)})") from exc


def recommended_decode_config(ckpt: Mapping[str, Any], path: str | os.PathLike = "checkpoint") -> DecodeConfig:
    """The decoder settings a checkpoint recommends for its network.

    ``extra["decode_config"]`` (fields of :class:`DecodeConfig`, the others
    at their defaults) when present; for older files the fields of
    ``extra["provenance"]["recommended_decode"]``; otherwise ``DecodeConfig()``.
    Unless those settings name their own ``mean_bones``, the training
    targets' mean bones stored by the trainer (``extra["mean_bones"]``)
    become the decoder's fallback.

    Args:
        ckpt: A loaded checkpoint (:func:`load_checkpoint`).
        path: Its file, for messages.

    Raises:
        CheckpointError: the stored settings are not a valid configuration.
    """
    extra = ckpt.get("extra") or {}
    stored = extra.get("decode_config") if isinstance(extra, Mapping) else None
    if stored is None and isinstance(extra, Mapping):
        stored = (extra.get("provenance") or {}).get("recommended_decode")
    stored = dict(stored) if isinstance(stored, Mapping) else ({} if stored is None else stored)
    bones = extra.get("mean_bones") if isinstance(extra, Mapping) else None
    if isinstance(stored, dict) and stored.get("mean_bones") is None and bones is not None:
        stored["mean_bones"] = bones
    try:
        return DecodeConfig.from_dict(stored)
    except (TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"{path}: the stored decoder settings are not valid ({exc})") from exc


def export_weights(src: str | os.PathLike, dst: str | os.PathLike, *,
                   provenance: Mapping[str, Any] | None = None,
                   decode_config: DecodeConfig | None = None) -> Path:
    """Writes the network of checkpoint ``src`` alone to ``dst`` (for shipping).

    Keeps ``config``, ``model`` and ``step``; drops the optimizer, scheduler
    and RNG states (two thirds of a training checkpoint) and adds
    ``extra["provenance"]``. The result loads with :func:`load_model` but
    cannot resume training. Written atomically like every checkpoint.

    Args:
        src: A checkpoint written by ``ssmp3d train``.
        dst: The file to write (refused when it is ``src`` itself).
        provenance: Plain data stored beside the weights (command, commit, metrics).
        decode_config: The decoder settings recommended for the network,
            stored as ``extra["decode_config"]`` (None keeps ``src``'s, if any).

    Returns:
        The path written.

    Raises:
        CheckpointError: ``src`` is not a loadable network checkpoint, or
            ``dst`` is ``src``.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise CheckpointError(f"{dst}: refusing to overwrite the source checkpoint with its export")
    model, ckpt = load_model(src)  # checks that the stored network loads
    extra = {k: v for k, v in dict(ckpt.get("extra") or {}).items() if k != "provenance"}
    extra["provenance"] = dict(provenance or {})
    if decode_config is not None:
        if not isinstance(decode_config, DecodeConfig):
            raise TypeError(f"decode_config: expected a DecodeConfig or None, got {type(decode_config).__name__}")
        extra["decode_config"] = decode_config.to_dict()
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    return save_checkpoint(dst, config=ckpt["config"], model=state, step=int(ckpt["step"]), extra=extra,
                           with_rng=False)

"""What a checkpoint needs before it runs: its joint set and the device.

:func:`checkpoint_skeleton` names the skeleton a checkpoint's network
predicts (checked against the caller's); :func:`resolve_device` turns a
device argument into a ``torch.device`` torch can use, or a one-line error.
Used by :class:`~ssmp3d.predict.Predictor` and the CLI.
"""

from __future__ import annotations

import os

import torch

from ..skeleton import SKELETONS, Skeleton, get_skeleton
from ..train.checkpoint import CheckpointError

__all__ = ["checkpoint_skeleton", "resolve_device"]


def checkpoint_skeleton(checkpoint: dict, path: str | os.PathLike, expected: Skeleton | None = None) -> Skeleton:
    """The joint set a checkpoint's network predicts, checked against ``expected``.

    The checkpoint's ``config["skeleton"]`` (a name) is used when present;
    otherwise the skeleton is the known one with the network's number of
    joints (19: ``panoptic19``, 17: ``h36m17``).

    Args:
        checkpoint: A loaded checkpoint (:func:`~ssmp3d.train.checkpoint.load_checkpoint`).
        path: Its file (for messages).
        expected: The joint set the caller needs, or None to accept the checkpoint's.

    Returns:
        The skeleton.

    Raises:
        CheckpointError: no known skeleton matches, or it is not ``expected``.
    """
    config = checkpoint.get("config") or {}
    k = int(config.get("model", {}).get("num_joints", -1))
    name = config.get("skeleton")
    if isinstance(name, dict):
        name = name.get("name")
    if isinstance(name, str) and name in SKELETONS:
        found = get_skeleton(name)
    else:
        matches = [s for s in SKELETONS.values() if s.num_joints == k]
        if len(matches) != 1:
            raise CheckpointError(f"{path}: the network predicts {k} joints; no known skeleton has "
                                  f"that many (known: {', '.join(f'{s.name} ({s.num_joints})' for s in SKELETONS.values())})")
        found = matches[0]
    if found.num_joints != k:
        raise CheckpointError(f"{path}: skeleton {found.name!r} has {found.num_joints} joints but the network "
                              f"predicts {k}")
    if expected is not None and (expected.name != found.name or expected.num_joints != k):
        raise CheckpointError(f"{path}: the checkpoint predicts skeleton {found.name!r} ({k} joints), "
                              f"expected {expected.name!r} ({expected.num_joints} joints)")
    return found


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The device the network runs on: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (None: cuda when available).

    Raises:
        ValueError: anything else (e.g. ``"tpu"``, ``"mps"``), CUDA asked for
            where torch sees none, or a CUDA index past the last GPU; one line naming it.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device: expected a str, a torch.device or None, got {type(device).__name__}")
    try:
        parsed = torch.device(device)
    except RuntimeError:
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {str(device)!r}")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {parsed} requested but torch sees no CUDA device")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(f"device: {parsed} requested but torch sees {torch.cuda.device_count()} CUDA device(s)")
    return parsed

"""The oracle and a network on real annotated frames, reported per group (DESIGN.md section 7).

Both work in the frame's original image pixels. Each frame's ground truth
(or image) is letterboxed into the square network input
(:func:`ssmp3d.data.letterbox.letterbox_scene` / :func:`~ssmp3d.data.letterbox.letterbox`);
the maps are decoded with ``MapTransform(affine=<the letterbox affine>,
stride)``, so decoded 2D joints come back in original pixels, and are
evaluated against the frame's original scene. The scored joints default to
the dataset's protocol (``FrameDataset.eval_joints``: joints 0 and 2-14 for
Panoptic).

Reports have the keys of ``ssmp3d oracle`` / ``ssmp3d eval`` on synthetic
scenes (``preset`` and ``seed`` are ``None``), plus ``groups`` (see
:mod:`ssmp3d.eval.groups`), ``dataset``, ``split``, ``input_size``,
``frames`` (frames listed), ``frames_failed`` and ``failed`` (the first
unreadable images with their errors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..data.frames import DatasetError, FrameDataset
from ..data.letterbox import letterbox, letterbox_scene
from ..decoding import DecodeConfig, decode
from ..encode import TargetConfig
from ..geometry import MapTransform, letterbox_affine
from .groups import GroupedEvaluator
from .metrics import EvalConfig

__all__ = ["FrameEvalConfig", "evaluate_frames", "oracle_frames", "stack_row_labels"]


@dataclass(frozen=True)
class FrameEvalConfig:
    """How frames are fitted, decoded and scored.

    Attributes:
        input_size: Side of the square network input (the oracle's; a
            network's own size is used by :func:`evaluate_frames`).
        batch_size: Frames per encode / forward and decode call.
        backend: Decoder backend; ``"auto"``: the fastest for the model's device.
        decode: Decoder parameters; ``readout`` is the headline one, the other
            is reported beside it.
        targets: Target encoding of the oracle (its stride is the map stride).
        evaluation: Scoring; ``None``: ``EvalConfig(joints=dataset.eval_joints)``.
        failures_listed: How many unreadable frames the report names.
    """

    input_size: int = 512
    batch_size: int = 16
    backend: str = "python"
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    targets: TargetConfig = field(default_factory=TargetConfig)
    evaluation: EvalConfig | None = None
    failures_listed: int = 10

    def __post_init__(self) -> None:
        for name in ("input_size", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {v!r}")
        if isinstance(self.failures_listed, bool) or not isinstance(self.failures_listed, int) \
                or self.failures_listed < 0:
            raise ValueError(f"failures_listed: expected an int >= 0, got {self.failures_listed!r}")


def _check_dataset(dataset: FrameDataset) -> None:
    if not isinstance(dataset, FrameDataset):
        raise TypeError(f"dataset: expected a FrameDataset, got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError(f"dataset: {dataset.name} lists no frames")


def _evaluation(dataset: FrameDataset, config: FrameEvalConfig) -> EvalConfig:
    return config.evaluation if config.evaluation is not None else EvalConfig(joints=dataset.eval_joints)


def _equal_runs(affines: list[np.ndarray]) -> list[tuple[int, int]]:
    """``[(start, stop)]`` of consecutive frames that share one affine (one decode call each)."""
    runs, start = [], 0
    for i in range(1, len(affines) + 1):
        if i == len(affines) or not np.array_equal(affines[i], affines[start]):
            runs.append((start, i))
            start = i
    return runs


def _decode_into(grouped: GroupedEvaluator, row: str, maps, cfg: DecodeConfig, frames, affines, stride: int,
                 backend: str) -> None:
    """Decodes a batch (one call per run of equal affines) and adds each frame to ``row``."""
    for a, b in _equal_runs(affines):
        result = decode(*(m[a:b] for m in maps), cfg, skeleton=grouped.skeleton,
                        transform=MapTransform(affine=affines[a], stride=stride), backend=backend)
        for i in range(b - a):
            frame = frames[a + i]
            grouped.add(row, frame.group, result.people(i), frame.scene)


def _report(dataset: FrameDataset, grouped: GroupedEvaluator, headline: str, readouts: dict, *, evaluated: int,
            backend: str, input_size: int, failed: list[tuple[str, str]], listed: int) -> dict:
    out = dict(grouped.report(headline).to_dict())
    full, naive = readouts["full"]["mpjpe_mm"], readouts["naive"]["mpjpe_mm"]
    out.update(readout=headline, backend=backend, scenes=evaluated, preset=None, seed=None,
               skeleton=dataset.skeleton.name, readouts=readouts,
               full_over_naive=(full / naive) if full is not None and naive else None,
               groups=grouped.summary(), dataset=dataset.name, split=getattr(dataset, "split", None),
               input_size=input_size, frames=len(dataset), frames_failed=len(failed),
               failed=[{"key": k, "error": e} for k, e in failed[:listed]])
    return out


def oracle_frames(dataset: FrameDataset, config: FrameEvalConfig = FrameEvalConfig(), *,
                  progress: Callable[[int], None] | None = None) -> dict:
    """Encodes every frame's ground truth into maps, decodes and evaluates it (no image is read).

    Args:
        dataset: The frames.
        config: Input size, batching, decoder and scoring.
        progress: Called with the number of frames done after each batch.

    Returns:
        The report (module docstring) with rows ``full`` and ``naive`` in ``groups``.

    Raises:
        TypeError, ValueError: a bad dataset (or an empty one) or configuration.
    """
    from ..oracle import stack_maps

    _check_dataset(dataset)
    size, stride = config.input_size, config.targets.stride
    if size % stride:
        raise ValueError(f"input_size: expected a multiple of the stride {stride}, got {size}")
    modes = (config.decode.readout, "naive" if config.decode.readout == "full" else "full")
    grouped = GroupedEvaluator(("full", "naive"), dataset.skeleton, _evaluation(dataset, config),
                               dataset.group_label)
    for start in range(0, len(dataset), config.batch_size):
        frames = dataset[start:start + config.batch_size]
        affines = [letterbox_affine(f.scene.image_size, (size, size)) for f in frames]
        boxed = [letterbox_scene(f.scene, a, size) for f, a in zip(frames, affines)]
        maps = stack_maps(boxed, dataset.skeleton, config.targets)
        for mode in modes:
            _decode_into(grouped, mode, maps, replace(config.decode, readout=mode), frames, affines, stride,
                         config.backend)
        if progress is not None:
            progress(len(frames))
    readouts = {m: grouped.report(m).to_dict() for m in modes}
    return _report(dataset, grouped, config.decode.readout, readouts, evaluated=len(dataset),
                   backend=config.backend, input_size=size, failed=[], listed=config.failures_listed)


def _stack_rows(num_stacks: int, stacks: tuple[int, ...]) -> dict[tuple[int, str], str]:
    """Row name of each (stack, read-out): ``full`` / ``naive`` for the last stack, ``stack_<s>_<r>`` before."""
    last = max(stacks)
    return {(s, r): r if s == last else f"stack_{s + 1}_{r}" for s in stacks for r in ("full", "naive")}


def stack_row_labels(num_stacks: int) -> dict[str, str]:
    """The rows of an :func:`evaluate_frames` report shown in a Table-1-style
    table, in the paper's order, with their display names: each earlier stack
    with the full read-out, then the last one naive, then the last one full."""
    plural = lambda s: f"{s} stack{'s' if s > 1 else ''}"  # noqa: E731
    labels = {f"stack_{s}_full": plural(s) for s in range(1, num_stacks)}
    labels.update(naive=f"{plural(num_stacks)}, naive read-out", full=plural(num_stacks))
    return labels


@torch.no_grad()
def evaluate_frames(model, dataset: FrameDataset, config: FrameEvalConfig = FrameEvalConfig(), *,
                    stacks: tuple[int, ...] | None = None, device: torch.device | str | None = None,
                    progress: Callable[[int], None] | None = None) -> dict:
    """Runs a network on every readable frame, decodes and evaluates per group.

    Images are read with ``dataset.image(i)`` (BGR), turned to RGB,
    letterboxed to the model's input size and normalised. A frame whose
    image cannot be read (:class:`~ssmp3d.data.frames.DatasetError` or
    ``OSError``), or whose size is not its camera's, is counted in
    ``frames_failed`` and the rest are evaluated.

    Args:
        model: A :class:`~ssmp3d.model.HourglassNet` (its mode is restored).
        dataset: The frames.
        config: Batching, decoder and scoring (``input_size`` is ignored).
        stacks: Stack indices decoded (default all); the last one gives the
            headline and the ``full`` / ``naive`` rows.
        device: Where the model runs (default: its parameters' device).
        progress: Called with the number of frames done after each batch.

    Returns:
        The report (module docstring) plus ``stacks``: ``{s: {readout: MPJPE}}``
        pooled over all frames, ``s`` counted from 1.

    Raises:
        ValueError: an empty dataset, a bad stack, or no readable image at all.
    """
    from ..data.dataset import normalize_image
    from ..train.evaluate import fastest_backend

    _check_dataset(dataset)
    num_stacks = model.config.num_stacks
    stacks = tuple(range(num_stacks)) if stacks is None else tuple(sorted(set(stacks)))
    if not stacks or any(not 0 <= s < num_stacks for s in stacks):
        raise ValueError(f"stacks: expected indices in [0, {num_stacks}), got {stacks}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    backend = fastest_backend(device) if config.backend == "auto" else config.backend
    size, stride = model.config.input_size, model.config.stride
    rows = _stack_rows(num_stacks, stacks)
    grouped = GroupedEvaluator(tuple(rows.values()), dataset.skeleton, _evaluation(dataset, config),
                               dataset.group_label)
    failed: list[tuple[str, str]] = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(dataset), config.batch_size):
            frames, images, affines = [], [], []
            for i in range(start, min(start + config.batch_size, len(dataset))):
                frame = dataset[i]
                try:
                    bgr = dataset.image(i)
                    if (bgr.shape[1], bgr.shape[0]) != frame.scene.image_size:
                        raise DatasetError(f"{frame.image_path}: image is {bgr.shape[1]}x{bgr.shape[0]}, its "
                                           f"camera's is {frame.scene.image_size[0]}x{frame.scene.image_size[1]}")
                except (DatasetError, OSError) as exc:
                    failed.append((frame.key, str(exc)))
                    continue
                boxed, affine = letterbox(np.ascontiguousarray(bgr[..., ::-1]), size)
                frames.append(frame)
                images.append(normalize_image(boxed))
                affines.append(affine)
            if frames:
                outputs = model(torch.stack(images).to(device))
                for s in stacks:
                    maps = [x.float() for x in (outputs[s].heatmaps, outputs[s].tags, outputs[s].orpm)]
                    if backend != "cuda":
                        maps = [x.cpu() for x in maps]
                    for r in ("full", "naive"):
                        _decode_into(grouped, rows[(s, r)], maps, replace(config.decode, readout=r), frames,
                                     affines, stride, backend)
            if progress is not None:
                progress(min(config.batch_size, len(dataset) - start))
    finally:
        model.train(was_training)
    evaluated = len(dataset) - len(failed)
    if evaluated == 0:
        raise ValueError(f"dataset: none of the {len(dataset)} images could be read (first: {failed[0][1]})")
    last = max(stacks)
    readouts = {r: grouped.report(rows[(last, r)]).to_dict() for r in ("full", "naive")}
    out = _report(dataset, grouped, config.decode.readout, readouts, evaluated=evaluated, backend=backend,
                  input_size=size, failed=failed, listed=config.failures_listed)
    out["stacks"] = {s + 1: {r: grouped.report(rows[(s, r)]).mpjpe_mm for r in ("full", "naive")} for s in stacks}
    return out

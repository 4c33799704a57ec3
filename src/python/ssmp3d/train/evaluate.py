"""Evaluation of a network on a fixed synthetic test set: model, decoder, metrics (DESIGN.md §7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from ..data.dataset import SyntheticTestSet
from ..decoding import DecodeConfig, available_backends, decode
from ..eval import EvalConfig, Evaluator
from ..geometry import MapTransform
from ..model import HourglassNet

__all__ = ["EVAL_SEED", "fastest_backend", "evaluate_model"]

#: Seed of the fixed synthetic evaluation set (never a training seed by default).
EVAL_SEED = 1_000_003


def fastest_backend(device: torch.device) -> str:
    """``"cuda"`` for CUDA maps when available, else ``"cpu"`` when built, else ``"python"``."""
    available = available_backends()
    if device.type == "cuda" and "cuda" in available:
        return "cuda"
    return "cpu" if "cpu" in available else "python"


@torch.no_grad()
def evaluate_model(model: HourglassNet, test_set: SyntheticTestSet, *, decode_config: DecodeConfig = DecodeConfig(),
                   readouts: tuple[str, ...] = ("full", "naive"), stacks: tuple[int, ...] | None = None,
                   backend: str = "auto", batch_size: int = 8, device: torch.device | str | None = None,
                   progress: Callable[[int], None] | None = None) -> dict:
    """Runs the model on every test image, decodes, and reports the metrics.

    Args:
        model: The network (its mode is restored afterwards).
        test_set: Images and ground truth (input size = the model's).
        decode_config: Decoder parameters; ``readout`` is overridden per entry of ``readouts``.
        readouts: Read-out modes to report (``"full"``, ``"naive"``).
        stacks: Stack indices whose predictions are decoded (default: the
            last one only); e.g. ``(0, 3)`` compares 1 and 4 stacks.
        backend: Decoder backend; ``"auto"`` = :func:`fastest_backend`.
        batch_size: Images per forward pass.
        device: Where the model runs (default: its parameters' device).
        progress: Called with the number of images done after each batch.

    Returns:
        ``{"stack_<s>": {"<readout>": EvalReport dict}}`` plus ``"scenes"``
        and ``"backend"``; EvalReport dicts hold ``mpjpe_mm``, ``recall``,
        ``precision`` and the rest of :class:`ssmp3d.eval.EvalReport`.

    Raises:
        ValueError: an empty test set, a bad stack index or read-out.
    """
    if len(test_set) == 0:
        raise ValueError("test_set: expected at least one scene")
    num_stacks = model.config.num_stacks
    stacks = (num_stacks - 1,) if stacks is None else tuple(stacks)
    if any(not 0 <= s < num_stacks for s in stacks):
        raise ValueError(f"stacks: expected indices in [0, {num_stacks}), got {stacks}")
    if any(r not in ("full", "naive") for r in readouts):
        raise ValueError(f"readouts: expected 'full' and/or 'naive', got {readouts}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    backend = fastest_backend(device) if backend == "auto" else backend
    skeleton = test_set.maker.skeleton
    transform = MapTransform(stride=model.config.stride)
    evaluators = {(s, r): Evaluator(skeleton, EvalConfig()) for s in stacks for r in readouts}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(test_set), batch_size):
            idx = range(start, min(start + batch_size, len(test_set)))
            images = torch.stack([test_set[i].image for i in idx]).to(device)
            scenes = [test_set.image_and_scene(i)[1] for i in idx]
            outputs = model(images)
            for s in stacks:
                out = outputs[s]
                maps = [x.float() for x in (out.heatmaps, out.tags, out.orpm)]
                if backend != "cuda":
                    maps = [x.cpu() for x in maps]
                for r in readouts:
                    result = decode(*maps, replace(decode_config, readout=r), skeleton=skeleton,
                                    transform=transform, backend=backend)
                    for b, scene in enumerate(scenes):
                        evaluators[(s, r)].add(result.people(b), scene)
            if progress is not None:
                progress(len(idx))
    finally:
        model.train(was_training)
    report: dict = {"scenes": len(test_set), "backend": backend}
    for (s, r), ev in evaluators.items():
        report.setdefault(f"stack_{s + 1}", {})[r] = ev.report().to_dict()
    return report

"""Choosing a network's recommended decoder settings on validation sets (docs/decisions.md).

A trained network's heatmaps decide which NMS radius and person-score threshold suit it, so the
settings a checkpoint carries (``extra["decode_config"]``) are chosen per network, on its own maps
of validation sets that are never the test set:

* :func:`sweep_decode_settings` runs the network once per set, decodes its last stack with every
  ``nms_radius`` x ``min_person_score`` of a grid, and pools the people of all sets;
* :func:`choose_setting` picks the highest full-read-out PCK3D among the rows whose pooled recall
  and precision reach :class:`ChoiceRule`'s bounds: the goals (0.95, 0.8) plus one standard error
  of a 100-scene test set of about 280 people, so that an independent test set still clears them.

``scripts/choose_decode.py`` is the command around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from ..data.dataset import SyntheticTestSet
from ..decoding import DecodeConfig, decode
from ..eval import EvalConfig, Evaluator
from ..geometry import MapTransform
from ..model import HourglassNet

__all__ = ["ChoiceRule", "choose_setting", "sweep_decode_settings"]


@dataclass(frozen=True)
class ChoiceRule:
    """Bounds a setting's pooled validation figures must reach to be chosen.

    Attributes:
        recall: Least pooled recall (default: the goal 0.95 plus 0.013).
        precision: Least pooled precision (default: the goal 0.8 plus 0.02).
    """

    recall: float = 0.95 + 0.013
    precision: float = 0.8 + 0.02

    def __post_init__(self) -> None:
        for name in ("recall", "precision"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")


def choose_setting(rows: Sequence[dict], rule: ChoiceRule = ChoiceRule()) -> dict | None:
    """The row of highest ``pck3d`` among those reaching ``rule``; None when none does.

    Args:
        rows: Rows of :func:`sweep_decode_settings` (``recall``, ``precision``, ``pck3d`` at least).
        rule: The bounds.

    Returns:
        The chosen row (the first of equal PCK3D, so the grid's order breaks ties), or None.
    """
    best = None
    for row in rows:
        if row["recall"] >= rule.recall and row["precision"] >= rule.precision:
            if best is None or row["pck3d"] > best["pck3d"]:
                best = row
    return best


@torch.no_grad()
def sweep_decode_settings(model: HourglassNet, test_sets: Sequence[SyntheticTestSet], base: DecodeConfig, *,
                          radii: Sequence[int] = (1, 2, 3, 4),
                          scores: Sequence[float] = (0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4),
                          backend: str = "cpu", batch_size: int = 8) -> list[dict]:
    """Pooled validation figures of every ``nms_radius`` x ``min_person_score`` on the network's maps.

    The network runs once per image (on its parameters' device); the maps of its last stack are
    kept on the CPU and decoded with each setting, the full and naive read-outs, by ``backend``.

    Args:
        model: The network (evaluated in eval mode; its mode is restored).
        test_sets: Validation sets (images at the network's input size); their people are pooled.
        base: Every other decoder field (e.g. :func:`~ssmp3d.train.checkpoint.recommended_decode_config`).
        radii: NMS radii of the grid.
        scores: ``min_person_score`` values of the grid.
        backend: Decoder backend (``"cpu"``, ``"python"``; CPU maps).
        batch_size: Images per forward pass.

    Returns:
        One row per setting, radius-major: ``nms_radius``, ``min_person_score``, ``recall``,
        ``precision``, ``pck3d`` (full read-out), ``full_mm``, ``naive_mm`` and ``people``.

    Raises:
        ValueError: no validation set, an empty one, or an empty grid.
    """
    if not test_sets or any(len(ts) == 0 for ts in test_sets):
        raise ValueError("test_sets: expected at least one non-empty validation set")
    if not radii or not scores:
        raise ValueError("radii, scores: expected at least one value each")
    device = next(model.parameters()).device
    transform = MapTransform(stride=model.config.stride)
    skeleton = test_sets[0].maker.skeleton
    was_training = model.training
    model.eval()
    cached = []  # [(heatmaps, tags, orpm, scenes)] per batch: [B, K, H, W] each
    try:
        for ts in test_sets:
            for start in range(0, len(ts), batch_size):
                idx = range(start, min(start + batch_size, len(ts)))
                last = model(torch.stack([ts[i].image for i in idx]).to(device))[-1]
                cached.append((*(x.float().cpu() for x in (last.heatmaps, last.tags, last.orpm)),
                               [ts.image_and_scene(i)[1] for i in idx]))
    finally:
        model.train(was_training)
    rows = []
    for radius in radii:
        for score in scores:
            config = replace(base, nms_radius=int(radius), min_person_score=float(score))
            evaluators = {r: Evaluator(skeleton, EvalConfig()) for r in ("full", "naive")}
            for heat, tags, orpm, scenes in cached:
                for readout, ev in evaluators.items():
                    result = decode(heat, tags, orpm, replace(config, readout=readout), skeleton=skeleton,
                                    transform=transform, backend=backend)
                    for b, scene in enumerate(scenes):
                        ev.add(result.people(b), scene)
            full, naive = evaluators["full"].report(), evaluators["naive"].report()
            rows.append({"nms_radius": int(radius), "min_person_score": float(score), "recall": full.recall,
                         "precision": full.precision, "pck3d": full.pck3d, "full_mm": full.mpjpe_mm,
                         "naive_mm": naive.mpjpe_mm, "people": full.people})
    return rows

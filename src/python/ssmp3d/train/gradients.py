"""Per-term gradient norms: how hard each loss term pulls on the shared network.

The loss weights of :class:`~ssmp3d.train.losses.LossConfig` only mean
something next to the gradients they scale. :func:`term_gradient_norms`
back-propagates each weighted term on its own and reports the L2 norm of its
gradient over the *shared* parameters (everything but the prediction heads,
whose parameters each term reaches through its own output channels only).
docs/training.md reports these norms at initialisation and in mid-training;
``tests/train/test_gradients.py`` bounds their ratios at initialisation.
"""

from __future__ import annotations

import torch

from ..model import HourglassNet
from .losses import TERMS, LossConfig, compute_losses
from .train_targets import TrainTargets

__all__ = ["shared_parameters", "term_gradient_norms"]


def shared_parameters(model: HourglassNet) -> list[torch.nn.Parameter]:
    """The parameters every loss term reaches: all but the prediction heads' (``model.heads``)."""
    head_ids = {id(p) for p in model.heads.parameters()}
    return [p for p in model.parameters() if id(p) not in head_ids and p.requires_grad]


def term_gradient_norms(model: HourglassNet, images: torch.Tensor, targets: TrainTargets,
                        config: LossConfig | None = None) -> dict[str, float]:
    """L2 norm of each weighted loss term's gradient over :func:`shared_parameters`.

    One forward pass, one backward pass per term (the graph is kept between
    them); the model's ``.grad`` fields are left untouched.

    Args:
        model: The network (its train/eval mode is used as it is).
        images: ``[B, 3, H, W]`` normalised images.
        targets: Their :class:`TrainTargets`.
        config: Loss weights (default :class:`LossConfig` ``()``).

    Returns:
        ``{"heatmap", "orpm", "pull", "push"} -> norm`` (float; 0 for a term
        of weight 0), plus ``"tags"``: the norm of pull + push together.
    """
    config = LossConfig() if config is None else config
    params = shared_parameters(model)
    outputs = model(images)
    weights = config.term_weights()
    norms: dict[str, float] = {}
    tag_grads = None
    for i, name in enumerate(TERMS):
        only = LossConfig(**{**{f"{t}_weight": 0.0 for t in TERMS}, f"{name}_weight": weights[name],
                             "push_sigma": config.push_sigma, "stack_weights": config.stack_weights,
                             "normalization": config.normalization})
        total, _ = compute_losses(outputs, targets, only)
        if weights[name] == 0 or not total.requires_grad:
            norms[name] = 0.0
            continue
        grads = torch.autograd.grad(total, params, retain_graph=i + 1 < len(TERMS), allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        norms[name] = float(torch.sqrt(sum(g.double().square().sum() for g in grads)))
        if name in ("pull", "push"):
            tag_grads = grads if tag_grads is None else [a + b for a, b in zip(tag_grads, grads)]
    norms["tags"] = 0.0 if tag_grads is None else float(torch.sqrt(sum(g.double().square().sum() for g in tag_grads)))
    return norms

"""Learning-rate schedules: the paper's, scaled to any run length, and one for short runs.

Benzine et al. train 240k iterations with Adam at 1e-4, divided by 10 at
iterations 70k, 200k and 220k. A run of ``total_steps`` keeps the same
fractions of its length: the drops fall at ``round(f * total_steps)`` for
``f`` in 70/240, 200/240, 220/240. On a short run that leaves 71 % of the
steps at a tenth of the rate or less; the ``"short"`` schedule
(:func:`short_factor`) keeps most of them at the base rate.
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["PAPER_LR", "PAPER_STEPS", "PAPER_MILESTONES", "SCHEDULES", "make_scheduler", "paper_milestones",
           "paper_scheduler", "short_factor"]

#: Initial learning rate of the paper (Adam).
PAPER_LR = 1e-4
#: Length of the paper's run (iterations of batch 30).
PAPER_STEPS = 240_000
#: Iterations at which the paper divides the learning rate by 10.
PAPER_MILESTONES = (70_000, 200_000, 220_000)


def paper_milestones(total_steps: int) -> list[int]:
    """The paper's drop iterations scaled to ``total_steps`` (strictly increasing, each >= 1).

    Raises:
        ValueError: ``total_steps`` < 1.
    """
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"total_steps: expected an int >= 1, got {total_steps!r}")
    out: list[int] = []
    for m in PAPER_MILESTONES:
        step = max(1, round(m * total_steps / PAPER_STEPS))
        out.append(max(step, out[-1] + 1) if out else step)
    return out


def paper_scheduler(optimizer: torch.optim.Optimizer, total_steps: int) -> torch.optim.lr_scheduler.MultiStepLR:
    """A ``MultiStepLR`` (gamma 0.1) at :func:`paper_milestones`; call ``step()`` once per optimizer step."""
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, paper_milestones(total_steps), gamma=0.1)


#: Learning-rate schedules of :class:`~ssmp3d.train.config.TrainConfig`.
SCHEDULES = ("short", "paper")
#: Share of a ``"short"`` run spent warming up linearly from a tenth of the base rate.
SHORT_WARMUP = 0.02
#: Share of a ``"short"`` run after which the rate decays (cosine) to :data:`SHORT_FINAL` of the base.
SHORT_DECAY_START = 0.75
#: Final rate of a ``"short"`` run, as a fraction of the base rate.
SHORT_FINAL = 0.01


def short_factor(step: int, total_steps: int) -> float:
    """Multiplier of the base rate at 0-based ``step`` of a ``"short"`` run of ``total_steps``.

    A linear warm-up from 0.1 to 1 over the first :data:`SHORT_WARMUP` of the
    run (at least one step), the base rate until :data:`SHORT_DECAY_START`,
    then a half cosine down to :data:`SHORT_FINAL` at the last step. About
    73 % of the steps run at the base rate (the paper's milestones, scaled,
    leave 29 %).
    """
    warm = max(1, round(SHORT_WARMUP * total_steps))
    decay = max(warm, round(SHORT_DECAY_START * total_steps))
    if step < warm:
        return 0.1 + 0.9 * step / warm
    if step < decay or total_steps - 1 <= decay:
        return 1.0
    t = min(1.0, (step - decay) / (total_steps - 1 - decay))
    return SHORT_FINAL + (1.0 - SHORT_FINAL) * 0.5 * (1.0 + math.cos(math.pi * t))


def make_scheduler(name: str, optimizer: torch.optim.Optimizer,
                   total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The scheduler ``name`` (one of :data:`SCHEDULES`) for a run of ``total_steps``; ``step()`` once per step.

    Raises:
        ValueError: an unknown name or ``total_steps`` < 1.
    """
    if name not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {SCHEDULES}, got {name!r}")
    if name == "paper":
        return paper_scheduler(optimizer, total_steps)
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise ValueError(f"total_steps: expected an int >= 1, got {total_steps!r}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(short_factor, total_steps=total_steps))

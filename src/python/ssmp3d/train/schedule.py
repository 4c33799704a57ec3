"""The paper's learning-rate schedule, scaled to any run length.

Benzine et al. train 240k iterations with Adam at 1e-4, divided by 10 at
iterations 70k, 200k and 220k. A run of ``total_steps`` keeps the same
fractions of its length: the drops fall at ``round(f * total_steps)`` for
``f`` in 70/240, 200/240, 220/240.
"""

from __future__ import annotations

import torch

__all__ = ["PAPER_LR", "PAPER_STEPS", "PAPER_MILESTONES", "paper_milestones", "paper_scheduler"]

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

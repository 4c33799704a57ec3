"""The paper's step schedule, scaled to the run length."""

from __future__ import annotations

import pytest
import torch

from ssmp3d.train.schedule import PAPER_MILESTONES, PAPER_STEPS, paper_milestones, paper_scheduler


def test_paper_length_gives_the_paper_milestones():
    assert paper_milestones(PAPER_STEPS) == list(PAPER_MILESTONES)
    assert paper_milestones(2400) == [700, 2000, 2200]


def test_short_runs_keep_increasing_milestones():
    for n in (1, 2, 3, 5, 13):
        m = paper_milestones(n)
        assert all(b > a for a, b in zip(m, m[1:])) and m[0] >= 1


def test_scheduler_divides_by_ten():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1e-4)
    sched = paper_scheduler(opt, 240)
    lrs = []
    for _ in range(240):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-4) and lrs[69] == pytest.approx(1e-4)
    assert lrs[70] == pytest.approx(1e-5) and lrs[200] == pytest.approx(1e-6) and lrs[220] == pytest.approx(1e-7)


def test_bad_length():
    with pytest.raises(ValueError, match="total_steps"):
        paper_milestones(0)

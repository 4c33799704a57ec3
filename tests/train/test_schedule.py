"""The learning-rate schedules: the paper's milestones scaled to the run length, and the short one."""

from __future__ import annotations

import pytest
import torch

from ssmp3d.train.schedule import (PAPER_MILESTONES, PAPER_STEPS, SHORT_FINAL, make_scheduler, paper_milestones,
                                   paper_scheduler, short_factor)


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


def _lrs(name: str, steps: int, lr: float = 1e-3) -> list[float]:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=lr)
    sched = make_scheduler(name, opt, steps)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_short_schedule_keeps_most_steps_at_the_base_rate():
    """A regression to a schedule that decays early (as the scaled paper one does) fails here."""
    lrs = _lrs("short", 1000)
    at_base = sum(v == pytest.approx(1e-3) for v in lrs)
    assert at_base >= 700
    assert lrs[0] == pytest.approx(1e-4)  # warm-up from a tenth
    assert lrs[19] < 1e-3 and lrs[20] == pytest.approx(1e-3)
    assert all(b <= a + 1e-15 for a, b in zip(lrs[750:], lrs[751:]))  # monotone decay
    assert lrs[-1] == pytest.approx(SHORT_FINAL * 1e-3)
    paper = _lrs("paper", 1000)
    assert sum(v == pytest.approx(1e-3) for v in paper) < 300


def test_short_schedule_tiny_runs_and_factor():
    for n in (1, 2, 3, 7):
        f = [short_factor(i, n) for i in range(n)]
        assert all(0 < v <= 1 for v in f)
    assert short_factor(0, 1) == pytest.approx(0.1)


def test_short_schedule_resumes_from_its_state():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1e-3)
    sched = make_scheduler("short", opt, 100)
    for _ in range(80):
        opt.step()
        sched.step()
    state, lr = sched.state_dict(), opt.param_groups[0]["lr"]
    opt2 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched2 = make_scheduler("short", opt2, 100)
    sched2.load_state_dict(state)
    assert sched2.get_last_lr()[0] == pytest.approx(lr)
    opt.step(), sched.step(), opt2.step(), sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])


def test_bad_schedule():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    with pytest.raises(ValueError, match="schedule"):
        make_scheduler("cosine", opt, 10)
    with pytest.raises(ValueError, match="total_steps"):
        make_scheduler("short", opt, 0)

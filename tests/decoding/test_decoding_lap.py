"""The linear-assignment solver (``ssmp3d.decoding.lap``): optimal, deterministic, strict about its input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.optimize import linear_sum_assignment

from ssmp3d.decoding.lap import solve_assignment


def total(cost, cols):
    return float(cost[np.arange(cost.shape[0]), cols].sum())


@st.composite
def matrices(draw):
    n = draw(st.integers(0, 7))
    m = draw(st.integers(max(n, 1), 9))
    values = st.sampled_from([0.0, 0.5, 1.0, 1.0, 2.0, np.inf]) | st.floats(0, 10)
    cost = draw(hnp.arrays(np.float64, (n, m), elements=values))
    cost[:, -1] = np.where(np.isinf(cost[:, -1]), 3.0, cost[:, -1])  # keep a finite assignment possible
    cost[:, m - n:] = np.where(np.isinf(cost[:, m - n:]), 5.0, cost[:, m - n:]) if n else cost[:, m - n:]
    return cost


@settings(max_examples=400, deadline=None)
@given(matrices())
def test_optimal_and_one_to_one(cost):
    cols = solve_assignment(cost)
    n = cost.shape[0]
    assert cols.shape == (n,) and len(set(cols.tolist())) == n
    if n:
        r, c = linear_sum_assignment(np.where(np.isinf(cost), 1e9, cost))
        assert total(cost, cols) == pytest.approx(float(cost[r, c].sum()), abs=1e-9)


def test_ties_go_to_the_lower_column_for_the_first_row():
    cost = np.zeros((2, 3))
    np.testing.assert_array_equal(solve_assignment(cost), [0, 1])
    cost = np.array([[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(solve_assignment(cost), [0, 1])


def test_forbidden_pairs_are_avoided():
    cost = np.array([[np.inf, 1.0, 9.0], [2.0, np.inf, 9.0]])
    np.testing.assert_array_equal(solve_assignment(cost), [1, 0])


def test_a_later_row_can_take_a_column_from_an_earlier_one():
    # Row 0 alone would take column 0; row 1 needs it more.
    cost = np.array([[1.0, 1.5], [1.0, 10.0]])
    np.testing.assert_array_equal(solve_assignment(cost), [1, 0])


def test_bad_input():
    with pytest.raises(ValueError, match="n <= m"):
        solve_assignment(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        solve_assignment(np.array([[np.nan, 1.0]]))
    assert solve_assignment(np.zeros((0, 4))).shape == (0,)

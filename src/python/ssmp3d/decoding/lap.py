"""Minimum-cost linear assignment: the exact twin of ``src/csrc/lap.cpp``.

The solver is the shortest-augmenting-path Hungarian algorithm with row and
column potentials (Kuhn-Munkres as usually written for dense rectangular
matrices): rows are added one at a time, and each addition runs a
Dijkstra-like search over the columns until it reaches a free column. It
needs ``n <= m`` and finds an assignment of every row to a distinct column of
least total cost. Entries may be ``+inf`` (forbidden) as long as a finite
assignment exists.

Exact arithmetic, shared with the C++ solver so that both return the same
assignment bit for bit:

* all values are float64; the reduced cost is ``(cost[i, j] - u[i]) - v[j]``;
* within a search step the column with the smallest running minimum wins,
  ties to the lowest column index (strict ``<`` in column order);
* a column's running minimum and its predecessor are replaced only on a
  strictly smaller reduced cost;
* potentials change by ``delta`` once per step: ``u[row of a used column] += delta``,
  ``v[used column] -= delta``, ``minv[unused column] -= delta``.

So when several assignments have the same total cost, the one returned is
the one this sequence of operations reaches; the rows' order (candidates by
rank) and the columns' order (people by creation) decide it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["solve_assignment"]


def solve_assignment(cost: np.ndarray) -> np.ndarray:
    """Assigns every row of ``cost`` to a distinct column at least total cost.

    Args:
        cost: ``[n, m]`` float64 with ``n <= m``; ``+inf`` marks a forbidden
            pair. Some assignment of finite total cost must exist.

    Returns:
        ``[n]`` int64: the column of each row.

    Raises:
        ValueError: more rows than columns, or NaN costs.
    """
    a = np.asarray(cost, dtype=np.float64)
    n, m = a.shape
    if n > m:
        raise ValueError(f"cost: expected n <= m, got shape {list(a.shape)}")
    if np.isnan(a).any():
        raise ValueError("cost: contains NaN")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    inf = np.inf
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=np.int64)  # p[j]: row (1-based) holding column j; column 0 is virtual
    way = np.zeros(m + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used[1:]
            cur = (a[i0 - 1] - u[i0]) - v[1:]  # reduced costs of row i0, [m]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            masked = np.where(free, minv[1:], inf)
            j1 = int(np.argmin(masked)) + 1  # first minimum: lowest column on ties
            delta = masked[j1 - 1]
            used_cols = np.flatnonzero(used)
            u[p[used_cols]] += delta
            v[used_cols] -= delta
            minv[~used] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    col_of_row = np.zeros(n, dtype=np.int64)
    for j in range(1, m + 1):
        if p[j]:
            col_of_row[p[j] - 1] = j - 1
    return col_of_row

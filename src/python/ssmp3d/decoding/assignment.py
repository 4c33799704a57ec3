"""Grouping by optimal assignment with a geometric cue (``DecodeConfig.grouping = "assign"``).

The exact specification that ``src/csrc/assignment.cpp`` reproduces. The
public associative-embedding decoders match each joint type's candidates to
the people formed so far by tag distance (a Hungarian assignment per type);
this strategy does the same with the unrounded distance, adds where the
candidate lies relative to each person's body, and finally joins fragments
of one person. Steps, for one image:

1. **Scale prior** ``s0`` (map pixels per metre): for every joint type ``k``
   with a parent ``p`` (ascending ``k``) and every candidate of ``k`` (rank
   order), the distance to the nearest candidate of ``p`` divided by the bone
   length ``bone[k] = path[k, parent[k]]``; ``s0`` is the median of these
   values (mean of the two middle ones when their number is even), 0 when
   there are none.
2. **Per joint type** ``k`` in the skeleton's topological order (parents
   first): with ``Q`` people formed so far, each with reference tag ``ref_q``
   (float64 sum of member tags in assignment order / count):

   * ``d[i, q] = tag_distance(tag_i, ref_q)``; the pair is allowed iff
     ``d < tag_threshold``.
   * ``g[i, q]`` (0 when ``geometry_weight == 0``): the person's scale ``sc_q``
     is the largest ``dist(joint j, parent j) / bone[j]`` over its pairs of
     grouped joints, else ``s0``; when it is 0, ``g = 0``. Otherwise the
     anchor is the person's grouped joint ``a`` with the smallest
     ``(path[a, k], a)`` and ``g = dist(candidate, joint a) / (path[a, k] * sc_q)``.
   * cost ``c = d + geometry_weight * g``; leaving a candidate out costs
     ``tag_threshold + geometry_weight``.
   * Only the first ``max_people`` people formed may take a joint (as the
     public decoders match against their first ``max_people`` people), which
     bounds each assignment to ``max_candidates x (max_people +
     max_candidates)``.
   * Rows: candidates with an allowed person, in rank order; columns: people
     allowed for one of them, in creation order, then one "leave out" column
     per row. :func:`ssmp3d.decoding.lap.solve_assignment` picks the least
     total cost (forbidden pairs ``+inf``). A row assigned to a person joins
     it; every other candidate of ``k`` starts a new person, in rank order.
3. **Merging** (only when ``geometry_weight > 0``): two of the first
   ``max_people`` people formed, ``a < b``, with no joint type in common may merge when ``dt = tag_distance(ref_a, ref_b) <
   tag_threshold`` and, with ``sc = max(sc_a, sc_b)`` (each 0 when the person
   has no grouped pair; ``s0`` when both are 0; no merge when still 0),
   ``gb = min over their joints x of a, y of b of (dist(x, y) / path[x, y]) / sc``
   is at most :data:`MERGE_LIMIT`. The pair with the smallest
   ``dt + geometry_weight * gb`` merges first (ties: smallest ``a``, then
   ``b``): ``b``'s joints, tag sum, count and score sum are added to ``a``'s
   and ``b`` is removed. Repeat until no pair qualifies.

Distances between pixels are ``sqrt(dx * dx + dy * dy)`` in float64. Every
float operation above is written in the order given, in both languages.
"""

from __future__ import annotations

import numpy as np

from ..bones import TreeGeometry
from .lap import solve_assignment

__all__ = ["MERGE_LIMIT", "group_by_assignment", "scale_prior", "tag_distances"]

#: Largest normalised gap ``gb`` between two fragments that may merge.
MERGE_LIMIT = 1.5


def _dist(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``sqrt(dx * dx + dy * dy)`` between pixel positions ``[..., 2]``."""
    dx = x[..., 0] - y[..., 0]
    dy = x[..., 1] - y[..., 1]
    return np.sqrt(dx * dx + dy * dy)


def tag_distances(tags: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Tag distances of ``[..., D]`` tags to ``[..., D]`` references (broadcast), float64.

    ``|t - r|`` when ``D == 1``; otherwise the Euclidean norm with the squares
    summed in order of ``d`` (both strategies, and the C++ ``tag_distance``).
    """
    diff = tags[..., 0] - ref[..., 0]
    if tags.shape[-1] == 1:
        return np.abs(diff)
    acc = diff * diff
    for d in range(1, tags.shape[-1]):
        diff = tags[..., d] - ref[..., d]
        acc = acc + diff * diff
    return np.sqrt(acc)


def scale_prior(xy: np.ndarray, counts: np.ndarray, tree: TreeGeometry) -> float:
    """``s0``: median over candidates of (distance to the nearest parent candidate) / bone (step 1)."""
    values = []
    for k in range(len(tree.parents)):
        p = int(tree.parents[k])
        if p < 0 or counts[k] == 0 or counts[p] == 0:
            continue
        dist = _dist(xy[k, : counts[k], None], xy[p, None, : counts[p]]).min(axis=1)
        values.append(dist / tree.path[k, p])
    if not values:
        return 0.0
    v = np.sort(np.concatenate(values))
    h = v.shape[0] // 2
    return float(v[h]) if v.shape[0] % 2 else float((v[h - 1] + v[h]) / 2.0)


class _People:
    """The people being formed: rows, sums and positions (growing arrays)."""

    def __init__(self, k: int, dim: int) -> None:
        self.rows: list[np.ndarray] = []  # [K] rank, -1 none
        self.pos: list[np.ndarray] = []  # [K, 2] float64 pixel of each grouped joint
        self.tag_sum: list[np.ndarray] = []
        self.count: list[int] = []
        self.score_sum: list[float] = []
        self.scale: list[float] = []
        self.seeds: list[tuple[int, int]] = []
        self.k, self.dim = k, dim

    def new(self, k: int, r: int, tag: np.ndarray, score: float, xy: np.ndarray) -> None:
        row = np.full(self.k, -1, np.int64)
        row[k] = r
        pos = np.zeros((self.k, 2))
        pos[k] = xy
        self.rows.append(row)
        self.pos.append(pos)
        self.tag_sum.append(np.zeros(self.dim) + tag)
        self.count.append(1)
        self.score_sum.append(0.0 + score)
        self.scale.append(0.0)
        self.seeds.append((k, r))

    def add(self, q: int, k: int, r: int, tag: np.ndarray, score: float, xy: np.ndarray, tree: TreeGeometry) -> None:
        self.rows[q][k] = r
        self.pos[q][k] = xy
        self.tag_sum[q] = self.tag_sum[q] + tag
        self.count[q] += 1
        self.score_sum[q] += score
        self.scale[q] = _scale(self.rows[q], self.pos[q], tree)


def _scale(row: np.ndarray, pos: np.ndarray, tree: TreeGeometry) -> float:
    """Largest ``dist(j, parent j) / bone[j]`` over grouped pairs, 0 when none."""
    par = tree.parents
    j = np.flatnonzero((par >= 0) & (row >= 0))
    j = j[row[par[j]] >= 0]
    if j.size == 0:
        return 0.0
    return max(0.0, float((_dist(pos[j], pos[par[j]]) / tree.path[j, par[j]]).max()))


def _anchor(row: np.ndarray, pos: np.ndarray, k: int, cand_xy: np.ndarray,
            tree: TreeGeometry) -> tuple[np.ndarray, float]:
    """Distances ``[n]`` of the candidates to the person's anchor for type ``k`` (its grouped
    joint with the smallest ``(path[a, k], a)``), and that path length."""
    grouped = np.flatnonzero(row >= 0)
    a = int(grouped[np.lexsort((grouped, tree.path[grouped, k]))[0]])
    return _dist(cand_xy, pos[a]), float(tree.path[a, k])


def group_by_assignment(scores: np.ndarray, tags: np.ndarray, counts: np.ndarray, xy: np.ndarray,
                        tree: TreeGeometry, tag_threshold: float, geometry_weight: float,
                        max_people: int) -> _People:
    """Forms the people of one image (steps 1-3 of the module docstring).

    Args:
        scores: ``[K, M]`` float32 candidate scores (rank order).
        tags: ``[K, M, D]`` float64 candidate tags.
        counts: ``[K]`` candidates per joint type, in ``[0, M]``.
        xy: ``[K, M, 2]`` float64 candidate pixels ``(x, y)``.
        tree: The skeleton's :class:`TreeGeometry`.
        tag_threshold: Gate on the tag distance (``> 0``).
        geometry_weight: Weight of the geometric cue (``>= 0``; 0 also skips merging).
        max_people: Only the first ``max_people`` people formed take joints.

    Returns:
        The people in creation order (merged-away people removed).
    """
    num_k, _, dim = tags.shape
    w = float(geometry_weight)
    thr = float(tag_threshold)
    s0 = scale_prior(xy, counts, tree) if w > 0 else 0.0
    people = _People(num_k, dim)
    for k in (int(v) for v in tree.order):
        n = int(counts[k])
        if n == 0:
            continue
        joined = np.full(n, -1, np.int64)
        nq = min(len(people.rows), max_people)  # the people that may take a joint
        if nq:
            ref = np.stack(people.tag_sum[:nq]) / np.asarray(people.count[:nq], np.float64)[:, None]  # [Q, D]
            d = tag_distances(tags[k, :n, None, :], ref[None, :, :])  # [n, Q]
            allowed = d < thr
            rows = np.flatnonzero(allowed.any(axis=1))
            cols = np.flatnonzero(allowed[rows].any(axis=0))
            if rows.size:
                cost = d[np.ix_(rows, cols)]
                if w > 0:
                    g = np.zeros((rows.size, cols.size))
                    for ci, q in enumerate(cols):
                        sc = people.scale[q] if people.scale[q] > 0 else s0
                        if sc > 0:
                            dist, plen = _anchor(people.rows[q], people.pos[q], k, xy[k, rows], tree)
                            g[:, ci] = dist / (plen * sc)
                    cost = cost + w * g
                cost = np.where(allowed[np.ix_(rows, cols)], cost, np.inf)
                leave = np.full((rows.size, rows.size), thr + w)
                col = solve_assignment(np.concatenate([cost, leave], axis=1))
                for ri, c in zip(rows, col):
                    if c < cols.size:
                        joined[ri] = cols[c]
        for r in range(n):
            if joined[r] >= 0:
                people.add(int(joined[r]), k, r, tags[k, r], float(scores[k, r]), xy[k, r], tree)
        for r in range(n):
            if joined[r] < 0:
                people.new(k, r, tags[k, r], float(scores[k, r]), xy[k, r])
    if w > 0:
        _merge(people, tree, thr, w, s0, max_people)
    return people


class _MergeState:
    """The people as arrays while they merge (updated in place)."""

    def __init__(self, people: _People, q: int) -> None:
        self.rows = np.stack(people.rows[:q]) >= 0  # [q, K]
        self.pos = np.stack(people.pos[:q])  # [q, K, 2]
        self.ref = np.stack(people.tag_sum[:q]) / np.asarray(people.count[:q], dtype=np.float64)[:, None]  # [q, D]
        self.scale = np.asarray(people.scale[:q], dtype=np.float64)


def _pair_keys(st: _MergeState, lo: np.ndarray, hi: np.ndarray, tree: TreeGeometry, thr: float, w: float,
               s0: float) -> np.ndarray:
    """Merge keys ``dt + w * gb`` of the pairs ``(lo[i], hi[i])`` (step 3); inf where
    a pair may not merge."""
    key = np.full(lo.shape, np.inf)
    if lo.size == 0:
        return key
    dt = tag_distances(st.ref[lo], st.ref[hi])
    sc = np.maximum(st.scale[lo], st.scale[hi])
    sc = np.where(sc == 0.0, s0, sc)
    ok = np.flatnonzero((dt < thr) & (sc != 0.0))
    ok = ok[~(st.rows[lo[ok]] & st.rows[hi[ok]]).any(axis=1)]
    for start in range(0, ok.size, 4096):  # bounded memory: [4096, K, K]
        i = ok[start : start + 4096]
        pa, pb = lo[i], hi[i]
        dist = _dist(st.pos[pa][:, :, None, :], st.pos[pb][:, None, :, :])  # [N, K, K]
        with np.errstate(divide="ignore", invalid="ignore"):  # the diagonal (0 / 0) is never a pair
            ratio = np.where(st.rows[pa][:, :, None] & st.rows[pb][:, None, :], dist / tree.path[None], np.inf)
        gb = ratio.reshape(i.size, -1).min(axis=1) / sc[i]
        key[i] = np.where(gb <= MERGE_LIMIT, dt[i] + w * gb, np.inf)
    return key


def _merge(people: _People, tree: TreeGeometry, thr: float, w: float, s0: float, max_people: int) -> None:
    """Joins fragments of one person (step 3), in place, among the first ``max_people`` people.

    The pair with the smallest key over all pairs ``a < b`` merges first
    (ties: smallest ``a``, then ``b``). Kept as each row's best pair
    (smallest key, ties to the smallest ``b``): the first row with the
    smallest best holds the global first minimum. After ``b`` merges into
    ``a``, row ``a`` is recomputed, rows whose best pair involved ``a`` or
    ``b`` are recomputed, and rows ``o < a`` compare their new key with ``a``.
    """
    q = min(len(people.rows), max_people)
    if q < 2:
        return
    st = _MergeState(people, q)
    alive = np.ones(q, dtype=bool)
    best_key = np.full(q, np.inf)
    best_b = np.full(q, -1, dtype=np.int64)

    def refresh(rows_: np.ndarray) -> None:
        """Recomputes the best pair of each row in ``rows_`` (one block)."""
        if rows_.size == 0:
            return
        cols = np.flatnonzero(alive)
        lo = np.repeat(rows_, cols.size)
        hi = np.tile(cols, rows_.size)
        keys = np.where(hi > lo, _pair_keys(st, lo, hi, tree, thr, w, s0), np.inf).reshape(rows_.size, cols.size)
        i = np.argmin(keys, axis=1)
        best = keys[np.arange(rows_.size), i]
        best_key[rows_] = best
        best_b[rows_] = np.where(np.isfinite(best), cols[i], -1)

    for start in range(0, q, 64):  # the initial rows in blocks of [64 * Q] pairs
        refresh(np.arange(start, min(start + 64, q)))
    while True:
        a = int(np.argmin(best_key))
        if not np.isfinite(best_key[a]):
            break
        b = int(best_b[a])
        mask = people.rows[b] >= 0
        people.rows[a][mask] = people.rows[b][mask]
        people.pos[a][mask] = people.pos[b][mask]
        people.tag_sum[a] = people.tag_sum[a] + people.tag_sum[b]
        people.count[a] += people.count[b]
        people.score_sum[a] += people.score_sum[b]
        people.scale[a] = _scale(people.rows[a], people.pos[a], tree)
        st.rows[a] |= st.rows[b]
        st.pos[a][mask] = st.pos[b][mask]
        st.ref[a] = people.tag_sum[a] / float(people.count[a])
        st.scale[a] = people.scale[a]
        alive[b] = False
        best_key[b], best_b[b] = np.inf, -1
        lower = np.flatnonzero(alive[:a])
        new = _pair_keys(st, lower, np.full(lower.size, a), tree, thr, w, s0)
        stale = (best_b[lower] == a) | (best_b[lower] == b)
        better = ~stale & ((new < best_key[lower]) | ((new == best_key[lower]) & (a < best_b[lower])))
        best_key[lower[better]] = new[better]
        best_b[lower[better]] = a
        middle = np.flatnonzero(alive[a + 1 : b]) + a + 1
        refresh(np.concatenate([lower[stale], [a], middle[best_b[middle] == b]]).astype(np.int64))
    keep = np.concatenate([np.flatnonzero(alive), np.arange(q, len(people.rows))])
    for name in ("rows", "pos", "tag_sum", "count", "score_sum", "scale", "seeds"):
        values = getattr(people, name)
        setattr(people, name, [values[i] for i in keep])

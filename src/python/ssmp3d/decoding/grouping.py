"""Greedy associative-embedding grouping of joint candidates (DESIGN.md section 6.3).

The paper (section 3.5) seeds people with the detected necks, lets each person
take, one at a time, the best-scoring compatible candidate until none is left,
and then seeds new people with the leftover candidates. This module is the
exact specification of that procedure that every backend reproduces:

* Candidates are the NMS peaks of each joint type ``k``, ranked ``0..count-1``
  in NMS order (score descending, flat index ascending).
* People are seeded by the neck candidates in rank order. Each person is grown
  completely before the next one is seeded.
* Growing: among the unassigned candidates of joint types the person does not
  have yet whose tag distance to the person's reference tag is *strictly*
  below ``tag_threshold``, take the one with the highest score (ties: lower
  joint index, then lower rank), update the reference, repeat; stop when none
  qualifies.
* Reference tag: running float64 sum of the member tags, in assignment order,
  divided by the member count (a true division, not a multiplication by the
  reciprocal). Distance: ``|t - ref|`` for one-dimensional tags; for ``D > 1``
  ``sqrt(((t_0 - r_0)^2 + (t_1 - r_1)^2) + ...)``, squares summed
  sequentially over ``d = 0..D-1``, all in float64.
* After the necks, the highest-scoring unassigned candidate (ties: joint
  index, then rank) seeds a new person, grown the same way, until every
  candidate is assigned.
* People with fewer than ``min_joints`` joints are dropped; the others are
  sorted by person score (running float64 sum of joint scores in assignment
  order, divided by the count) descending, ties in creation order, and the
  first ``max_people`` are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..bones import TreeGeometry
from .assignment import group_by_assignment, tag_distances
from .types import DecodeConfig


@dataclass(frozen=True, eq=False)
class Grouping:
    """Result of :func:`group_candidates` for one image.

    Rows (``Q`` people) are in creation order: neck-seeded people first, in
    neck rank order, then leftover-seeded people in seeding order. Every
    person formed is listed, including those that filtering drops, because
    the read-out validity test considers all of them.

    Attributes:
        assignment: ``[Q, K]`` int64 candidate rank of each joint (-1: none).
        scores: ``[Q]`` float64 person scores (:func:`person_scores`).
        tags: ``[Q, D]`` float64 final reference tags (mean member tag).
        num_joints: ``[Q]`` int64 joints per person.
        seeds: ``[Q, 2]`` int64 ``(joint, rank)`` of the candidate that seeded
            each person.
        kept: ``[P']`` int64 row indices of the people kept after
            ``min_joints`` / ``max_people`` filtering, in output order (score
            descending, ties by creation order).
    """

    assignment: np.ndarray
    scores: np.ndarray
    tags: np.ndarray
    num_joints: np.ndarray
    seeds: np.ndarray
    kept: np.ndarray

    @property
    def num_formed(self) -> int:
        """Number of people formed, ``Q`` (before filtering)."""
        return int(self.assignment.shape[0])


def tag_distance(tags: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Distances between candidate tags and a reference tag, in float64.

    Args:
        tags: ``[D, N]`` float64 candidate tags (one row per tag dimension).
        ref: ``[D]`` float64 reference tag.

    Returns:
        ``[N]`` float64: ``|t - ref|`` when ``D == 1``; otherwise the Euclidean
        norm with the squares summed sequentially over ``d = 0..D-1``
        (:func:`~ssmp3d.decoding.assignment.tag_distances`).
    """
    return tag_distances(tags.T, ref[None, :])


def group_candidates(
    scores: np.ndarray,
    tags: np.ndarray,
    counts: np.ndarray,
    neck: int,
    config: DecodeConfig,
    *,
    xy: np.ndarray | None = None,
    tree: TreeGeometry | None = None,
) -> Grouping:
    """Groups the joint candidates of one image into people (``config.grouping``).

    Args:
        scores: ``[K, M]`` float32 candidate scores, rank order per joint
            (entries at ranks ``>= counts[k]`` are ignored).
        tags: ``[K, M, D]`` float64 candidate tags (``[K, M]`` is read as ``D = 1``).
        counts: ``[K]`` number of candidates per joint type.
        neck: Index of the neck joint (seeds people first in ``"paper"``).
        config: Uses ``grouping``, ``tag_threshold``, ``geometry_weight``,
            ``person_score``, ``min_person_score``, ``min_joints`` and ``max_people``.
        xy: ``[K, M, 2]`` candidate pixels ``(x, y)``; needed by ``"assign"``.
        tree: The skeleton's :class:`~ssmp3d.bones.TreeGeometry`;
            needed by ``"assign"``.

    Returns:
        The :class:`Grouping` of every person formed, and the kept subset.
    """
    scores = np.asarray(scores, dtype=np.float32)
    tags = np.asarray(tags, dtype=np.float64)
    if tags.ndim == 2:
        tags = tags[..., None]
    num_k, m = scores.shape
    counts = np.minimum(np.asarray(counts, dtype=np.int64).reshape(num_k), m)
    if config.grouping == "paper":
        rows, score_sums, tag_arr, seeds = _group_paper(scores, tags, counts, neck, config)
        joints = (rows >= 0).sum(axis=1).astype(np.int64)
    else:
        if xy is None or tree is None:
            raise ValueError("group_candidates: grouping 'assign' needs xy and tree")
        people = group_by_assignment(scores, tags, np.maximum(counts, 0), np.asarray(xy, np.float64), tree,
                                     config.tag_threshold, config.geometry_weight, config.max_people)
        q = len(people.rows)
        rows = np.stack(people.rows) if q else np.zeros((0, num_k), dtype=np.int64)
        score_sums = np.asarray(people.score_sum, dtype=np.float64)
        joints = np.asarray(people.count, dtype=np.int64)
        tag_arr = (np.stack(people.tag_sum) / joints[:, None].astype(np.float64) if q
                   else np.zeros((0, tags.shape[2]), dtype=np.float64))
        seeds = np.asarray(people.seeds, dtype=np.int64).reshape(q, 2)
    return _finish(rows, score_sums, joints, tag_arr, seeds, num_k, config)


def person_scores(score_sums: np.ndarray, num_joints: np.ndarray, num_k: int, rule: str) -> np.ndarray:
    """Person scores ``[Q]`` float64 from the float64 sums of their joint scores.

    ``"detected"``: ``sum / num_joints`` (the mean over the person's joints);
    ``"all"``: ``sum / K`` (the mean over every joint type, missing ones
    counting 0, so partial people score lower).
    """
    if rule == "detected":
        return score_sums / num_joints.astype(np.float64)
    return score_sums / float(num_k)


def _finish(rows, score_sums, joints, tag_arr, seeds, num_k, config) -> Grouping:
    """Person scores, then the ``min_joints`` / ``min_person_score`` / ``max_people`` filter."""
    q = rows.shape[0]
    score_arr = person_scores(score_sums, joints, num_k, config.person_score) if q else np.zeros(0)
    # min_person_score 0 drops nobody (scores are negative only below a negative det_threshold);
    # NaN scores (from +inf and -inf joint scores) pass the score test and sort last.
    passing = ~(score_arr < config.min_person_score) if config.min_person_score > 0 else np.ones(q, bool)
    eligible = np.flatnonzero((joints >= config.min_joints) & passing)
    ranked = eligible[np.argsort(-score_arr[eligible], kind="stable")]
    return Grouping(
        assignment=rows,
        scores=score_arr,
        tags=tag_arr,
        num_joints=joints,
        seeds=seeds,
        kept=ranked[: config.max_people].astype(np.int64),
    )


def _group_paper(scores, tags, counts, neck, config):
    """The paper's greedy grouping: rows, score sums, reference tags, seeds (creation order)."""
    num_k, m = scores.shape
    dim = tags.shape[2]
    # Flatten the candidates, sorted once by (score desc, joint asc, rank asc):
    # the first qualifying candidate in this order is the one to take.
    cand_k, cand_r = np.nonzero(np.arange(m)[None, :] < counts[:, None])
    cand_s = scores[cand_k, cand_r]
    order = np.lexsort((cand_r, cand_k, -cand_s))
    cand_k, cand_r, cand_s = cand_k[order], cand_r[order], cand_s[order]
    cand_t = np.ascontiguousarray(tags[cand_k, cand_r].T)  # [D, N]
    n = cand_k.shape[0]
    of_joint = [np.flatnonzero(cand_k == k) for k in range(num_k)]

    free = np.ones(n, dtype=bool)
    threshold = float(config.tag_threshold)
    rows: list[np.ndarray] = []
    person_sums: list[float] = []
    person_tags: list[np.ndarray] = []
    seeds: list[tuple[int, int]] = []

    def grow(seed: int) -> None:
        """Creates a person from candidate ``seed`` and grows it fully."""
        row = np.full(num_k, -1, dtype=np.int64)
        allowed = free.copy()  # unassigned and of a joint type the person lacks
        tag_sum = np.zeros(dim, dtype=np.float64)
        score_sum = 0.0
        count = 0
        i = seed
        while True:
            k = int(cand_k[i])
            row[k] = cand_r[i]
            free[i] = False
            allowed[of_joint[k]] = False
            tag_sum = tag_sum + cand_t[:, i]
            score_sum += float(cand_s[i])
            count += 1
            ref = tag_sum / count
            ok = tag_distance(cand_t, ref) < threshold
            ok &= allowed
            i = int(ok.argmax())  # first in (score, joint, rank) order
            if not ok[i]:
                break
        rows.append(row)
        person_sums.append(score_sum)
        person_tags.append(ref)
        seeds.append((int(cand_k[seed]), int(cand_r[seed])))

    if 0 <= neck < num_k:
        neck_pos = of_joint[neck][np.argsort(cand_r[of_joint[neck]], kind="stable")]
        for i in neck_pos:
            if free[i]:
                grow(int(i))
    ptr = 0
    while ptr < n:
        if free[ptr]:
            grow(ptr)
        ptr += 1

    q = len(rows)
    assignment = np.stack(rows) if q else np.zeros((0, num_k), dtype=np.int64)
    tag_arr = np.stack(person_tags) if q else np.zeros((0, dim), dtype=np.float64)
    return (assignment, np.asarray(person_sums, dtype=np.float64), tag_arr,
            np.asarray(seeds, dtype=np.int64).reshape(q, 2))

"""The public associative-embedding grouping, re-implemented as a benchmark baseline.

The algorithm of ``match_by_tag`` in pose-ae-train's ``utils/group.py``
(Newell et al., 2017), which HigherHRNet and mmpose's ``AssociativeEmbedding``
codec follow, written here from its published description:

* joint types are visited in a fixed order (head, shoulders, hips, elbows,
  wrists, knees, ankles for COCO; for our skeleton :data:`PUBLIC_AE_ORDER`);
* the first type's candidates start people; for every later type, the
  candidates are matched to the first ``max_people`` people formed so far by
  a Hungarian assignment on ``round(|tag - mean tag|) * 100 - score``
  (columns padded with ``1e10`` when there are more candidates than people);
* a matched pair joins when its unrounded distance is ``< tag_threshold``;
  every other candidate starts a new person;
* a person's score is the mean of its joint scores over all ``K`` joints.

It runs on our NMS candidates (same peaks, same threshold), so the benchmark
compares grouping alone. scipy's ``linear_sum_assignment`` stands in for the
``munkres`` package; both find an optimal assignment, and may break exact
ties differently.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..skeleton import PANOPTIC19, Skeleton

__all__ = ["PUBLIC_AE_ORDER", "group_public_ae", "public_ae_order"]

#: pose-ae-train's COCO visiting order by joint name, then our extra torso joints.
PUBLIC_AE_ORDER = ("nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_hip", "r_hip",
                   "l_elbow", "r_elbow", "l_wrist", "r_wrist", "l_knee", "r_knee", "l_ankle", "r_ankle",
                   "neck", "pelvis")


def public_ae_order(skeleton: Skeleton = PANOPTIC19) -> list[int]:
    """Joint indices in :data:`PUBLIC_AE_ORDER`; joints it does not name follow in index order."""
    named = [skeleton.joints.index(n) for n in PUBLIC_AE_ORDER if n in skeleton.joints]
    return named + [k for k in range(skeleton.num_joints) if k not in named]


def group_public_ae(scores: np.ndarray, tags: np.ndarray, counts: np.ndarray, order: list[int],
                    tag_threshold: float = 1.0, max_people: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Groups one image's candidates as the public AE decoders do.

    Args:
        scores: ``[K, M]`` candidate scores (rank order).
        tags: ``[K, M]`` or ``[K, M, D]`` candidate tags.
        counts: ``[K]`` candidates per joint type.
        order: Joint types in visiting order (:func:`public_ae_order`).
        tag_threshold: Largest (exclusive) unrounded tag distance of a join.
        max_people: Only the first ``max_people`` people take joints.

    Returns:
        ``rows [Q, K]`` int64 candidate ranks (-1 none) and ``person_scores
        [Q]`` (mean joint score over ``K``), people in creation order.
    """
    tags = np.asarray(tags, np.float64)
    tags = tags[..., None] if tags.ndim == 2 else tags
    num_k = scores.shape[0]
    rows: list[np.ndarray] = []
    member_tags: list[list[np.ndarray]] = []

    def start(k: int, r: int) -> None:
        row = np.full(num_k, -1, np.int64)
        row[k] = r
        rows.append(row)
        member_tags.append([tags[k, r]])

    for k in order:
        n = int(counts[k])
        if n == 0:
            continue
        if not rows:
            for r in range(n):
                start(k, r)
            continue
        grouped = list(range(min(len(rows), max_people)))
        ref = np.stack([np.mean(member_tags[q], axis=0) for q in grouped])  # [G, D]
        dist = np.linalg.norm(tags[k, :n, None, :] - ref[None], axis=2)  # [n, G]
        cost = np.round(dist) * 100 - scores[k, :n, None]
        if n > len(grouped):
            cost = np.concatenate([cost, np.full((n, n - len(grouped)), 1e10)], axis=1)
        matched = np.zeros(n, bool)
        for r, c in zip(*linear_sum_assignment(cost)):
            if c < len(grouped) and dist[r, c] < tag_threshold:
                rows[grouped[c]][k] = r
                member_tags[grouped[c]].append(tags[k, r])
                matched[r] = True
        for r in np.flatnonzero(~matched):
            start(k, int(r))
    if not rows:
        return np.zeros((0, num_k), np.int64), np.zeros(0)
    out = np.stack(rows)
    person_scores = np.where(out >= 0, scores[np.arange(num_k)[None], np.maximum(out, 0)], 0.0).sum(1) / num_k
    return out, person_scores

"""One-to-one matching of predicted people to ground-truth people (DESIGN.md section 7).

Definition of the "2D root distance" used by this project
-----------------------------------------------------------

The root is the pelvis. For a predicted person ``p`` and a ground-truth (GT)
person ``g`` let the *shared joints* be

    S(p, g) = { k : p detected joint k with finite 2D coordinates, and
                    k is ``in_image`` for g with finite 2D coordinates }.

* ``S`` empty: the pair cannot match (its distance is ``inf``).
* The pelvis in ``S``: the distance is the plain root distance
  ``|| pred_pelvis - gt_pelvis ||`` (image pixels).
* Otherwise (the prediction has no pelvis, or the GT pelvis is outside the
  image): the prediction's root is *estimated* from the GT as
  ``r = gt_pelvis + mean_{k in S} (pred_k - gt_k)`` (the GT-relative offset
  averaged over the shared joints), so the distance is
  ``|| r - gt_pelvis || = || mean_{k in S} (pred_k - gt_k) ||``. It needs no
  GT pelvis position (which may be outside the image, or even behind the
  camera) and equals the plain root distance when the prediction is the GT
  translated rigidly in the image.

A pair whose distance is ``>= threshold`` cannot match either.

Assignment
----------

Among the allowed pairs, the matching maximises first the number of matched
pairs and then minimises the sum of their distances. It is computed with
:func:`scipy.optimize.linear_sum_assignment` on the distance matrix where
forbidden pairs cost a constant larger than any possible sum of allowed
distances; assigned forbidden pairs are dropped afterwards. The result is
deterministic (the solver is) and returned sorted by prediction index.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment


def _as_array(value: object, name: str, shape: tuple[int | None, ...], dtype: type) -> np.ndarray:
    """Converts ``value`` and checks its shape (``None`` = any size).

    Raises:
        TypeError: if ``value`` cannot be converted to ``dtype``.
        ValueError: if the shape is wrong (naming ``name``).
    """
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected an array convertible to {dtype.__name__}, got "
                        f"{type(value).__name__}") from exc
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape)):
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"{name}: expected shape {want}, got {list(arr.shape)}")
    return arr


def pairwise_root_distance(
    pred_joints2d: np.ndarray,
    pred_detected: np.ndarray,
    gt_joints2d: np.ndarray,
    gt_in_image: np.ndarray,
    *,
    pelvis: int,
) -> np.ndarray:
    """The project's 2D root distance (module docstring) for every pair.

    Args:
        pred_joints2d: ``[P, K, 2]`` predicted joints, image pixels (NaN where missing).
        pred_detected: ``[P, K]`` bool, the prediction detected the joint.
        gt_joints2d: ``[N, K, 2]`` GT joints, image pixels.
        gt_in_image: ``[N, K]`` bool, the GT joint projects inside the image.
        pelvis: Index of the root joint.

    Returns:
        ``[P, N]`` float64 distances in pixels; ``inf`` where the pair shares no joint.

    Raises:
        ValueError: on inconsistent shapes or an out-of-range ``pelvis``.
    """
    pj = _as_array(pred_joints2d, "pred_joints2d", (None, None, 2), np.float64)
    num_pred, k = pj.shape[:2]
    pd = _as_array(pred_detected, "pred_detected", (num_pred, k), bool)
    gj = _as_array(gt_joints2d, "gt_joints2d", (None, k, 2), np.float64)
    gi = _as_array(gt_in_image, "gt_in_image", (gj.shape[0], k), bool)
    if isinstance(pelvis, bool) or not isinstance(pelvis, (int, np.integer)) or not 0 <= pelvis < k:
        raise ValueError(f"pelvis: expected a joint index in [0, {k}), got {pelvis!r}")

    pred_ok = pd & np.all(np.isfinite(pj), axis=-1)                 # [P, K]
    gt_ok = gi & np.all(np.isfinite(gj), axis=-1)                   # [N, K]
    shared = pred_ok[:, None, :] & gt_ok[None, :, :]                # [P, N, K]
    count = shared.sum(axis=-1)                                     # [P, N]
    with np.errstate(invalid="ignore"):
        diff = pj[:, None, :, :] - gj[None, :, :, :]                # [P, N, K, 2]
    diff = np.where(shared[..., None], diff, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_offset = diff.sum(axis=2) / count[..., None]           # [P, N, 2]
    dist = np.linalg.norm(mean_offset, axis=-1)
    pelvis_shared = shared[:, :, pelvis]
    dist = np.where(pelvis_shared, np.linalg.norm(diff[:, :, pelvis], axis=-1), dist)
    return np.where(count > 0, dist, np.inf)


def match_people(
    pred_joints2d: np.ndarray,
    pred_detected: np.ndarray,
    gt_joints2d: np.ndarray,
    gt_in_image: np.ndarray,
    *,
    pelvis: int,
    threshold: float,
) -> list[tuple[int, int]]:
    """Matches predictions to GT people one-to-one on the 2D root distance.

    See the module docstring for the distance and the assignment rule. A
    pair is allowed only when it shares a joint and its distance is
    ``< threshold``.

    Args:
        pred_joints2d: ``[P, K, 2]`` predicted joints, image pixels (NaN where missing).
        pred_detected: ``[P, K]`` bool.
        gt_joints2d: ``[N, K, 2]`` GT joints, image pixels.
        gt_in_image: ``[N, K]`` bool.
        pelvis: Index of the root joint.
        threshold: Largest (exclusive) distance of a match, pixels; finite, > 0.

    Returns:
        ``[(pred_idx, gt_idx), ...]`` sorted by ``pred_idx``.

    Raises:
        ValueError: on bad shapes, ``pelvis`` or ``threshold``.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)) \
            or not math.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold: expected a finite number > 0, got {threshold!r}")
    dist = pairwise_root_distance(pred_joints2d, pred_detected, gt_joints2d, gt_in_image, pelvis=pelvis)
    allowed = dist < threshold
    if not allowed.any():
        return []
    # Every allowed cost is < threshold, so min(P, N) of them sum to less than
    # `forbidden`: the solver first maximises the number of allowed pairs.
    forbidden = float(threshold) * (min(dist.shape) + 1)
    cost = np.where(allowed, dist, forbidden)
    rows, cols = linear_sum_assignment(cost)
    return sorted((int(r), int(c)) for r, c in zip(rows, cols) if allowed[r, c])

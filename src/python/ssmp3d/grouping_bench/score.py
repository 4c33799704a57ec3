"""Joint accuracy of a grouping: the share of detected joints that land in the right person."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .maps import GroupingFrame

__all__ = ["OWNER_TOLERANCE", "joint_accuracy"]

#: A candidate peak belongs to a person's joint when it lies within this many map pixels.
OWNER_TOLERANCE = 1.5


def _owners(frame: GroupingFrame, peaks: np.ndarray, width: int) -> np.ndarray:
    """Ground-truth person of each predicted joint ``[P, K]`` (-1: none).

    Per joint type, the predicted peaks and the people's present joints are
    matched one to one on their distance (Hungarian), pairs within
    :data:`OWNER_TOLERANCE`: a peak owns at most one joint and vice versa.
    """
    p, k = peaks.shape
    owner = np.full((p, k), -1, np.int64)
    for j in range(k):
        pi = np.flatnonzero(peaks[:, j] >= 0)
        gi = np.flatnonzero(frame.present[:, j])
        if pi.size == 0 or gi.size == 0:
            continue
        xy = np.stack([peaks[pi, j] % width, peaks[pi, j] // width], -1).astype(np.float64)
        d = np.linalg.norm(xy[:, None] - frame.joints[gi, j][None], axis=2)
        for a, b in zip(*linear_sum_assignment(d)):
            if d[a, b] <= OWNER_TOLERANCE:
                owner[pi[a], j] = gi[b]
    return owner


def joint_accuracy(frame: GroupingFrame, peaks: np.ndarray, width: int) -> tuple[int, int]:
    """How many detected ground-truth joints end in the right person.

    Predicted people are matched one to one to the ground-truth people so
    that the number of joints they share is largest (Hungarian); a joint is
    right when its predicted person is matched to its owner.

    Args:
        frame: The ground truth.
        peaks: ``[P, K]`` flat map indices ``y * width + x`` of each predicted
            person's joints (-1: none).
        width: Map width.

    Returns:
        ``(right, detected)``: right joints, and ground-truth joints that some
        predicted joint owns (the accuracy is their ratio; joints no person
        holds, e.g. lost in merged peaks, are not counted).
    """
    owner = _owners(frame, np.asarray(peaks, np.int64).reshape(-1, frame.present.shape[1]), width)
    detected = int((owner >= 0).sum())
    n = frame.present.shape[0]
    if owner.shape[0] == 0 or detected == 0:
        return 0, detected
    shared = np.zeros((owner.shape[0], n), np.int64)
    for q, j in zip(*np.nonzero(owner >= 0)):
        shared[q, owner[q, j]] += 1
    r, c = linear_sum_assignment(-shared)
    return int(shared[r, c].sum()), detected

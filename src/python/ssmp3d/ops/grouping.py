"""Greedy grouping of candidate tables (DESIGN.md section 6.3): the checked public op.

:func:`group_candidates` runs the C++ grouper on a batch of candidate tables
(e.g. the output of :func:`ssmp3d.ops.nms_gather`). Its results equal the
Python specification :func:`ssmp3d.decode.grouping.group_candidates` image by
image (batched twin: :func:`ssmp3d.ops._reference.group_candidates`). Also
the custom op ``torch.ops.ssmp3d.group_candidates`` (fixed output shapes).

Outputs have fixed sizes: up to ``Q = K * M`` people can form in an image
(every candidate alone), so the formed people fill rows ``0 .. num_formed-1``
of ``[B, K * M, ...]`` arrays in creation order, and ``kept`` lists the rows
kept (``min_joints``, ``max_people``) in output order.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _args
from ._ext import load_cpu
from .heatmap_nms import MAX_CANDIDATES

__all__ = ["group_candidates"]

_MAX_PEOPLE = 4096


def _check(scores, tags, counts, neck, tag_threshold, min_joints, max_people):
    sc = _args.array("scores", scores, "float", (3,), np.float32)
    b, k, m = sc.shape
    if sc.size == 0:
        raise ValueError(f"scores: expected a non-empty [B, K, M] array, got shape {list(sc.shape)}")
    if m > MAX_CANDIDATES:
        raise ValueError(f"scores: M must be <= {MAX_CANDIDATES}, got shape {list(sc.shape)}")
    tg = _args.array("tags", tags, "float", (3, 4), np.float64)
    if tg.ndim == 3:
        tg = tg[..., None]
    if tg.shape[:3] != (b, k, m) or tg.shape[3] == 0:
        raise ValueError(f"tags: expected [B, K, M] or [B, K, M, D >= 1] with B, K, M = {b}, {k}, {m} "
                         f"(from scores), got shape {list(np.shape(tags))}")
    ct = _args.array("counts", counts, "int", (2,), np.int64)
    _args.shape("counts", ct, (b, k), "[B, K] from scores")
    if ct.size and (ct.min() < 0 or ct.max() > m):
        raise ValueError(f"counts: expected values in [0, M = {m}], got [{int(ct.min())}, {int(ct.max())}]")
    live = np.arange(m) < ct[..., None]  # [B, K, M] the candidates that exist
    if np.isnan(sc[live]).any():
        raise ValueError("scores: contains NaN (within counts)")
    if np.isnan(tg[live]).any():
        raise ValueError("tags: contains NaN (within counts)")
    neck = _args.integer("neck", neck, -1, k - 1)
    thr = _args.real("tag_threshold", tag_threshold, 0.0, strict=True)
    min_joints = _args.integer("min_joints", min_joints, 1)
    max_people = _args.integer("max_people", max_people, 1, _MAX_PEOPLE)
    return sc, tg, ct.astype(np.int32), neck, thr, min_joints, max_people


def _run(sc, tg, ct, neck, thr, min_joints, max_people, num_threads):
    b, k, m = sc.shape
    d = tg.shape[3]
    q = k * m
    assignment = np.empty((b, q, k), np.int64)
    person_scores = np.empty((b, q), np.float64)
    person_tags = np.empty((b, q, d), np.float64)
    num_formed = np.empty((b,), np.int32)
    kept = np.empty((b, max_people), np.int64)
    num_kept = np.empty((b,), np.int32)
    load_cpu().group_candidates_cpu(
        sc.ctypes.data, tg.ctypes.data, ct.ctypes.data, b, k, m, d, neck, thr, min_joints, max_people,
        assignment.ctypes.data, person_scores.ctypes.data, person_tags.ctypes.data, num_formed.ctypes.data,
        kept.ctypes.data, num_kept.ctypes.data, num_threads)
    return assignment, person_scores, person_tags, num_formed, kept, num_kept


_Out6 = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@torch.library.custom_op("ssmp3d::group_candidates", mutates_args=())
def _group_op(scores: torch.Tensor, tags: torch.Tensor, counts: torch.Tensor, neck: int, tag_threshold: float,
              min_joints: int, max_people: int) -> _Out6:
    """``torch.ops.ssmp3d.group_candidates``: see :func:`group_candidates` (default threads)."""
    out = _run(*_check(scores, tags, counts, neck, tag_threshold, min_joints, max_people),
               torch.get_num_threads())
    return tuple(torch.from_numpy(a) for a in out)  # type: ignore[return-value]


@_group_op.register_fake
def _group_fake(scores, tags, counts, neck, tag_threshold, min_joints, max_people):
    b, k, m = scores.shape
    d = 1 if tags.dim() == 3 else tags.shape[3]
    q = k * m
    i64, f64, i32 = torch.int64, torch.float64, torch.int32
    return (scores.new_empty((b, q, k), dtype=i64), scores.new_empty((b, q), dtype=f64),
            scores.new_empty((b, q, d), dtype=f64), scores.new_empty((b,), dtype=i32),
            scores.new_empty((b, max_people), dtype=i64), scores.new_empty((b,), dtype=i32))


def group_candidates(scores, tags, counts, *, neck: int, tag_threshold: float = 1.0, min_joints: int = 2,
                     max_people: int = 30, num_threads: int | None = None):
    """Groups each image's joint candidates into people (greedy, paper section 3.5).

    Exactly :func:`ssmp3d.decode.grouping.group_candidates` per image: neck
    candidates seed people in rank order, each grown fully; then leftovers
    in (score desc, joint asc, rank asc) order; a candidate joins when its
    float64 tag distance to the person's mean tag is ``< tag_threshold``.

    Args:
        scores: ``[B, K, M]`` candidate scores (converted to float32), rank
            order per joint; entries at ranks ``>= counts`` are ignored.
        tags: ``[B, K, M]`` (``D = 1``) or ``[B, K, M, D]`` candidate tags
            (converted to float64).
        counts: ``[B, K]`` integers in ``[0, M]``: candidates per joint type.
            No NaN in ``scores`` or ``tags`` below the counts.
        neck: Joint index whose candidates seed people first; ``-1``: none.
        tag_threshold: Finite, ``> 0``.
        min_joints: People with fewer joints are not kept (``>= 1``).
        max_people: At most this many people kept per image, ``P`` in ``[1, 4096]``.
        num_threads: CPU threads (images are split across them); ``None`` =
            ``torch.get_num_threads()``, ``0`` = all cores.

    Returns:
        ``(assignment, person_scores, person_tags, num_formed, kept,
        num_kept)``, torch tensors if any input is a tensor, else numpy:

        * ``assignment [B, K*M, K]`` int64: candidate rank of each joint of
          each formed person, creation order (-1: none / padding rows);
        * ``person_scores [B, K*M]`` float64 mean joint score (0 padding);
        * ``person_tags [B, K*M, D]`` float64 mean member tag (0 padding);
        * ``num_formed [B]`` int32 people formed;
        * ``kept [B, P]`` int64 rows kept, best score first (-1 padding);
        * ``num_kept [B]`` int32.

    Raises:
        TypeError: wrong array kinds (floats for scores / tags, integers for
            counts) or parameter types.
        ValueError: mismatched shapes, counts outside ``[0, M]``, NaN, or a
            parameter out of range (the message names the argument).
    """
    checked = _check(scores, tags, counts, neck, tag_threshold, min_joints, max_people)
    out = _run(*checked, _args.threads(num_threads))
    return _args.outputs(out, _args.is_torch(scores, tags, counts))

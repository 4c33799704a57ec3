"""Grouping of candidate tables (DESIGN.md section 6.3): the checked public op.

:func:`group_candidates` runs the C++ grouper (either strategy) on a batch of candidate tables
(e.g. the output of :func:`ssmp3d.ops.nms_gather`). Its results equal the
Python specification :func:`ssmp3d.decoding.grouping.group_candidates` image by
image (batched twin: :func:`ssmp3d.ops._reference.group_candidates`). Also
the custom op ``torch.ops.ssmp3d.group_candidates`` (fixed output shapes).

Outputs have fixed sizes: up to ``Q = K * M`` people can form in an image
(every candidate alone), so the formed people fill rows ``0 .. num_formed-1``
of ``[B, K * M, ...]`` arrays in creation order, and ``kept`` lists the rows
kept (``min_joints``, ``max_people``) in output order. Those outputs hold
``B * K * M * (K + D + 1)`` values whatever the candidates: with the grouper's
working memory (per thread) they must fit the per-call budget
``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (2 GiB), checked before anything is
allocated (``ValueError`` naming ``scores / tags``).
"""

from __future__ import annotations

import numpy as np
import torch

from ..bones import TreeGeometry, tree_geometry
from ..skeleton import Skeleton
from . import _args, _budget
from ._ext import load_cpu
from .heatmap_nms import MAX_CANDIDATES

__all__ = ["group_candidates"]

_MAX_PEOPLE = 4096


_GROUPINGS = ("paper", "assign")
_PERSON_SCORES = {"detected": 0, "all": 1}


def _check_strings(grouping: object, person_score: object) -> None:
    if not isinstance(grouping, str) or grouping not in _GROUPINGS:
        raise ValueError(f"grouping: expected one of {_GROUPINGS}, got {_args.show(grouping)}")
    if not isinstance(person_score, str) or person_score not in _PERSON_SCORES:
        raise ValueError(f"person_score: expected one of {tuple(_PERSON_SCORES)}, got {_args.show(person_score)}")


def _check_budget(b: int, k: int, m: int, d: int, p: int, counts: np.ndarray, assign: bool,
                  num_threads: int) -> None:
    """Outputs ``[B, K*M, ...]``, the value checks' temporaries and each thread's grouper memory."""
    q = k * m
    out = b * q * (8 * k + 8 + 8 * d) + b * (8 * p + 8)
    temps = 2 * b * k * m * (1 + 4 + 8 * d)  # live mask, gathered scores and tags, NaN tests
    n = int(np.minimum(np.maximum(counts, 0), m).sum(axis=1).max()) if counts.size else 0
    image = _budget.group_image_bytes(k, m, d, p, n, assign)
    _budget.check(out + temps + _budget.workers(num_threads, b) * image, "scores / tags",
                  f"group_candidates with B = {b}, K = {k}, M = {m}, D = {d}")


def _check(scores, tags, counts, neck, tag_threshold, min_joints, max_people, grouping, indices, width,
           tree, geometry_weight, person_score, min_person_score, num_threads):
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
    _check_strings(grouping, person_score)
    max_people = _args.integer("max_people", max_people, 1, _MAX_PEOPLE)
    _check_budget(b, k, m, tg.shape[3], max_people, ct, grouping == "assign", num_threads)
    live = np.arange(m) < ct[..., None]  # [B, K, M] the candidates that exist
    if np.isnan(sc[live]).any():
        raise ValueError("scores: contains NaN (within counts)")
    if np.isnan(tg[live]).any():
        raise ValueError("tags: contains NaN (within counts)")
    neck = _args.integer("neck", neck, -1, k - 1)
    thr = _args.real("tag_threshold", tag_threshold, 0.0, strict=True)
    min_joints = _args.integer("min_joints", min_joints, 1)
    weight = _args.real("geometry_weight", geometry_weight, 0.0)
    min_score = _args.real("min_person_score", min_person_score, 0.0)
    idx, w = None, 0
    if grouping == "assign":
        if indices is None or width is None or tree is None:
            raise ValueError("grouping 'assign' needs indices, width and skeleton (candidate pixels and the tree)")
        if m > 256:
            raise ValueError(f"scores: grouping 'assign' takes M <= 256 candidates per joint, got shape {list(sc.shape)}")
        idx = _args.array("indices", indices, "int", (3,), np.int64)
        _args.shape("indices", idx, (b, k, m), "[B, K, M] from scores")
        w = _args.integer("width", width, 1)
        if ((idx < 0) & live).any():
            raise ValueError("indices: expected flat pixel indices >= 0 within counts")
        if tree.parents.shape[0] != k:
            raise ValueError(f"skeleton: expected K = {k} joints (from scores), got {tree.parents.shape[0]}")
    return (sc, tg, ct.astype(np.int32), idx, neck, thr, min_joints, max_people, grouping, w, tree, weight,
            person_score, min_score)


def _run(sc, tg, ct, idx, neck, thr, min_joints, max_people, grouping, width, tree, weight, person_score,
         min_score, num_threads):
    b, k, m = sc.shape
    d = tg.shape[3]
    q = k * m
    assignment = np.empty((b, q, k), np.int64)
    person_scores = np.empty((b, q), np.float64)
    person_tags = np.empty((b, q, d), np.float64)
    num_formed = np.empty((b,), np.int32)
    kept = np.empty((b, max_people), np.int64)
    num_kept = np.empty((b,), np.int32)
    assign = grouping == "assign"
    path = tree.path if assign else None
    parents = np.ascontiguousarray(tree.parents) if assign else None
    order = np.ascontiguousarray(tree.order) if assign else None
    load_cpu().group_candidates_cpu(
        sc.ctypes.data, tg.ctypes.data, ct.ctypes.data, idx.ctypes.data if assign else 0, b, k, m, d, neck, thr,
        int(assign), weight, _PERSON_SCORES[person_score], min_score, min_joints, max_people,
        path.ctypes.data if assign else 0, parents.ctypes.data if assign else 0,
        order.ctypes.data if assign else 0, width, assignment.ctypes.data, person_scores.ctypes.data,
        person_tags.ctypes.data, num_formed.ctypes.data, kept.ctypes.data, num_kept.ctypes.data, num_threads)
    return assignment, person_scores, person_tags, num_formed, kept, num_kept


def _tree(skeleton_table, mean_bones):
    """The grouping tree of a custom-op call (None when not given)."""
    if skeleton_table is None:
        return None
    table = np.ascontiguousarray(_args.resolve(skeleton_table).cpu().numpy(), dtype=np.int64)
    k = table.shape[1] if table.ndim == 2 else -1
    if table.shape != (2 + 2 * k, k):
        raise ValueError(f"skeleton_table: expected [2 + 2K, K], got {list(table.shape)}")
    if mean_bones is None:
        raise ValueError("mean_bones: needed with skeleton_table")
    return tree_geometry(table[0], table[1], _args.bones("mean_bones", mean_bones.cpu(), k))


_Out6 = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


@torch.library.custom_op("ssmp3d::group_candidates", mutates_args=())
def _group_op(scores: torch.Tensor, tags: torch.Tensor, counts: torch.Tensor, neck: int, tag_threshold: float,
              min_joints: int, max_people: int, grouping: str = "paper", indices: torch.Tensor | None = None,
              width: int = 0, skeleton_table: torch.Tensor | None = None, mean_bones: torch.Tensor | None = None,
              geometry_weight: float = 0.3, person_score: str = "detected",
              min_person_score: float = 0.0) -> _Out6:
    """``torch.ops.ssmp3d.group_candidates``: see :func:`group_candidates` (default threads).

    The skeleton of ``"assign"`` crosses as :func:`ssmp3d.ops.skeleton_table`
    plus ``mean_bones [K, 3]`` metres (the bone lengths).
    """
    tree = _tree(skeleton_table, mean_bones)
    threads = torch.get_num_threads()
    out = _run(*_check(scores, tags, counts, neck, tag_threshold, min_joints, max_people, grouping, indices,
                       width if width else None, tree, geometry_weight, person_score, min_person_score, threads),
               threads)
    return tuple(torch.from_numpy(a) for a in out)  # type: ignore[return-value]


@_group_op.register_fake
def _group_fake(scores, tags, counts, neck, tag_threshold, min_joints, max_people, grouping="paper", indices=None,
                width=0, skeleton_table=None, mean_bones=None, geometry_weight=0.3, person_score="detected",
                min_person_score=0.0):
    b, k, m = scores.shape
    d = 1 if tags.dim() == 3 else tags.shape[3]
    q = k * m
    i64, f64, i32 = torch.int64, torch.float64, torch.int32
    return (scores.new_empty((b, q, k), dtype=i64), scores.new_empty((b, q), dtype=f64),
            scores.new_empty((b, q, d), dtype=f64), scores.new_empty((b,), dtype=i32),
            scores.new_empty((b, max_people), dtype=i64), scores.new_empty((b,), dtype=i32))


def group_candidates(scores, tags, counts, *, neck: int, tag_threshold: float = 1.0, min_joints: int = 2,
                     max_people: int = 30, grouping: str = "paper", indices=None, width: int | None = None,
                     skeleton: Skeleton | TreeGeometry | None = None, mean_bones=None, geometry_weight: float = 0.3,
                     person_score: str = "detected", min_person_score: float = 0.0,
                     num_threads: int | None = None):
    """Groups each image's joint candidates into people (DESIGN.md section 6.3).

    Per image exactly :func:`ssmp3d.decoding.grouping.group_candidates` with
    the same settings. ``grouping="paper"`` (the default here) is the paper's
    greedy: neck candidates seed people in rank order, each grown fully; then
    leftovers in (score desc, joint asc, rank asc) order; a candidate joins
    when its float64 tag distance to the person's mean tag is
    ``< tag_threshold``. ``grouping="assign"`` is the assignment strategy of
    :mod:`ssmp3d.decoding.assignment` (the decoder's default), which also
    reads the candidates' pixels (``indices``, ``width``) and the skeleton tree.

    Args:
        scores: ``[B, K, M]`` candidate scores (converted to float32), rank
            order per joint; entries at ranks ``>= counts`` are ignored.
        tags: ``[B, K, M]`` (``D = 1``) or ``[B, K, M, D]`` candidate tags
            (converted to float64).
        counts: ``[B, K]`` integers in ``[0, M]``: candidates per joint type.
            No NaN in ``scores`` or ``tags`` below the counts.
        neck: Joint index whose candidates seed people first (``"paper"``); ``-1``: none.
        tag_threshold: Finite, ``> 0``.
        min_joints: People with fewer joints are not kept (``>= 1``).
        max_people: At most this many people kept per image, ``P`` in ``[1, 4096]``.
        grouping: ``"paper"`` or ``"assign"``.
        indices: ``[B, K, M]`` flat pixel indices ``y * width + x`` of the
            candidates (e.g. from :func:`ssmp3d.ops.nms_gather`); ``"assign"`` only.
        width: Map width ``W``; ``"assign"`` only.
        skeleton: The joint set (its tree and bone lengths), or its
            :class:`~ssmp3d.bones.TreeGeometry`; ``"assign"`` only.
        mean_bones: ``[K, 3]`` finite bone vectors in metres for the bone
            lengths of a :class:`Skeleton`; None: the skeleton's mean pose.
        geometry_weight: ``"assign"``: weight of the geometric cue (``>= 0``).
        person_score: ``"detected"`` (mean over the person's joints; the
            default here) or ``"all"`` (sum over ``K``).
        min_person_score: People scoring below this are not kept (``>= 0``).
        num_threads: CPU threads (images are split across them); ``None`` =
            ``torch.get_num_threads()``, ``0`` = all cores, at most ``2**31 - 1``.

    Returns:
        ``(assignment, person_scores, person_tags, num_formed, kept,
        num_kept)``, torch tensors if any input is a tensor, else numpy:

        * ``assignment [B, K*M, K]`` int64: candidate rank of each joint of
          each formed person, creation order (-1: none / padding rows);
        * ``person_scores [B, K*M]`` float64 (``person_score``; 0 padding);
        * ``person_tags [B, K*M, D]`` float64 mean member tag (0 padding);
        * ``num_formed [B]`` int32 people formed;
        * ``kept [B, P]`` int64 rows kept, best score first (-1 padding);
        * ``num_kept [B]`` int32.

    Raises:
        TypeError: wrong array kinds (floats for scores / tags, integers for
            counts and indices) or parameter types.
        ValueError: mismatched shapes, counts outside ``[0, M]``, NaN, an
            unknown strategy, non-finite ``mean_bones``, a parameter out of
            range (the message names the argument), or outputs and working
            memory beyond ``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (2 GiB;
            ``assignment`` alone is ``8 * B * K * M * K`` bytes).
    """
    threads = _args.threads(num_threads)
    _check_strings(grouping, person_score)
    tree = None
    if grouping == "assign" and skeleton is not None:
        if isinstance(skeleton, TreeGeometry):
            tree = skeleton
        elif isinstance(skeleton, Skeleton):
            k = skeleton.num_joints
            bones = skeleton.mean_bones_m() if mean_bones is None else _args.bones("mean_bones", mean_bones, k)
            tree = tree_geometry(skeleton.parents, skeleton.topological_order, bones)
        else:
            raise TypeError(f"skeleton: expected a Skeleton or a TreeGeometry, got {type(skeleton).__name__}")
    checked = _check(scores, tags, counts, neck, tag_threshold, min_joints, max_people, grouping, indices, width,
                     tree, geometry_weight, person_score, min_person_score, threads)
    out = _run(*checked, threads)
    return _args.outputs(out, _args.is_torch(scores, tags, counts))

"""The per-call memory budget of the ops and the decoder, and the size estimates it is checked against.

Every public op (:mod:`ssmp3d.ops`) and :func:`ssmp3d.decoding.decode`
computes, from its argument shapes and scalars alone (before allocating
anything), an upper bound of the memory the call allocates: its outputs, the
working memory of the kernel (per worker thread, times the threads that can
run at once) and the converted copies of its inputs. A call whose bound
exceeds :data:`MEMORY_BUDGET_BYTES` raises ``ValueError`` naming the
arguments that set the size, so a small input with large size parameters
(``max_candidates``, ``size``, the tag dimension...) can never ask for
gigabytes. The bounds are upper bounds: real use of the defaults sits orders
of magnitude below them.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from . import _maps

__all__ = ["MEMORY_BUDGET_BYTES", "check", "copy_bytes", "crowding_neighbours", "decode_bytes", "group_image_bytes",
           "max_peaks", "workers"]

#: Most bytes one call of an op or of the decoder may allocate (outputs,
#: working memory and converted input copies): 2 GiB.
MEMORY_BUDGET_BYTES = 2 * 1024**3

_PAIR_BYTES_CPP = 16  # per crowding pair: pair_a, pair_b, two neighbour-list entries (readout.cpp)
_PAIR_BYTES_PY = 96  # query_pairs output, dx, dy, mask, both directions (decoding/readout.py)


def check(nbytes: int, names: str, what: str) -> None:
    """Raises ``ValueError`` naming ``names`` when ``nbytes`` exceeds :data:`MEMORY_BUDGET_BYTES`."""
    if nbytes > MEMORY_BUDGET_BYTES:
        raise ValueError(
            f"{names}: {what} would allocate up to {nbytes / 2**30:.3g} GiB (outputs and working memory), "
            f"more than the per-call memory budget of {MEMORY_BUDGET_BYTES / 2**30:g} GiB "
            f"(ssmp3d.ops.MEMORY_BUDGET_BYTES); use smaller sizes or split the batch")


def workers(num_threads: int, items: int) -> int:
    """Threads that can run at once on ``items`` independent items (as ``parallel.h``'s ``thread_count``)."""
    want = num_threads if num_threads > 0 else (os.cpu_count() or 1)
    return max(1, min(want, items))


def copy_bytes(x: object, itemsize: int, to_host: bool = False) -> int:
    """Bytes of the contiguous copy of ``x`` at ``itemsize`` bytes per value, 0 when none is made
    (a contiguous array of that item size without negative bit, and on the CPU when ``to_host``)."""
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided:
            return 0  # refused by the caller's checks
        moved = to_host and x.device.type != "cpu"
        if x.is_contiguous() and x.element_size() == itemsize and not x.is_neg() and not moved:
            return 0
        return x.numel() * itemsize
    if isinstance(x, np.ndarray):
        if x.flags.c_contiguous and x.dtype.itemsize == itemsize and x.dtype.isnative:
            return 0
        return x.size * itemsize
    return 0


def max_peaks(h: int, w: int, radius: int) -> int:
    """Most NMS peaks one ``h x w`` map can hold: two peaks lie more than ``radius`` apart in some axis
    (each is strictly above, or first among equals, in the other's window), so each
    ``(radius+1) x (radius+1)`` block holds at most one."""
    r = min(radius, max(h, w)) + 1
    return -(-h // r) * -(-w // r)


def crowding_neighbours(k: int, h: int, w: int, radius: int, min_dist: float) -> int:
    """Bound of the read-out locations of other people near one location in the decoder.

    Locations are candidate peaks: per joint type distinct pixels more than
    ``radius`` apart (Chebyshev), so a box of side ``2 * ceil(min_dist) + 1``
    (the pairs closer than ``min_dist``, and the reference's ``query_pairs``
    margin) holds at most ``max_peaks`` of it per joint type.
    """
    side = 2 * min(math.ceil(min_dist), h + w) + 1
    return k * max_peaks(min(side, h), min(side, w), radius)


def group_image_bytes(k: int, m: int, d: int, p: int, n: int, assign: bool) -> int:
    """Working memory of grouping one image (``grouping.cpp`` / ``assignment.cpp``).

    Args:
        k, m, d, p: Joint types, candidate slots per type, tag dimension, ``max_people``.
        n: Bound of the candidates present (and so of the people formed).
        assign: The assignment strategy (else the paper's greedy).
    """
    table = k * m * (4 + 8 + 4)  # scores, indices, pos_of [K, M]
    per_cand = 3 * 8 * d + 64  # ct, tag sums, grouping tags; keys and per-candidate lists
    per_person = k * (4 + 16 + 4 + 4) + 8 * d + 40  # rows, positions, members, masks; sums
    out = table + n * per_cand + n * per_person
    if assign:
        mm = min(m, n)
        out += k * m * 16 + mm * (p + mm) * 8 + mm * p * 8 + (p + mm) * 64  # xy, cost, distances, LAP
    return out


def _readout_image_bytes(k: int, q: int, locations: int, pairs: int, pair_bytes: int) -> int:
    return q * k * (8 * 2 + 4 + 1 + 4) + locations * 32 + pairs * pair_bytes + k * 16


def _decode_work_bytes(b: int, k: int, h: int, w: int, d: int, config, backend: str, num_threads: int,
                       with_orpm: bool) -> int:
    """:func:`decode_bytes` without the input copies: outputs plus working memory."""
    m, p = config.max_candidates, config.max_people
    n = k * min(m, max_peaks(h, w, config.nms_radius))  # candidates of one image; people and locations fewer
    outputs = b * p * (k * 72 + 8 + 8 * d) + 8 * b  # 10 outputs, joints2d and its float64 transform
    python = backend == "python"
    image = k * m * (12 + 8 * d) + group_image_bytes(k, m, d, p, n, config.grouping == "assign")
    if python:  # numpy temporaries; the read-out's validity [Q, K, K]; fragment merging in blocks
        image = 2 * image + n * k * k
        if config.grouping == "assign" and config.geometry_weight > 0:
            image += 4096 * k * k * 8 * 6 + 64 * n * 96
    if with_orpm and config.readout != "naive":
        near = crowding_neighbours(k, h, w, config.nms_radius, config.readout_min_dist)
        pairs = n * min(n, near) // 2
        image += _readout_image_bytes(k, n, n, pairs, _PAIR_BYTES_PY if python else _PAIR_BYTES_CPP)
    if backend == "cuda":  # the candidate tables, on the device and pinned on the host
        outputs += 2 * b * k * m * (22 + 4 * d + 12 * k)
    threads = 1 if python else workers(num_threads, b)
    return outputs + threads * image


#: Recent :func:`_decode_work_bytes` results keyed by the config's identity and the sizes
#: (bounded; a hit also checks that the config object is the same).
_WORK_CACHE: dict[tuple, tuple[object, int]] = {}


def decode_bytes(b: int, k: int, h: int, w: int, d: int, config, backend: str, num_threads: int,
                 inputs: tuple = (), with_orpm: bool = True) -> int:
    """Bound of the memory one :func:`ssmp3d.decoding.decode` call allocates.

    Args:
        b, k, h, w, d: Batch, joints, map size, tag dimension.
        config: The :class:`~ssmp3d.decoding.DecodeConfig`.
        backend: ``"python"``, ``"cpu"`` or ``"cuda"``.
        num_threads: Host threads (0 = all cores).
        inputs: The input arrays (their float32 copies are counted when made; the
            ``cpu`` backend reads float32 maps with contiguous ``[H, W]`` in place).
        with_orpm: Whether the read-out runs (``orpm`` given).
    """
    key = (id(config), b, k, h, w, d, backend, num_threads, with_orpm)
    hit = _WORK_CACHE.get(key)
    if hit is None or hit[0] is not config:
        if len(_WORK_CACHE) >= 256:
            _WORK_CACHE.clear()
        hit = _WORK_CACHE[key] = (config, _decode_work_bytes(b, k, h, w, d, config, backend, num_threads,
                                                             with_orpm))
    total = hit[1]
    for x in inputs:
        if x is not None and not (backend == "cpu" and _maps.in_place(x)):
            total += copy_bytes(x, 4, to_host=backend != "cuda")
    return total

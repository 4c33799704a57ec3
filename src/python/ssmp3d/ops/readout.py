"""ORPM read-out of grouped people (DESIGN.md section 6.4): the checked public op.

:func:`orpm_readout` runs the C++ read-out on a batch (numpy / CPU tensors),
or the CUDA kernel when ``orpm`` is a CUDA tensor. Per image both equal the
Python specification :func:`ssmp3d.decoding.readout.readout` (batched twin:
:func:`ssmp3d.ops._reference.orpm_readout`), every fallback and the naive
mode included; CPU and CUDA outputs are identical bit for bit. Also the
custom op ``torch.ops.ssmp3d.orpm_readout``.

Custom ops take tensors and scalars only, so a skeleton crosses as
:func:`skeleton_table` (an int64 tensor) plus its neck and pelvis indices;
the C++ side checks the table before use. On CUDA the table stays on the
host (a CPU tensor): it is checked there and passed to the kernel by value.

CUDA checks. Dtype, shape and device are checked on the host without reading
values. The value checks (counts, ``people`` indices, positions inside the
map) and the NaN check are made by the kernel itself, as flags in a device
status word; the kernel never reads out of bounds, whatever the values. The
wrapper then reads that word: this synchronises the caller's stream once
(waits for the kernel; two 4-byte reads) and raises the CPU op's exact
``ValueError``. During CUDA graph capture nothing can be read, so these
checks are skipped (as in :mod:`ssmp3d.ops._cuda`) and the outputs are
returned as they are: well defined, with padding rows where a value was out
of range.

Memory: before anything is allocated, the outputs, the float32 working copies
and (CPU) each thread's read-out memory are bounded against the per-call
budget ``ssmp3d.ops.MEMORY_BUDGET_BYTES`` (2 GiB; ``ValueError`` naming
``positions / readout_min_dist``). The crowding test's pairs are bounded by
the detected joints of each image and how many share a pixel.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..skeleton import Skeleton
from . import _args, _budget, _cuda
from ._ext import load_cpu, load_cuda
from ._tables import skeleton_table

__all__ = ["CUDA_MAX_JOINTS", "orpm_readout", "skeleton_table"]

READOUTS = ("full", "naive")
#: Largest number of joints ``K`` the CUDA read-out accepts (the skeleton
#: travels by value in the kernel's parameters).
CUDA_MAX_JOINTS = 32
def _check(orpm, positions, scores, detected, num_formed, people, num_people, k, readout, readout_threshold,
           readout_min_dist, mean_bones, num_threads):
    copies = _budget.copy_bytes(orpm, 4)
    om = _args.array("orpm", orpm, "float", (5,), np.float32)
    b, _, _, h, w = om.shape
    _args.shape("orpm", om, (b, k, 3, h, w), f"[B, K = {k}, 3, H, W]")
    if om.size == 0:
        raise ValueError(f"orpm: expected non-empty [B, K, 3, H, W] maps, got shape {list(om.shape)}")
    pos = _args.array("positions", positions, "int", (4,), np.int64)
    q = pos.shape[1]
    _args.shape("positions", pos, (b, q, k, 2), "[B, Q, K, 2] (x, y)")
    sc = _args.array("scores", scores, "float", (3,), np.float32)
    _args.shape("scores", sc, (b, q, k), "[B, Q, K] from positions")
    det = _args.array("detected", detected, "bool", (3,), np.bool_)
    _args.shape("detected", det, (b, q, k), "[B, Q, K] from positions")
    nf = _args.array("num_formed", num_formed, "int", (1,), np.int64)
    _args.shape("num_formed", nf, (b,), "[B]")
    pp = _args.array("people", people, "int", (2,), np.int64)
    p = pp.shape[1]
    _args.shape("people", pp, (b, p), "[B, P]")
    if q == 0 or p == 0:
        raise ValueError(f"positions / people: Q and P must be >= 1, got Q = {q}, P = {p}")
    npl = _args.array("num_people", num_people, "int", (1,), np.int64)
    _args.shape("num_people", npl, (b,), "[B]")
    _check_ranges(pos, det, nf, pp, npl, h, w)
    naive, thr, dist = _check_params(readout, readout_threshold, readout_min_dist)
    mb = _args.bones("mean_bones", mean_bones, k)
    _check_budget(pos, det, nf, pp, h, w, naive, dist, copies, num_threads)
    return om, pos, sc, det, nf, pp, npl, naive, thr, dist, mb


def _check_budget(pos, det, nf, pp, h, w, naive, dist, copies, num_threads):
    """Outputs, copies and per-thread read-out memory (crowding pairs bounded from the detected
    joints: per image at most ``L * min(L, n * box) / 2`` pairs for ``L`` detected joints, ``n`` of
    them at most on one pixel and ``box`` pixels within ``readout_min_dist``)."""
    b, q, k = det.shape
    p = pp.shape[1]
    out = b * p * k * 15
    image = q * k * 25 + k * 16
    if not naive and det.size:
        live = det & (np.arange(q) < nf[:, None])[..., None]
        locations = live.sum(axis=(1, 2))
        most = int(locations.max())
        if most > 1:
            img, _, _ = np.nonzero(live)
            pix = (img * h + pos[..., 1][live]) * w + pos[..., 0][live]
            crowd = int(np.unique(pix, return_counts=True)[1].max())
            side = 2 * min(math.ceil(dist), h + w) + 1
            near = crowd * min(side, h) * min(side, w)
            image += most * 32 + most * min(most, near) // 2 * 16
    total = out + copies + _budget.workers(num_threads, b) * image
    _budget.check(total, "positions / readout_min_dist", f"orpm_readout with B = {b}, Q = {q}, P = {p}, K = {k}")


def _check_ranges(pos, det, nf, pp, npl, h, w):
    """The value checks (numpy arrays of checked shapes); raises ``ValueError`` naming the argument."""
    q, p = pos.shape[1], pp.shape[1]
    if nf.size and (nf.min() < 0 or nf.max() > q):
        raise ValueError(f"num_formed: expected values in [0, Q = {q}], got [{nf.min()}, {nf.max()}]")
    if npl.size and (npl.min() < 0 or npl.max() > p):
        raise ValueError(f"num_people: expected values in [0, P = {p}], got [{npl.min()}, {npl.max()}]")
    used = np.arange(p) < npl[:, None]
    if ((pp < 0) | (pp >= nf[:, None]))[used].any():
        raise ValueError("people: expected row indices in [0, num_formed) for the first num_people entries")
    live = det & (np.arange(q) < nf[:, None])[..., None]
    x, y = pos[..., 0][live], pos[..., 1][live]
    if x.size and (x.min() < 0 or x.max() >= w or y.min() < 0 or y.max() >= h):
        raise ValueError(f"positions: detected joints must lie inside the {w} x {h} map (0 <= x < W, 0 <= y < H)")


def _check_params(readout, readout_threshold, readout_min_dist):
    if not isinstance(readout, str) or readout not in READOUTS:
        raise ValueError(f"readout: expected one of {READOUTS}, got {readout!r}")
    thr = _args.real("readout_threshold", readout_threshold)
    dist = _args.real("readout_min_dist", readout_min_dist, 0.0)
    return readout == "naive", thr, dist


def _run(om, pos, sc, det, nf, pp, npl, naive, thr, dist, mb, table, neck, pelvis, num_threads):
    b, k, _, h, w = om.shape
    q, p = pos.shape[1], pp.shape[1]
    joints3d = np.empty((b, p, k, 3), np.float32)
    rule = np.empty((b, p, k), np.int8)
    joint = np.empty((b, p, k), np.int16)
    nan = load_cpu().orpm_readout_cpu(
        om.ctypes.data, pos.ctypes.data, sc.ctypes.data, det.ctypes.data, nf.ctypes.data, pp.ctypes.data,
        npl.ctypes.data, b, q, p, k, h, w, table.ctypes.data, neck, pelvis, naive, thr, dist, mb.ctypes.data,
        joints3d.ctypes.data, rule.ctypes.data, joint.ctypes.data, num_threads)
    if nan:
        raise ValueError(_NAN_MESSAGE.format(nan))
    return joints3d, rule, joint


def _check_cuda(orpm, positions, scores, detected, num_formed, people, num_people, k, readout,
                readout_threshold, readout_min_dist, mean_bones):
    """Checks that read no values (dtype, shape, device); tensors converted on ``orpm.device``."""
    dev = orpm.device
    om = _args.device_tensor("orpm", orpm, "float", (5,), torch.float32, dev)
    b, _, _, h, w = om.shape
    _args.shape("orpm", om, (b, k, 3, h, w), f"[B, K = {k}, 3, H, W]")
    if om.numel() == 0:
        raise ValueError(f"orpm: expected non-empty [B, K, 3, H, W] maps, got shape {list(om.shape)}")
    if k > CUDA_MAX_JOINTS:
        raise ValueError(f"orpm: K = {k} joints; the CUDA read-out supports K <= {CUDA_MAX_JOINTS}")
    pos = _args.device_tensor("positions", positions, "int", (4,), torch.int64, dev)
    q = pos.shape[1]
    _args.shape("positions", pos, (b, q, k, 2), "[B, Q, K, 2] (x, y)")
    sc = _args.device_tensor("scores", scores, "float", (3,), torch.float32, dev)
    _args.shape("scores", sc, (b, q, k), "[B, Q, K] from positions")
    det = _args.device_tensor("detected", detected, "bool", (3,), torch.bool, dev)
    _args.shape("detected", det, (b, q, k), "[B, Q, K] from positions")
    nf = _args.device_tensor("num_formed", num_formed, "int", (1,), torch.int64, dev)
    _args.shape("num_formed", nf, (b,), "[B]")
    pp = _args.device_tensor("people", people, "int", (2,), torch.int64, dev)
    p = pp.shape[1]
    _args.shape("people", pp, (b, p), "[B, P]")
    if q == 0 or p == 0:
        raise ValueError(f"positions / people: Q and P must be >= 1, got Q = {q}, P = {p}")
    if b * max(p, q) >= 2**31:
        raise ValueError(f"people / positions: B * max(P, Q) must be < 2**31 on CUDA, got B = {b}, P = {p}, Q = {q}")
    npl = _args.device_tensor("num_people", num_people, "int", (1,), torch.int64, dev)
    _args.shape("num_people", npl, (b,), "[B]")
    naive, thr, dist = _check_params(readout, readout_threshold, readout_min_dist)
    if isinstance(mean_bones, torch.Tensor) and mean_bones.device.type != "cpu":
        mb_dev = _args.device_tensor("mean_bones", mean_bones, "float", (2,), torch.float32, dev)
        mb_host = None
        _args.shape("mean_bones", mb_dev, (k, 3), "[K, 3] metres")  # finiteness: a flag read after the kernel
    else:
        mb_host = _args.bones("mean_bones", mean_bones, k)
        mb_dev = None
    _budget.check(b * p * k * 15 + sum(_budget.copy_bytes(x, 4) for x in (orpm, scores)),
                  "positions / people", f"orpm_readout with B = {b}, Q = {q}, P = {p}, K = {k}")
    return om, pos, sc, det, nf, pp, npl, naive, thr, dist, mb_host, mb_dev


_NAN_MESSAGE = "orpm: contains NaN at a read-out location ({} values)"


def _run_cuda(om, pos, sc, det, nf, pp, npl, naive, thr, dist, mb_host, mb_dev, table, neck, pelvis):
    """Enqueues the kernel on the current stream of ``om.device``; then the flag checks (one sync)."""
    b, k, _, h, w = om.shape
    q, p = pos.shape[1], pp.shape[1]
    dev = om.device
    with _cuda.on_device(dev) as stream:
        joints3d = torch.empty((b, p, k, 3), dtype=torch.float32, device=dev)
        rule = torch.empty((b, p, k), dtype=torch.int8, device=dev)
        joint = torch.empty((b, p, k), dtype=torch.int16, device=dev)
        status = torch.zeros(3, dtype=torch.int32, device=dev)  # NaN values read, bad-input bits, bad bones
        load_cuda().orpm_readout_cuda(
            om.data_ptr(), pos.data_ptr(), sc.data_ptr(), det.data_ptr(), nf.data_ptr(), pp.data_ptr(),
            npl.data_ptr(), b, q, p, k, h, w, table.ctypes.data, neck, pelvis, naive, thr, dist,
            0 if mb_host is None else mb_host.ctypes.data, 0 if mb_dev is None else mb_dev.data_ptr(),
            joints3d.data_ptr(), rule.data_ptr(), joint.data_ptr(), status.data_ptr(), stream)
        if mb_dev is not None:  # enqueued: read with the status word (one synchronisation)
            status[2] = (~torch.isfinite(mb_dev)).any().to(torch.int32)
    if _cuda.capturing(dev):
        return joints3d, rule, joint
    nans, bad, bad_bones = status.tolist()
    if bad:
        # Rare path: the same checks on host copies give the CPU op's exact message.
        _check_ranges(*(t.cpu().numpy() for t in (pos, det, nf, pp, npl)), h, w)
        raise ValueError(f"num_formed / num_people / people / positions: out of range (flags {bad})")
    if bad_bones:
        raise ValueError("mean_bones: expected finite bone vectors in metres, got NaN or infinite values (as float32)")
    if nans:
        raise ValueError(_NAN_MESSAGE.format(nans))
    return joints3d, rule, joint


@torch.library.custom_op("ssmp3d::orpm_readout", mutates_args=())
def _readout_op(orpm: torch.Tensor, positions: torch.Tensor, scores: torch.Tensor, detected: torch.Tensor,
                num_formed: torch.Tensor, people: torch.Tensor, num_people: torch.Tensor,
                skeleton_table: torch.Tensor, neck: int, pelvis: int, mean_bones: torch.Tensor, naive: bool,
                readout_threshold: float, readout_min_dist: float) -> tuple[torch.Tensor, torch.Tensor,
                                                                          torch.Tensor]:
    """``torch.ops.ssmp3d.orpm_readout``: see :func:`orpm_readout`; the skeleton as
    :func:`skeleton_table` plus ``neck`` / ``pelvis`` (default threads).

    With a CUDA ``orpm`` it runs on that device: the data tensors must be on
    it, ``skeleton_table`` must be a CPU tensor (checked on the host and passed
    to the kernel by value) and ``mean_bones`` may be a CPU tensor or a tensor
    on that device. Outputs are on ``orpm.device``.
    """
    k = orpm.shape[1] if orpm.dim() == 5 else -1
    table = _args.array("skeleton_table", skeleton_table, "int", (2,), np.int64)
    _args.shape("skeleton_table", table, (2 + 2 * k, k), "[2 + 2K, K]")
    neck = _args.integer("neck", neck, 0, k - 1)
    pelvis = _args.integer("pelvis", pelvis, 0, k - 1)
    readout = "naive" if naive else "full"
    if orpm.device.type == "cuda":
        checked = _check_cuda(orpm, positions, scores, detected, num_formed, people, num_people, k, readout,
                              readout_threshold, readout_min_dist, mean_bones)
        return _run_cuda(*checked, table, neck, pelvis)
    threads = torch.get_num_threads()
    checked = _check(orpm, positions, scores, detected, num_formed, people, num_people, k, readout,
                     readout_threshold, readout_min_dist, mean_bones, threads)
    out = _run(*checked, table, neck, pelvis, threads)
    return tuple(torch.from_numpy(a) for a in out)  # type: ignore[return-value]


@_readout_op.register_fake
def _readout_fake(orpm, positions, scores, detected, num_formed, people, num_people, skeleton_table, neck,
                  pelvis, mean_bones, naive, readout_threshold, readout_min_dist):
    b, k = orpm.shape[0], orpm.shape[1]
    p = people.shape[1]
    return (orpm.new_empty((b, p, k, 3), dtype=torch.float32), orpm.new_empty((b, p, k), dtype=torch.int8),
            orpm.new_empty((b, p, k), dtype=torch.int16))


def orpm_readout(orpm, positions, scores, detected, num_formed, people, num_people, *, skeleton: Skeleton,
                 readout: str = "full", readout_threshold: float = 0.1, readout_min_dist: float = 3.0,
                 mean_bones=None, num_threads: int | None = None):
    """Reads 3D poses from the ORPM maps at the people's joint positions.

    Per image ``b``, exactly :func:`ssmp3d.decoding.readout.readout` of the
    people ``people[b, :num_people[b]]`` among the ``num_formed[b]`` formed
    people (all of which take part in the validity test).

    Args:
        orpm: ``[B, K, 3, H, W]`` bone-vector maps in metres (any float kind;
            values are converted to float32). A CUDA tensor runs the CUDA
            kernel on the current stream of its device (``K <= 32``); every
            other data input must then be a tensor on that device.
        positions: ``[B, Q, K, 2]`` integer map pixels ``(x, y)``; inside the
            map wherever ``detected`` (rows ``< num_formed``).
        scores: ``[B, Q, K]`` joint scores (converted to float32).
        detected: ``[B, Q, K]`` bool.
        num_formed: ``[B]`` integers in ``[0, Q]``: rows that are people.
        people: ``[B, P]`` integer rows to read, in output order; the first
            ``num_people[b]`` entries must lie in ``[0, num_formed[b])``.
        num_people: ``[B]`` integers in ``[0, P]``.
        skeleton: The joint set (``K == skeleton.num_joints``).
        readout: ``"full"`` (fallback chain) or ``"naive"`` (own position only).
        readout_threshold: A location needs ``score > float32(readout_threshold)``.
        readout_min_dist: Crowding distance in map pixels (finite, ``>= 0``).
        mean_bones: ``[K, 3]`` finite fallback bone vectors in metres (NaN or
            infinite values, as float32, are refused); ``None`` = the
            skeleton's mean pose. With CUDA inputs: host data (numpy, list,
            CPU tensor; copied into the kernel launch) or a tensor on
            ``orpm``'s device.
        num_threads: CPU threads (images are split across them); ``None`` =
            ``torch.get_num_threads()``, ``0`` = all cores, at most ``2**31 - 1``.
            Ignored on CUDA.

    Returns:
        ``(joints3d [B, P, K, 3] float32 mm, rule [B, P, K] int8
        ReadoutRule codes, joint [B, P, K] int16 read-out joint)``; slots
        ``>= num_people`` are padding (0, -1, -1). torch tensors if any input
        is a tensor (on ``orpm``'s device), else numpy.

    Raises:
        TypeError: wrong array kinds or parameter types.
        ValueError: mismatched shapes, inputs on different devices,
            out-of-range indices, counts or positions, a bad parameter,
            non-finite ``mean_bones``, NaN in an ORPM value read (on CUDA the
            value checks are made after the kernel and not during CUDA graph
            capture; see the module doc), or memory beyond
            ``ssmp3d.ops.MEMORY_BUDGET_BYTES``.
    """
    table = skeleton_table(skeleton)
    if mean_bones is None:
        mean_bones = skeleton.mean_bones_m()
    elif not (isinstance(mean_bones, torch.Tensor) and mean_bones.device.type != "cpu"):
        mean_bones = _args.bones("mean_bones", mean_bones, skeleton.num_joints)
    if torch.compiler.is_compiling():
        # Traced by torch.compile: the custom op (with its fake) keeps the graph whole.
        if readout not in ("full", "naive"):
            raise ValueError(f"readout: expected 'full' or 'naive', got {readout!r}")
        bones = torch.as_tensor(mean_bones, dtype=torch.float32)
        return torch.ops.ssmp3d.orpm_readout(orpm, positions, scores, detected, num_formed, people, num_people,
                                             torch.from_numpy(table.copy()), skeleton.neck, skeleton.pelvis,
                                             bones, readout == "naive", float(readout_threshold),
                                             float(readout_min_dist))
    if isinstance(orpm, torch.Tensor) and orpm.device.type == "cuda":
        checked = _check_cuda(orpm, positions, scores, detected, num_formed, people, num_people,
                              skeleton.num_joints, readout, readout_threshold, readout_min_dist, mean_bones)
        _args.threads(num_threads)
        return _run_cuda(*checked, table, skeleton.neck, skeleton.pelvis)
    threads = _args.threads(num_threads)
    checked = _check(orpm, positions, scores, detected, num_formed, people, num_people, skeleton.num_joints,
                     readout, readout_threshold, readout_min_dist, mean_bones, threads)
    out = _run(*checked, table, skeleton.neck, skeleton.pelvis, threads)
    return _args.outputs(out, _args.is_torch(orpm, positions, scores, detected, num_formed, people, num_people))

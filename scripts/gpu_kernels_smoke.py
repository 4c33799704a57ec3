"""Calls every CUDA kernel of ssmp3d once with small inputs, for compute-sanitizer.

    python scripts/gpu_kernels_smoke.py            # run (needs a GPU and ssmp3d._C_cuda)
    python scripts/gpu_kernels_smoke.py --dry-run  # list the calls, touch no GPU
    compute-sanitizer --tool memcheck python scripts/gpu_kernels_smoke.py

Kernels: heatmap_nms (float32, float16 at an odd element offset, bfloat16;
the many-peaks path with a noise map at radius 0, an equal-score map and
M = 4096), their split path for small batches (bands of rows, band + merge
kernels of ``src/cuda/nms_split.cuh``, forced to 2, 7 and 16 bands: staged
and global-memory merges), nms_gather (directly and through ``decode(backend="cuda")``),
encode_heatmaps / encode_orpm / encode_tag_maps and orpm_readout. Each result
is compared with the CPU op (bit for bit), so the run is also a quick
correctness check. Inputs are a few KiB: sanitizer runs take seconds, not
minutes. Exit status: 0 all equal, 1 a mismatch, 2 no usable GPU (the reason
is printed on one line).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np
import torch

CALLS: list[tuple[str, Callable[[torch.device], bool]]] = []


def call(name: str):
    """Registers a smoke call ``f(device) -> equal to the CPU op``."""

    def register(f):
        CALLS.append((name, f))
        return f

    return register


def same(got, want) -> bool:
    """Bitwise equality of (nested) tuples of tensors / arrays, NaN and -0.0 included."""
    if isinstance(got, (tuple, list)):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want))
    g, w = (torch.as_tensor(x).cpu().contiguous() for x in (got, want))
    return (g.dtype == w.dtype and g.shape == w.shape
            and g.reshape(-1).view(torch.uint8).numpy().tobytes() == w.reshape(-1).view(torch.uint8).numpy().tobytes())


def maps(seed: int, b: int, k: int, h: int, w: int, d: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand((b, k, h, w), generator=gen), torch.randn((b, k, d, h, w), generator=gen),
            torch.randn((b, k, 3, h, w), generator=gen))


@call("heatmap_nms float32 / float16 (odd offset) / bfloat16")
def _nms(dev: torch.device) -> bool:
    from ssmp3d.ops import heatmap_nms

    hm = maps(1, 2, 3, 13, 11)[0]
    ok = same(heatmap_nms(hm.to(dev), 0.3, 1, 8), heatmap_nms(hm, 0.3, 1, 8))
    flat = torch.rand(2 * 3 * 13 * 11 + 1, generator=torch.Generator().manual_seed(2)).half()
    view = flat[1:].view(2, 3, 13, 11)  # 2-byte misaligned: scalar head, 64-bit body, scalar tail
    ok &= same(heatmap_nms(flat.to(dev)[1:].view(2, 3, 13, 11), 0.3, 2, 8), heatmap_nms(view, 0.3, 2, 8))
    bf = hm.bfloat16()
    return ok and same(heatmap_nms(bf.to(dev), 0.3, 0, 8), heatmap_nms(bf, 0.3, 0, 8))


@call("heatmap_nms many peaks (noise r = 0, equal scores, M = 4096)")
def _nms_many(dev: torch.device) -> bool:
    from ssmp3d.ops import heatmap_nms

    noise = maps(3, 1, 2, 48, 48)[0]  # ~2300 peaks at r = 0: more than the 1024-key buffer
    ok = same(heatmap_nms(noise.to(dev), 0.0, 0, 30), heatmap_nms(noise, 0.0, 0, 30))
    flat = torch.full((1, 1, 40, 40), 0.5)  # 1600 equal scores: the select reaches the index bytes
    ok &= same(heatmap_nms(flat.to(dev), 0.1, 0, 30), heatmap_nms(flat, 0.1, 0, 30))
    big = maps(4, 1, 1, 72, 72)[0]  # 5184 peaks > 4096
    return ok and same(heatmap_nms(big.to(dev), -1.0, 0, 4096), heatmap_nms(big, -1.0, 0, 4096))


@call("heatmap_nms / nms_gather split into bands (band + merge kernels)")
def _split(dev: torch.device) -> bool:
    import importlib

    from ssmp3d.ops import heatmap_nms, nms_gather

    # The modules, not the functions that ssmp3d.ops exports under the same names.
    nms_module = importlib.import_module("ssmp3d.ops.heatmap_nms")
    gather_module = importlib.import_module("ssmp3d.ops.nms_gather")

    hm, tg, om = maps(10, 1, 3, 40, 24, d=2)
    hm[0, 0, 15:17, 3:6] = 1.0  # a plateau across the border of 8-row bands
    ok = True
    for splits, m in ((2, 8), (7, 30), (16, 4096)):  # (splits + 1) * M > 4096: merge from global memory
        want = heatmap_nms(hm, 0.2, 1, m)
        ok &= same(nms_module._run_cuda(hm.to(dev), 0.2, 1, m, splits), want)
        for dtype in (torch.float16, torch.bfloat16):
            x = hm.to(dtype)
            ok &= same(nms_module._run_cuda(x.to(dev), 0.2, 1, m, splits), heatmap_nms(x.float(), 0.2, 1, m))
        checked = gather_module._check_cuda(hm.to(dev), tg.to(dev), om.to(dev), 0.2, 1, m)
        ok &= same(gather_module._run_cuda(*checked, splits), nms_gather(hm, tg, om, 0.2, 1, m))
    return ok


@call("nms_gather (and its many-peaks path)")
def _gather(dev: torch.device) -> bool:
    from ssmp3d.ops import nms_gather

    hm, tg, om = maps(5, 2, 4, 12, 10, d=2)
    ok = same(nms_gather(hm.to(dev), tg.to(dev), om.to(dev), 0.2, 1, 6), nms_gather(hm, tg, om, 0.2, 1, 6))
    hm, tg, om = maps(6, 1, 2, 40, 40)
    return ok and same(nms_gather(hm.to(dev), tg.to(dev), om.to(dev), 0.0, 0, 5), nms_gather(hm, tg, om, 0.0, 0, 5))


@call("decode(backend='cuda') (nms_gather with gather lists and refinement)")
def _decode(dev: torch.device) -> bool:
    from ssmp3d.decoding import decode

    hm, tg, om = maps(7, 2, 19, 24, 24)
    hm = hm ** 4
    got = decode(hm.to(dev), tg.to(dev), om.to(dev), backend=dev.type)  # "cuda" on a GPU
    want = decode(hm, tg, om, backend="cpu")
    return all(same(getattr(got, f), getattr(want, f)) for f in ("joints2d", "joints3d", "scores"))


@call("encode_heatmaps / encode_orpm / encode_tag_maps")
def _encode(dev: torch.device) -> bool:
    from ssmp3d.ops import encode_heatmaps, encode_orpm, encode_tag_maps
    from ssmp3d.skeleton import PANOPTIC19

    rng = np.random.default_rng(8)
    b, n, k, h, w = 2, 3, PANOPTIC19.num_joints, 20, 16
    arrays = {"joints": rng.uniform(-2, 20, (b, n, k, 2)), "valid": rng.random((b, n, k)) < 0.8,
              "depth": rng.uniform(1000, 3000, (b, n)), "bones": rng.normal(scale=0.3, size=(b, n, k, 3)),
              "bones_valid": rng.random((b, n, k)) < 0.9, "tags": rng.normal(size=(b, n))}

    def run(device):
        t = {key: torch.from_numpy(v).to(device) for key, v in arrays.items()}
        heat = encode_heatmaps(t["joints"], t["valid"], (h, w), 2.0)
        orpm = encode_orpm(t["joints"], t["bones"], t["valid"], t["depth"], skeleton=PANOPTIC19, size=(h, w),
                           radius=1, bones_valid=t["bones_valid"])
        tags = encode_tag_maps(t["joints"], t["valid"], t["depth"], (h, w), t["tags"], 1)
        return heat, *orpm, tags

    return same(run(dev), run(torch.device("cpu")))


@call("orpm_readout")
def _readout(dev: torch.device) -> bool:
    from ssmp3d.ops import orpm_readout
    from ssmp3d.skeleton import PANOPTIC19

    rng = np.random.default_rng(9)
    b, q, k, h, w = 2, 5, PANOPTIC19.num_joints, 12, 12
    args = (rng.normal(size=(b, k, 3, h, w)).astype(np.float32),
            np.stack([rng.integers(0, w, (b, q, k)), rng.integers(0, h, (b, q, k))], -1),
            rng.random((b, q, k), dtype=np.float32), rng.random((b, q, k)) < 0.8, np.full(b, q),
            np.tile(np.arange(q)[::-1], (b, 1)), rng.integers(0, q + 1, b))
    cpu = [torch.from_numpy(np.ascontiguousarray(a)) for a in args]
    want = orpm_readout(*cpu, skeleton=PANOPTIC19)
    return same(orpm_readout(*[a.to(dev) for a in cpu], skeleton=PANOPTIC19), want)


def main(argv: list[str] | None = None) -> int:
    """Runs (or with ``--dry-run`` lists) the smoke calls; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="list the calls and exit without touching a GPU")
    parser.add_argument("--device", default="cuda", help="CUDA device (default: the current one)")
    args = parser.parse_args(argv)
    if args.dry_run:
        for name, _ in CALLS:
            print(f"would call: {name}")
        return 0
    from ssmp3d.ops._ext import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is not None:
        print(f"gpu_kernels_smoke: no usable GPU: {reason}")
        return 2
    dev = torch.device(args.device)
    failed = 0
    for name, f in CALLS:
        try:
            ok = f(dev)
        except Exception as exc:  # one broken call must not hide the others
            print(f"ERROR {name}: {type(exc).__name__}: {exc}", flush=True)
            ok = False
        torch.cuda.synchronize(dev)
        print(f"{'ok  ' if ok else 'FAIL'} {name}", flush=True)
        failed += not ok
    print(f"gpu_kernels_smoke: {len(CALLS) - failed} of {len(CALLS)} calls equal the CPU ops")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

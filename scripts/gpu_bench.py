"""GPU timings for scripts/gpu_check.sh: decode, the NMS + gather kernel, inference, training.

    python scripts/gpu_bench.py --out bench.json        # needs a GPU and ssmp3d._C_cuda
    python scripts/gpu_bench.py --dry-run               # print the plan, touch no GPU

Measured (medians; CUDA work synchronised inside each timed call):

* ``decode_b{1,64}_{fp32,bf16}_us_per_frame``: ``decode(backend="cuda")`` of
  the heatmap / tag / ORPM views that ``ssmp3d.model.split_prediction`` cuts
  from one ``[B, 95, 128, 128]`` network-output tensor (ground-truth maps of
  crowded synthetic scenes, 19 joints), whole call over B.
* ``decode_b1_{device,host,call}_us`` (fp32 views): where B = 1 goes: the
  device stage (kernel, copy of the tables to pinned memory, wait), the host
  stage (grouping and read-out of the copied tables, one thread), and the
  rest of the ``decode`` call (checks and dispatch: the whole call minus
  the two stages); ``decode_b1_cpu_backend_us``: ``backend="cpu"`` on the
  same maps copied to the host beforehand (one thread), for comparison.
* ``hbm_copy_GBps``: device-to-device copy of 256 MiB (read + write bytes / time).
* ``nms_gather_{fp32,bf16}_ratio_to_floor``: the fused kernel alone (CUDA
  events, B = 64 contiguous maps) over its floor = (heatmap bytes + table
  bytes written + one 32-byte sector per gathered value) / copy bandwidth.
* ``nms_gather_b1_{fp32,bf16}_{one_block,split}_us``: the same kernel at
  B = 1 (19 maps: far fewer blocks than SMs), CUDA events, launched with one
  block per map and with the maps cut into ``nms_gather_b1_splits`` bands of
  rows (the rule of ``_C_cuda.nms_split_count``; band + merge kernels,
  ``src/cuda/nms_split.cuh``).
* ``infer_bf16_frames_per_s``: ``HourglassConfig.paper(input_size=256)``,
  batch 64, ``torch.autocast(bfloat16)``, ``torch.inference_mode``
  (``--channels-last`` optional).
* ``train_images_per_s``: one training step as ``ssmp3d.train.trainer`` does
  it (bf16 autocast forward, ``compute_losses``, backward, Adam step) on
  random images and targets, batch ``--train-batch``.

Writes ``{name: value}`` JSON to ``--out`` (and stdout); a failing part
records ``{name: "error: ..."}`` and the rest still runs. Exit status 2
without a usable GPU (reason printed), else 0.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
import traceback
from collections.abc import Callable

import torch

K, D, MAP = 19, 1, 128


def median_s(fn: Callable[[], object], repeat: int, warmup: int) -> float:
    """Median wall seconds of ``fn()`` followed by a device synchronisation."""
    times = []
    for i in range(warmup + repeat):
        torch.cuda.synchronize()
        tic = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - tic)
    return statistics.median(times)


def event_s(fn: Callable[[], object], repeat: int, warmup: int) -> float:
    """Median device seconds of ``fn()`` between two CUDA events."""
    times = []
    for i in range(warmup + repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        if i >= warmup:
            times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


@functools.lru_cache(maxsize=4)
def cpu_prediction(b: int) -> torch.Tensor:
    """``[B, 95, 128, 128]`` float32 CPU tensor of the ground-truth maps of crowded scenes."""
    from dataclasses import replace

    from ssmp3d.data.synthetic import SceneConfig, sample_scenes
    from ssmp3d.encode import TargetConfig
    from ssmp3d.oracle import stack_maps
    from ssmp3d.skeleton import PANOPTIC19

    scenes = sample_scenes(b, 0, replace(SceneConfig.crowded(max_people=10), min_people=5), PANOPTIC19)
    hm, tg, om = stack_maps(scenes, PANOPTIC19, TargetConfig())
    if hm.shape[1:] != (K, MAP, MAP):
        raise ValueError(f"expected {K}x{MAP}x{MAP} maps, got {tuple(hm.shape[1:])}")
    return torch.cat([hm, tg.reshape(b, K * D, MAP, MAP), om.reshape(b, K * 3, MAP, MAP)], dim=1)


def network_views(b: int, dtype: torch.dtype):
    """``split_prediction`` views (non-contiguous) of a ``[B, 95, 128, 128]`` CUDA tensor."""
    from ssmp3d.model import split_prediction

    return split_prediction(cpu_prediction(b).to("cuda", dtype), K, D)


def bench_decode(results: dict, repeat: int) -> None:
    from ssmp3d.decoding import decode

    for b in (1, 64):
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            views = network_views(b, dtype)
            s = median_s(lambda: decode(views.heatmaps, views.tags, views.orpm, backend="cuda"), repeat, 3)
            results[f"decode_b{b}_{name}_us_per_frame"] = 1e6 * s / b
    decode_stages_b1(results, repeat)


def decode_stages_b1(results: dict, repeat: int) -> None:
    """The B = 1 fp32 decode split into its device stage, host stage and the call around them."""
    from ssmp3d.decoding import DecodeConfig, decode
    from ssmp3d.decoding.cuda import copy_tables, decode_host, gather_tables
    from ssmp3d.geometry import MapTransform
    from ssmp3d.model import split_prediction
    from ssmp3d.skeleton import PANOPTIC19

    config, transform = DecodeConfig(), MapTransform(stride=4)
    views = network_views(1, torch.float32)

    def device_stage():
        staged = copy_tables(gather_tables(views.heatmaps, views.tags, views.orpm, config, PANOPTIC19))
        staged.wait()
        return staged

    staged = device_stage()
    device_s = median_s(device_stage, repeat, 3)
    host_s = median_s(lambda: decode_host(staged, config, PANOPTIC19, transform, 1), repeat, 3)
    call_s = median_s(lambda: decode(views.heatmaps, views.tags, views.orpm, config, backend="cuda",
                                     num_threads=1), repeat, 3)
    cpu = split_prediction(cpu_prediction(1), K, D)
    cpu_s = median_s(lambda: decode(cpu.heatmaps, cpu.tags, cpu.orpm, config, backend="cpu", num_threads=1),
                     repeat, 3)
    results.update(decode_b1_device_us=1e6 * device_s, decode_b1_host_us=1e6 * host_s,
                   decode_b1_call_us=1e6 * max(call_s - device_s - host_s, 0.0),
                   decode_b1_cpu_backend_us=1e6 * cpu_s)


def bench_kernel(results: dict, repeat: int) -> None:
    import numpy as np

    from ssmp3d.bench import copy_bandwidth
    from ssmp3d.decoding import DecodeConfig
    from ssmp3d.decoding.cuda import gather_lists, launch_gather, table_layout
    from ssmp3d.skeleton import PANOPTIC19

    bw = copy_bandwidth(torch.device("cuda"))
    results["hbm_copy_GBps"] = bw / 1e9
    config, lists, b = DecodeConfig(), gather_lists(PANOPTIC19), 64
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        views = network_views(b, dtype)
        hm, tg, om = (x.contiguous() for x in views)
        s = event_s(lambda: launch_gather(hm, tg, om, config, lists), repeat, 3)
        buf, d = launch_gather(hm, tg, om, config, lists)
        size, layout = table_layout(b, K, config.max_candidates, d, lists.total)
        shape, dt, off = layout["counts"]
        counts = np.ndarray(shape, dt, buf.cpu().numpy(), off)  # [B, K] kept peaks
        lengths = np.diff(lists.start)  # gather list length per joint
        gathered = int((counts * (d + 3 * lengths)[None, :]).sum())
        floor_s = (hm.numel() * hm.element_size() + size + 32 * gathered) / bw
        results[f"nms_gather_{name}_us_per_frame"] = 1e6 * s / b
        results[f"nms_gather_{name}_ratio_to_floor"] = s / floor_s
    bench_kernel_b1(results, repeat, config, lists)


def bench_kernel_b1(results: dict, repeat: int, config, lists) -> None:
    """B = 1: one block per map against the split launch (bands of rows + merge), same outputs."""
    from ssmp3d.decoding.cuda import _SECTIONS, _device_lists, table_layout
    from ssmp3d.ops import _cuda, _maps
    from ssmp3d.ops._ext import load_cuda

    ext, m, t = load_cuda(), config.max_candidates, lists.total
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        hm, tg, om = (x.contiguous() for x in network_views(1, dtype))  # [1, K, H, W], [1, K, D, H, W], [1, K, 3, H, W]
        dev_lists = _device_lists(lists, hm.device)
        size, layout = table_layout(1, K, m, D, t)
        buf = torch.empty(size, dtype=torch.uint8, device=hm.device)
        sec = [buf.data_ptr() + layout[section][2] for section in _SECTIONS]
        splits, scratch = _cuda.nms_scratch(K, MAP, m, hm.device)  # [K, splits] band lists
        stream = torch.cuda.current_stream().cuda_stream
        args = (hm.data_ptr(), tg.reshape(1, K, D, MAP, MAP).data_ptr(), om.data_ptr(),
                _maps.layout_strides(hm, tg.reshape(1, K, D, MAP, MAP), om), _cuda.dtype_code(dtype), 1, K, MAP,
                MAP, D, config.det_threshold, config.nms_radius, m, dev_lists, dev_lists + 4 * (K + 1), t, *sec,
                stream)
        runs = {"one_block": (1, 0), "split": (splits, 0 if scratch is None else scratch.data_ptr())}
        for label, (n, ptr) in runs.items():
            s = event_s(lambda: ext.nms_gather_cuda(*args, n, ptr), repeat, 3)
            results[f"nms_gather_b1_{name}_{label}_us"] = 1e6 * s
        results["nms_gather_b1_splits"] = splits


def paper_net(channels_last: bool):
    from ssmp3d.model import HourglassConfig, HourglassNet

    net = HourglassNet(HourglassConfig.paper(input_size=256)).cuda()
    return net.to(memory_format=torch.channels_last) if channels_last else net


def bench_inference(results: dict, repeat: int, batch: int, channels_last: bool) -> None:
    net = paper_net(channels_last).eval()
    x = torch.randn(batch, 3, 256, 256, device="cuda")
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def step():
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            return net(x)

    results["infer_bf16_frames_per_s"] = batch / median_s(step, repeat, 3)


def bench_training(results: dict, repeat: int, batch: int, channels_last: bool) -> None:
    from ssmp3d.train.losses import compute_losses
    from ssmp3d.train.train_targets import TrainTargets

    net = paper_net(channels_last).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, 256, 256, device="cuda")
    h = w = 64
    n = 4
    gen = torch.Generator(device="cuda").manual_seed(0)
    flat = torch.randint(0, h * w, (batch, n, K), device="cuda", generator=gen)
    targets = TrainTargets(
        heatmaps=torch.rand(batch, K, h, w, device="cuda", generator=gen),
        tag_indices=torch.stack([flat, torch.ones_like(flat)], dim=-1),
        orpm=torch.randn(batch, K, 3, h, w, device="cuda", generator=gen),
        orpm_weight=(torch.rand(batch, K, h, w, device="cuda", generator=gen) < 0.1).float(),
        num_people=torch.full((batch,), n, dtype=torch.int64, device="cuda"))

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            outputs = net(x)
        total, _ = compute_losses(outputs, targets)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    results["train_images_per_s"] = batch / median_s(step, repeat, 2)


PARTS = ("decode", "kernel", "inference", "training")


def main(argv: list[str] | None = None) -> int:
    """Runs the selected parts; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="JSON file for the results")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    parser.add_argument("--repeat", type=int, default=10, help="timed repetitions (median)")
    parser.add_argument("--infer-batch", type=int, default=64)
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--channels-last", action="store_true", help="channels_last network and input")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit without a GPU")
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--parts: unknown {unknown}; expected a subset of {list(PARTS)}")
    if args.repeat < 1 or args.infer_batch < 1 or args.train_batch < 1:
        parser.error("--repeat, --infer-batch and --train-batch must be >= 1")
    if args.dry_run:
        print(f"gpu_bench plan: parts={parts} repeat={args.repeat} infer_batch={args.infer_batch} "
              f"train_batch={args.train_batch} channels_last={args.channels_last} out={args.out}")
        return 0
    from ssmp3d.ops._ext import cuda_unavailable_reason

    reason = cuda_unavailable_reason()
    if reason is not None:
        print(f"gpu_bench: no usable GPU: {reason}")
        return 2
    torch.backends.cudnn.benchmark = True
    results: dict = {"device": torch.cuda.get_device_name(), "channels_last": args.channels_last}
    runs = {"decode": lambda: bench_decode(results, args.repeat),
            "kernel": lambda: bench_kernel(results, args.repeat),
            "inference": lambda: bench_inference(results, args.repeat, args.infer_batch, args.channels_last),
            "training": lambda: bench_training(results, max(3, args.repeat // 2), args.train_batch,
                                               args.channels_last)}
    for part in parts:
        try:
            runs[part]()
        except Exception as exc:  # recorded, the other parts still run
            traceback.print_exc()
            results[f"{part}_error"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        torch.cuda.empty_cache()
        print(json.dumps(results), flush=True)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``ssmp3d bench``: per-frame decode latency per backend and people count; ``--grouping``:
grouping accuracy of each strategy beside the public associative-embedding baseline."""

from __future__ import annotations

import argparse

from ..bench import BenchConfig, run_bench
from ..decoding import GROUPINGS, DecodeConfig
from .progress import progress_bar


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``bench`` sub-command."""
    p = sub.add_parser("bench", help="time the decoders per frame; --grouping: grouping accuracy",
                       description="Per-frame decode latency on 19x128x128 ground-truth maps, per backend, "
                                   "people count and batch size, with the ratio to the python backend. With "
                                   "--grouping: joint accuracy and latency of each grouping strategy and backend "
                                   "beside the public associative-embedding grouping, on tag maps of controlled "
                                   "ambiguity.")
    p.add_argument("--backends", type=_names, default=None,
                   help="comma-separated backends (python,cpu,cuda); default python (--grouping: python,cpu)")
    p.add_argument("--people", type=_ints, default=None,
                   help="people per frame (default 1,5,10,20; --grouping: 2,5,10,20)")
    p.add_argument("--batch", type=_ints, default=(1,), help="batch sizes (default 1)")
    p.add_argument("--repeat", type=int, default=10, help="timed repetitions; the median is reported")
    p.add_argument("--warmup", type=int, default=2, help="untimed repetitions first")
    p.add_argument("--threads", type=int, default=1, help="torch threads while timing (default 1)")
    p.add_argument("--seed", type=int, default=0, help="scene seed")
    p.add_argument("--strategy", choices=GROUPINGS, default=None,
                   help="grouping strategy of the timed decoder (default: DecodeConfig's, assign)")
    p.add_argument("--grouping", action="store_true",
                   help="run the grouping benchmark instead")
    p.add_argument("--frames", type=int, default=20, help="--grouping: frames per cell (default 20)")
    p.add_argument("--missing", type=float, default=0.0,
                   help="--grouping: share of joints dropped from the heatmaps (default 0)")
    return p


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command; returns (JSON object, human text)."""
    if args.grouping:
        return _run_grouping(args)
    decode = DecodeConfig() if args.strategy is None else DecodeConfig(
        grouping=args.strategy, person_score="detected" if args.strategy == "paper" else "all")
    config = BenchConfig(backends=args.backends or ("python",), people=args.people or BenchConfig.people,
                         batch=args.batch, repeat=args.repeat,
                         warmup=args.warmup, seed=args.seed, threads=args.threads, decode=decode)
    with progress_bar(len(config.people) * len(config.batch), "bench", "case") as advance:
        result = run_bench(config, progress=advance)
    return result, format_result(result)


def _run_grouping(args: argparse.Namespace) -> tuple[dict, str]:
    from dataclasses import replace

    from ..grouping_bench import GroupingBenchConfig, format_grouping, run_grouping_bench
    from ..grouping_bench.run import SETTINGS

    people = args.people or GroupingBenchConfig.people
    backends = args.backends or GroupingBenchConfig.backends
    settings = tuple((name, replace(amb, missing=args.missing)) for name, amb in SETTINGS)
    config = GroupingBenchConfig(people=people, frames=args.frames, settings=settings, backends=backends,
                                 repeat=args.repeat, threads=args.threads, seed=args.seed)
    with progress_bar(len(config.people) * len(config.settings), "bench", "case") as advance:
        result = run_grouping_bench(config, progress=advance)
    return result, format_grouping(result)


def format_result(r: dict) -> str:
    """Human-readable latency table."""
    m = r["machine"]
    lines = [f"decode latency per frame, {'x'.join(map(str, r['map_shape']))} maps, {r['threads']} thread(s), "
             f"median of {r['repeat']}, grouping {r['grouping']} ({m['processor']}, torch {m['torch']}, "
             f"commit {m['commit']})",
             f"{'backend':<8}{'people':>7}{'batch':>7}{'ms/frame':>11}{'vs python':>11}"]
    for row in r["decode"]:
        lines.append(f"{row['backend']:<8}{row['people']:>7}{row['batch']:>7}{row['per_frame_ms']:>11.3f}"
                     f"{row['ratio_to_python']:>10.1f}x")
    if r["nms"]:
        lines.append(f"{'heatmap_nms':<14}{'people':>7}{'batch':>7}{'reference ms':>14}{'cpu ms':>10}{'speedup':>9}")
        for row in r["nms"]:
            lines.append(f"{'':<14}{row['people']:>7}{row['batch']:>7}{row['reference_per_frame_ms']:>14.3f}"
                         f"{row['cpu_per_frame_ms']:>10.3f}{row['speedup']:>8.1f}x")
    if r.get("cuda_nms_gather"):
        bw = r["cuda_nms_gather"][0]["copy_bandwidth_GBps"]
        lines.append(f"cuda nms_gather kernel (device time) vs floor = heatmap bytes / copy bandwidth "
                     f"({bw:.0f} GB/s, {m['cuda_device']})")
        lines.append(f"{'':<14}{'people':>7}{'batch':>7}{'us/frame':>10}{'floor us':>10}{'x floor':>9}")
        for row in r["cuda_nms_gather"]:
            lines.append(f"{'':<14}{row['people']:>7}{row['batch']:>7}{row['per_frame_us']:>10.2f}"
                         f"{row['floor_per_frame_us']:>10.2f}{row['ratio_to_floor']:>8.1f}x")
    return "\n".join(lines)

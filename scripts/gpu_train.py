"""Train several ``ssmp3d train`` variants side by side on one GPU machine within a time budget.

A lent GPU machine gives minutes, not hours, so the run length cannot be guessed in advance and a
run killed before its schedule's decay phase is wasted. This script first trains every variant for
``--calib-steps`` steps at once (same workers, same GPU), measures each one's images per second
from its ``log.csv`` (the cumulative rate between its first and last logged rows, so worker start-up
is left out), and then trains each variant from scratch of its schedule for as many steps as the
remaining budget allows at that rate, all at once again. The data workers are split evenly between
the variants (``--workers`` in total).

    python3 scripts/gpu_train.py --out runs/gpu --budget-s 400 --workers 14 \\
        --variant a "--orpm-weight 16 --heatmap-weight 2 --seed 5" \\
        --variant b "--orpm-weight 32 --heatmap-weight 2 --seed 6" \\
        -- --model small --batch-size 16 --lr 1e-3 --scene-preset crowded --max-people 4 \\
           --init-weights src/python/ssmp3d/weights/synthetic_small.pt

Arguments after ``--`` go to every variant. Each variant's run is in ``OUT/NAME`` (``last.pt``,
``log.csv``, ``eval.jsonl``, ``command.txt`` with the exact ``ssmp3d train`` command); the
calibration runs are in ``OUT/calib_NAME``. A summary JSON line per variant is printed at the end.
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path


def _rate(log_csv: Path, batch: int) -> float:
    """Images per second between the first and the last logged row of a run's ``log.csv``."""
    with log_csv.open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("images_per_s")]
    if len(rows) < 2:
        raise RuntimeError(f"{log_csv}: fewer than two logged rows")
    (s0, r0), (s1, r1) = [(int(r["step"]), float(r["images_per_s"])) for r in (rows[0], rows[-1])]
    t0, t1 = s0 * batch / r0, s1 * batch / r1
    return (s1 - s0) * batch / max(t1 - t0, 1e-9)


def _launch(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ssmp3d.cli.main", "train", *args],
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


def _arg_value(args: list[str], name: str, default: str) -> str:
    return args[args.index(name) + 1] if name in args else default


def main(argv: list[str] | None = None) -> int:
    """Calibrates, then trains every variant for the budget left; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    common = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--budget-s", type=float, required=True, help="seconds for calibration and training")
    p.add_argument("--workers", type=int, default=14, help="data workers in total, split between variants")
    p.add_argument("--calib-steps", type=int, default=60)
    p.add_argument("--eval-margin-s", type=float, default=40.0, help="seconds kept for the final evaluation")
    p.add_argument("--variant", nargs=2, action="append", metavar=("NAME", "ARGS"), required=True)
    a = p.parse_args(argv)
    start = time.monotonic()
    workers = max(1, a.workers // len(a.variant))
    batch = int(_arg_value(common, "--batch-size", "8"))
    base = [*common, "--workers", str(workers), "--threads", "1"]
    a.out.mkdir(parents=True, exist_ok=True)
    calib = {}
    for name, extra in a.variant:
        out = a.out / f"calib_{name}"
        calib[name] = _launch([*base, *shlex.split(extra), "--out", str(out), "--steps", str(a.calib_steps),
                               "--eval-scenes", "0", "--no-resume"], a.out / f"calib_{name}.log")
    rates = {}
    for name, proc in calib.items():
        if proc.wait() != 0:
            print(f"calibration of {name} failed; see {a.out / f'calib_{name}.log'}", flush=True)
            return 1
        rates[name] = _rate(a.out / f"calib_{name}" / "log.csv", batch)
    left = a.budget_s - (time.monotonic() - start) - a.eval_margin_s
    print(f"calibration: {json.dumps({k: round(v, 1) for k, v in rates.items()})} images/s; "
          f"{left:.0f} s left for training", flush=True)
    runs = {}
    for name, extra in a.variant:
        steps = max(10, int(rates[name] * left / batch))
        out = a.out / name
        out.mkdir(parents=True, exist_ok=True)
        cmd = [*base, *shlex.split(extra), "--out", str(out), "--steps", str(steps), "--json"]
        (out / "command.txt").write_text("ssmp3d train " + shlex.join(cmd) + "\n")
        runs[name] = (_launch(cmd, out / "train.log"), steps)
    status = 0
    for name, (proc, steps) in runs.items():
        rc = proc.wait()
        status = status or rc
        text = (a.out / name / "train.log").read_text().strip().splitlines()
        summary = {"variant": name, "steps": steps, "rc": rc, "calib_images_per_s": round(rates[name], 1)}
        try:
            result = json.loads(text[-1])
            last = result["evaluation"]["stack_2"]
            summary.update(images_per_s=round(result["images_per_second"], 1), last_loss=result["last_loss"],
                           **{f"{k}_{m}": round(last[k][m], 4) for k in ("full", "naive")
                              for m in ("mpjpe_mm", "pck3d", "recall", "precision")})
        except (IndexError, KeyError, TypeError, ValueError):
            summary["tail"] = text[-5:]
        print(json.dumps(summary), flush=True)
    print(f"total {time.monotonic() - start:.0f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())

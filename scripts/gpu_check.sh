#!/usr/bin/env bash
# First run of the CUDA path on a GPU machine (one H100 / H200), from a clean tree, in about
# 8 minutes, without network:
#
#   scripts/gpu_check.sh [OUT_DIR]             # default OUT_DIR: gpu_check_out
#   scripts/gpu_check.sh --dry-run [OUT_DIR]   # no build, no install, no GPU: versions, test
#                                              # collection, the Python scripts' --dry-run, table
#
# Steps, each under `timeout` (a failure or timeout is a row of the table; the script goes on):
#   1. driver and torch CUDA versions (nvidia-smi, torch.version.cuda), cmake, compute capability;
#   2. `pip install --no-build-isolation --no-deps -v .` with SSMP3D_CUDA=ON and
#      CMAKE_CUDA_ARCHITECTURES set to this device's architecture only (ptxas spill warnings counted);
#   3. `pytest -m cuda` over tests/ (no -x; collection errors do not stop it);
#   4. compute-sanitizer memcheck, racecheck and synccheck on scripts/gpu_kernels_smoke.py
#      (every kernel once, small inputs; "not found" when compute-sanitizer is missing);
#   5. scripts/gpu_bench.py: decode us/frame (B = 1, 64; fp32, bf16 network-output views),
#      NMS + gather kernel against its bandwidth floor, paper-network bf16 inference, training;
#   6. scripts/gpu_pipeline.py: the Predictor's frames/s, in line against pipelined.
# Then ONE summary table (item, value, goal, verdict), printed and written to OUT_DIR/summary.txt;
# logs of every step are in OUT_DIR. Exit status 0 (the table says what failed).
#
# Environment: PYTHON (default python3), GPU_CHECK_BUDGET_S (total seconds, default 470),
# CUDA_ARCH (e.g. 90; default: from nvidia-smi, else torch).
set -u

DRY=0
if [[ "${1:-}" == "--dry-run" ]]; then
  DRY=1
  shift
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-gpu_check_out}" && cd "${1:-gpu_check_out}" && pwd)"
PY="${PYTHON:-python3}"
BUDGET="${GPU_CHECK_BUDGET_S:-470}"
ROWS="$OUT/rows.tsv"
: > "$ROWS"
cd "$ROOT" || exit 1

row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$ROWS"; }  # item, value, goal
left() { echo $((BUDGET - SECONDS)); }
# box CAP RESERVE: seconds for the next step (at most CAP, leaving RESERVE for the later ones; >= 10)
box() {
  local t=$(($(left) - $2))
  ((t > $1)) && t=$1
  ((t < 10)) && t=10
  echo "$t"
}
status_of() {  # status_of RC SECONDS_ALLOWED: ok / timed out / failed
  case "$1" in
    0) echo "ok" ;;
    124 | 137) echo "timed out after $2 s" ;;
    *) echo "failed (exit $1)" ;;
  esac
}

echo "== 1. versions"
SMI="$(timeout 20 nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader 2>&1 | head -1)"
row "GPU (nvidia-smi)" "${SMI:-nvidia-smi failed}" "info"
TORCH_INFO="$(timeout 90 "$PY" -c 'import torch; c = torch.cuda.get_device_capability() if torch.cuda.is_available() else None; print(f"torch {torch.__version__} CUDA {torch.version.cuda}; cuda available {torch.cuda.is_available()}; capability {c}")' 2>&1 | tail -1)"
row "torch" "$TORCH_INFO" "info"
row "cmake" "$(timeout 20 cmake --version 2>&1 | head -1 || echo 'not found')" "info (>= 3.26 needed)"
ARCH="${CUDA_ARCH:-}"
if [[ -z "$ARCH" ]]; then
  ARCH="$(echo "$SMI" | awk -F', ' '{print $3}' | tr -d '.[:space:]')"
fi
if ! [[ "$ARCH" =~ ^[0-9]+$ ]]; then
  ARCH="$(timeout 60 "$PY" -c 'import torch; a, b = torch.cuda.get_device_capability(); print(f"{a}{b}")' 2>/dev/null | tail -1)"
fi
[[ "$ARCH" =~ ^[0-9]+$ ]] || ARCH=90
row "CUDA architecture built" "${ARCH}-real" "this device only"

dry_steps() {
  echo "== dry run: build, GPU tests, sanitizers and benchmarks are not run"
  row "build (pip install .)" "skipped (dry run)" "-"
  timeout 120 "$PY" -m pytest -m cuda -q -p no:cacheprovider --collect-only --continue-on-collection-errors tests \
    > "$OUT/pytest.log" 2>&1
  row "pytest -m cuda --collect-only" "$(grep -E "tests? collected|selected|error" "$OUT/pytest.log" | tail -1)" "info"
  timeout 60 "$PY" scripts/gpu_kernels_smoke.py --dry-run > "$OUT/smoke.log" 2>&1
  row "gpu_kernels_smoke.py --dry-run" "exit $?, $(grep -c "would call" "$OUT/smoke.log") calls" "exit 0"
  timeout 60 "$PY" scripts/gpu_kernels_smoke.py > "$OUT/smoke_nogpu.log" 2>&1
  row "gpu_kernels_smoke.py" "exit $?: $(tail -1 "$OUT/smoke_nogpu.log")" "exit 2 without a GPU"
  timeout 60 "$PY" scripts/gpu_bench.py --dry-run > "$OUT/bench.log" 2>&1
  row "gpu_bench.py --dry-run" "exit $?" "exit 0"
  timeout 60 "$PY" scripts/gpu_pipeline.py --dry-run > "$OUT/pipeline.log" 2>&1
  row "gpu_pipeline.py --dry-run" "exit $?" "exit 0"
  SAN="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || echo "not found")"
  row "compute-sanitizer" "$SAN" "info"
}

gpu_steps() {
  echo "== 2. build (sm_$ARCH)"
  T=$(box 240 200)
  START=$SECONDS
  timeout "$T" env SSMP3D_CUDA=ON CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$PY" -m pip install -v --no-build-isolation \
    --no-deps -C cmake.define.CMAKE_CUDA_ARCHITECTURES="${ARCH}-real" . > "$OUT/build.log" 2>&1
  RC=$?
  row "build (pip install .)" "$(status_of $RC "$T"), $((SECONDS - START)) s" "ok"
  # ptxas -warn-spills: "ptxas warning : Registers are spilled to local memory in function ..."
  SPILLS="$(grep -ciE "ptxas warning.*spill|spilled to local memory" "$OUT/build.log")"
  row "ptxas spill warnings" "$SPILLS" "0"
  timeout 60 "$PY" -c 'from ssmp3d.ops._ext import cuda_unavailable_reason as r; print(r() or "usable")' > "$OUT/cuda_reason.log" 2>&1
  row "cuda backend" "$(tail -1 "$OUT/cuda_reason.log")" "usable"

  echo "== 3. pytest -m cuda"
  T=$(box 170 140)
  timeout "$T" "$PY" -m pytest -m cuda -q -p no:cacheprovider -p no:logging --tb=short --continue-on-collection-errors -rfEs \
    tests > "$OUT/pytest.log" 2>&1
  RC=$?
  SUMMARY="$(grep -E "^(=+ )?[0-9]+ (passed|failed|skipped|error|deselected)|no tests ran" "$OUT/pytest.log" | tail -1 | tr -d '=' | xargs)"
  row "pytest -m cuda" "${SUMMARY:-no summary} ($(status_of $RC "$T"))" "0 failed, 0 errors"
  # The failing tests and their assertion lines, small enough to come back from a lent machine.
  grep -E "^(FAILED|ERROR) |^E  " "$OUT/pytest.log" | head -80 > "$OUT/pytest_failures.txt"
  FIRST="$(grep -E "^(FAILED|ERROR) " "$OUT/pytest.log" | head -1 | cut -c1-110)"
  [[ -n "$FIRST" ]] && row "first failing CUDA test" "$FIRST" "none (all in pytest_failures.txt)"

  echo "== 4. compute-sanitizer"
  SAN="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
  declare -A RESERVE=([memcheck]=150 [racecheck]=100 [synccheck]=50)  # for the steps after each
  for TOOL in memcheck racecheck synccheck; do
    if [[ -z "$SAN" ]]; then
      row "compute-sanitizer $TOOL" "not found" "0 errors"
      continue
    fi
    T=$(box 60 "${RESERVE[$TOOL]}")
    timeout "$T" "$SAN" --tool "$TOOL" --error-exitcode 3 --print-limit 20 "$PY" scripts/gpu_kernels_smoke.py \
      > "$OUT/sanitizer_$TOOL.log" 2>&1
    RC=$?
    LINE="$(grep -E "(ERROR|RACECHECK) SUMMARY" "$OUT/sanitizer_$TOOL.log" | tail -1 | sed 's/^=* *//')"
    SMOKE="$(grep -E "^gpu_kernels_smoke:" "$OUT/sanitizer_$TOOL.log" | tail -1)"
    row "compute-sanitizer $TOOL" "${LINE:-no summary}; ${SMOKE:-smoke did not finish} ($(status_of $RC "$T"))" \
      "0 errors, all calls equal"
  done

  echo "== 5. benchmarks"
  T=$(box 400 75)
  timeout "$T" "$PY" scripts/gpu_bench.py --out "$OUT/bench.json" > "$OUT/bench.log" 2>&1
  RC=$?
  row "gpu_bench.py" "$(status_of $RC "$T")" "ok"

  echo "== 6. pipelined Predictor"
  T=$(box 120 5)
  timeout "$T" "$PY" scripts/gpu_pipeline.py --frames 256 --out "$OUT/pipeline.json" > "$OUT/pipeline.log" 2>&1
  RC=$?
  row "gpu_pipeline.py" "$(status_of $RC "$T")" "ok"
}

if ((DRY)); then dry_steps; else gpu_steps; fi

echo "== summary"
"$PY" - "$ROWS" "$OUT/bench.json" "$OUT/summary.txt" "$OUT/pipeline.json" <<'EOF'
import json, os, sys

rows_path, bench_path, out_path, pipeline_path = sys.argv[1:5]
rows = [line.rstrip("\n").split("\t") for line in open(rows_path) if line.strip()]


def load(path: str) -> dict:
    if not os.path.exists(path):
        return {}
    try:
        return json.load(open(path))
    except ValueError as exc:
        rows.append([os.path.basename(path), f"unreadable: {exc}", "-"])
        return {}


bench = load(bench_path)
pipeline = load(pipeline_path)
GOALS = [  # key, item, unit, goal text, test
    ("decode_b1_fp32_us_per_frame", "decode B=1 fp32 views", "us/frame", "< 100", lambda v: v < 100),
    ("decode_b1_bf16_us_per_frame", "decode B=1 bf16 views", "us/frame", "< 100", lambda v: v < 100),
    ("decode_b64_fp32_us_per_frame", "decode B=64 fp32 views", "us/frame", "<= 10", lambda v: v <= 10),
    ("decode_b64_bf16_us_per_frame", "decode B=64 bf16 views", "us/frame", "<= 10", lambda v: v <= 10),
    ("decode_b1_device_us", "decode B=1: device stage", "us", "info", None),
    ("decode_b1_host_us", "decode B=1: host stage (1 thread)", "us", "info", None),
    ("decode_b1_call_us", "decode B=1: the call around them", "us", "info", None),
    ("decode_b1_cpu_backend_us", "decode B=1, cpu backend (host maps)", "us", "info", None),
    ("hbm_copy_GBps", "HBM copy bandwidth", "GB/s", "info", None),
    ("nms_gather_fp32_us_per_frame", "NMS+gather kernel fp32", "us/frame", "info", None),
    ("nms_gather_fp32_ratio_to_floor", "NMS+gather fp32 / bandwidth floor", "x", "<= 3", lambda v: v <= 3),
    ("nms_gather_bf16_us_per_frame", "NMS+gather kernel bf16", "us/frame", "info", None),
    ("nms_gather_bf16_ratio_to_floor", "NMS+gather bf16 / bandwidth floor", "x", "<= 3", lambda v: v <= 3),
    ("infer_bf16_frames_per_s", "paper net bf16 inference, B=64, 256px", "frames/s", ">= 2000", lambda v: v >= 2000),
    ("train_images_per_s", "paper net training step, 256px", "images/s", ">= 300", lambda v: v >= 300),
]
def verdict(value: str, goal: str) -> str:
    """PASS / FAIL for the rows of the shell steps; "" for information."""
    if goal == "ok":
        ok = value.startswith("ok")
    elif goal == "0":
        ok = value.strip() == "0"
    elif goal == "usable":
        ok = value == "usable"
    elif goal.startswith("0 failed"):
        ok = "passed" in value and " failed" not in value and "error" not in value and "timed out" not in value
    elif goal.startswith("0 errors"):
        ok = ("0 errors" in value or "0 hazards" in value) and "calls equal" in value and "(ok)" in value
    else:
        return ""
    return "PASS" if ok else "FAIL"


table = [[item, value, goal, verdict(value, goal)] for item, value, goal in rows]
for key, item, unit, goal, test in GOALS:
    v = bench.get(key)
    if isinstance(v, (int, float)):
        table.append([item, f"{v:.3g} {unit}", goal, "" if test is None else ("PASS" if test(v) else "MISS")])
    else:
        table.append([item, "not measured", goal, "MISS" if test else ""])
for key, v in bench.items():
    if key.endswith("_error"):
        table.append([f"gpu_bench {key[:-6]}", str(v), "no error", "FAIL"])
for key, v in pipeline.items():  # {preset}_b{B}_{inline_fps,pipelined_fps,speedup,same_poses,error}
    if key.endswith("_speedup") and isinstance(v, (int, float)):
        case = key[: -len("_speedup")]
        fps = f"{pipeline.get(case + '_inline_fps', float('nan')):.0f} -> {pipeline.get(case + '_pipelined_fps', float('nan')):.0f} frames/s"
        table.append([f"pipelined Predictor {case}", f"{v:.2f}x ({fps})", ">= 1", "PASS" if v >= 1 else "MISS"])
    elif key.endswith("_same_poses"):
        table.append([f"pipelined == in line {key[: -len('_same_poses')]}", str(v), "True", "PASS" if v is True else "FAIL"])
    elif key.endswith("_error"):
        table.append([f"gpu_pipeline {key[:-6]}", str(v), "no error", "FAIL"])
width = [max(len(r[i]) for r in table + [["item", "value", "goal", "verdict"]]) for i in range(4)]
width[1] = min(width[1], 110)
lines = ["  ".join(h.ljust(w) for h, w in zip(("item", "value", "goal", "verdict"), width)),
         "  ".join("-" * w for w in width)]
lines += ["  ".join(c[:w].ljust(w) if i == 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, width))) for r in table]
text = "\n".join(lines) + "\n"
print(text, end="")
open(out_path, "w").write(text)
EOF
echo "(logs and summary.txt in $OUT; $SECONDS s)"
exit 0

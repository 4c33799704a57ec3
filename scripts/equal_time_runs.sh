#!/usr/bin/env bash
# Equal-time training runs: calibrate s/step with 12 steps, then train BUDGET seconds' worth of steps
# (full short schedule), then eval on the fixed test set (100 scenes, default decoder settings).
# Usage: OUT=/tmp/acc BUDGET=240 scripts/equal_time_runs.sh > runs.jsonl   (docs/training.md)
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
BUDGET=${BUDGET:-240}
export OUT=${OUT:-/tmp/acc}
mkdir -p "$OUT"
COMMON="--model small --lr 1e-3 --max-people 4 --eval-every 0 --eval-scenes 8"
run() {
  name=$1; shift
  rm -rf $OUT/cal_$name $OUT/$name
  ssmp3d train --out $OUT/cal_$name $COMMON --steps 12 --checkpoint-every 1000 "$@" > $OUT/cal_$name.log 2>&1
  # the trainer's logged images/s of the calibration run
  ips=$(python - <<PY
import csv; rows=list(csv.DictReader(open("$OUT/cal_$name/log.csv"))); print(rows[-1]["images_per_s"])
PY
)
  bs=$(python -c "import sys; a=sys.argv[1:]; print(a[a.index('--batch-size')+1] if '--batch-size' in a else 8)" "$@")
  steps=$(python -c "print(max(20, int($BUDGET * $ips / $bs)))")
  t2=$(date +%s.%N)
  ssmp3d train --out $OUT/$name $COMMON --steps $steps --checkpoint-every $steps "$@" > $OUT/$name.log 2>&1
  t3=$(date +%s.%N)
  ssmp3d eval --checkpoint $OUT/$name/last.pt --scenes 100 --json > $OUT/$name.eval.json 2>/dev/null
  python - "$name" "$steps" "$bs" "$ips" "$(python -c "print($t3-$t2)")" "$*" <<'PY'
import json, os, sys
name, steps, bs, ips, secs, args = sys.argv[1:7]
r = json.load(open(os.path.join(os.environ["OUT"], f"{name}.eval.json")))
print(json.dumps({"name": name, "args": args, "steps": int(steps), "batch": int(bs), "cal_images_per_s": float(ips),
                  "train_s": float(secs), "report": r}))
PY
}
run base --batch-size 8 --scene-preset crowded
run in192 --batch-size 8 --scene-preset crowded --input-size 192
run stack1 --batch-size 8 --scene-preset crowded --stacks 1
run batch4 --batch-size 4 --scene-preset crowded
run sparse --batch-size 8 --scene-preset sparse
run head64 --batch-size 8 --scene-preset crowded --head-features 64

#!/usr/bin/env bash
# Builds the CPU extension ssmp3d._C with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the ops, decoder and fuzz (quick profile) tests against it. Exits non-zero on any sanitizer
# report or test failure.
#
#   scripts/sanitize.sh                       # tests/ops tests/decoding tests/fuzz
#   scripts/sanitize.sh tests/fuzz            # any pytest arguments instead of the default set
#
# Environment:
#   SANITIZE_DIR   build and report directory (default /tmp/ssmp3d-asan); the normal install is untouched
#   PYTHON         interpreter with torch, numpy, pybind11, pytest and hypothesis
#                  (default: .venv/bin/python of the repository, else python3)
#   CMAKE_BUILD_PARALLEL_LEVEL  build jobs (default 1)
#
# How: cmake builds ssmp3d._C (SSMP3D_CUDA=OFF) with -fsanitize=address,undefined,float-cast-overflow into
# $SANITIZE_DIR/build; a copy of src/python/ssmp3d with that module goes to $SANITIZE_DIR/site,
# first on PYTHONPATH. Python itself is not instrumented, so the ASan runtime is preloaded
# (LD_PRELOAD, with libstdc++ so that C++ exceptions thrown by torch are intercepted); leak detection is off (the interpreter never frees everything); undefined
# behaviour aborts (-fno-sanitize-recover). Reports go to $SANITIZE_DIR/reports/{asan,ubsan}.*.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${SANITIZE_DIR:-/tmp/ssmp3d-asan}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-1}"
if [[ $# -gt 0 ]]; then TESTS=("$@"); else TESTS=(tests/ops tests/decoding tests/fuzz); fi

SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow"
SAN="$SAN -fno-omit-frame-pointer -g"
CMAKE="$(dirname "$PYTHON")/cmake"
[[ -x "$CMAKE" ]] || CMAKE=cmake

mkdir -p "$DIR"
echo "== building ssmp3d._C with ASan + UBSan in $DIR/build"
"$CMAKE" -S "$ROOT" -B "$DIR/build" -DSSMP3D_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPython_EXECUTABLE="$PYTHON" -Dpybind11_DIR="$("$PYTHON" -m pybind11 --cmakedir)" \
  -DCMAKE_CXX_FLAGS="$SAN" -DCMAKE_MODULE_LINKER_FLAGS="$SAN" -DCMAKE_SHARED_LINKER_FLAGS="$SAN" \
  -DCMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF > "$DIR/cmake.log"
"$CMAKE" --build "$DIR/build" --target _C > "$DIR/build.log"

rm -rf "$DIR/site" "$DIR/reports"
mkdir -p "$DIR/site" "$DIR/reports"
cp -r "$ROOT/src/python/ssmp3d" "$DIR/site/ssmp3d"
find "$DIR/site/ssmp3d" -name '_C*.so' -delete
cp "$DIR"/build/_C*.so "$DIR/site/ssmp3d/"

# libstdc++ too: ASan resolves the real __cxa_throw when it starts, before Python would load it.
PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so):$(${CXX:-g++} -print-file-name=libstdc++.so)"
export LD_PRELOAD="$PRELOAD${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:log_path=$DIR/reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$DIR/reports/ubsan"
export PYTHONPATH="$DIR/site${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

"$PYTHON" - "$DIR/site" <<'EOF'
import subprocess, sys
import ssmp3d._C as c
assert c.__file__.startswith(sys.argv[1]), f"not the sanitized build: {c.__file__}"
ldd = subprocess.run(["ldd", c.__file__], capture_output=True, text=True).stdout
assert "libasan" in ldd and "libubsan" in ldd, ldd
print("== sanitized module:", c.__file__)
EOF

# Canary: a deliberate heap overflow through the raw-pointer interface must be reported, or the
# sanitizer is not live (and a clean run would prove nothing).
rm -rf "$DIR/canary" && mkdir -p "$DIR/canary"
ASAN_OPTIONS="${ASAN_OPTIONS%%:log_path=*}:log_path=$DIR/canary/asan" "$PYTHON" - <<'CANARY' || true
import numpy as np
import ssmp3d._C as c
maps = np.ones((1, 1, 4, 4), np.float32)
scores, indices, counts = np.empty(1, np.float32), np.empty(8, np.int64), np.empty(1, np.int32)  # M = 8 > 1
c.heatmap_nms_cpu(maps.ctypes.data, "float32", 1, 1, 4, 4, 0.5, 0, 8, scores.ctypes.data, indices.ctypes.data,
                  counts.ctypes.data, 1)
CANARY
if ! grep -qs "heap-buffer-overflow" "$DIR"/canary/asan.*; then
  echo "sanitize.sh: the canary overflow was not reported: AddressSanitizer is not active" >&2
  exit 2
fi
echo "== canary overflow reported: the sanitizers are live"

echo "== pytest ${TESTS[*]}"
set +e
(cd "$ROOT" && "$PYTHON" -m pytest -q -p no:cacheprovider "${TESTS[@]}" 2>&1 | tee "$DIR/pytest.log")
status=${PIPESTATUS[0]}
set -e

reports=$(find "$DIR/reports" -type f | wc -l)
summary=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$DIR/pytest.log" | tail -1 || true)
fuzz=$(grep -E '^fuzz: ' "$DIR/pytest.log" | tail -1 || true)
echo "== tests: ${summary:-none}"
echo "== ${fuzz:-fuzz: no cases}"
echo "== sanitizer findings: $reports report file(s) in $DIR/reports"
if [[ "$reports" -gt 0 ]]; then
  head -n 60 "$DIR"/reports/* >&2
  exit 1
fi
exit "$status"

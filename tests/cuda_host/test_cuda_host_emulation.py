"""The real CUDA kernel sources, run on the CPU by a host emulation, against the C++ CPU ops.

What it checks: the C++ harness in this folder compiles the kernels exactly
as the GPU build includes them (src/cuda/heatmap_nms_kernel.cuh,
nms_gather_kernel.cuh and nms_split.cuh with nms_block.cuh, readout_global.cuh,
encode_global.cuh) with g++ and cuda_shim.h, runs every CUDA thread of a
block as a std::thread with real barriers, and compares every output bit for
bit with the CPU ops of src/csrc on adversarial cases (check_*.cpp): ties
and plateaus, -0.0, NaN, +-inf, empty maps, more than 1024 peaks (radix
select), M up to 4096, radius 0..4, odd sizes, float32/float16/bfloat16.
Every NMS case also runs the split path of small batches (band kernel, then
the merge kernels, through a poisoned scratch buffer) with 2-16 bands, plus
split adversaries: plateaus and equal peaks across band borders, more peaks
in one band than M and than the key buffer, tiny maps with empty bands.

How work is split: session fixtures build the harness (cuda_host_build.py:
objects cached by source hash, two compiles at a time) normally and with
ThreadSanitizer; the tests run the binaries: all cases; the TSan build on
small cases; and mutants that prove the checks have teeth: one
``__syncthreads()`` of the NMS code skipped (TSan must see a race, or the
outputs must differ), each barrier of the split merge (nms_split.cuh) skipped,
and the NMS tie rule flipped in a copy of nms_block.cuh, or the merge's
band-order tie rule flipped in nms_split.cuh (the outputs must differ).
Barrier sites of nms_block.cuh / the kernels beyond the first three and the
flip of the later-pixel half of the rule are marked slow.

No GPU and no Python extension are needed; without g++ (C++20 atomic waits)
or the CUDA headers the tests skip with a one-line reason.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from cuda_host_build import (BASE_FLAGS, FAST_FLAGS, PROBE, TSAN_FLAGS, TSAN_WARNING, Builder,
                             barrier_sites, compiles, cuda_include, prepare_sources, run_harness)

# Barrier sites are numbered in source order (nms_block.cuh, then the
# kernels) when the test runs, so edits of nms_block.cuh do not break the
# parametrization. The first QUICK_SITES run in CI, the others with
# --run-slow; numbers past the last site skip.
QUICK_SITES = 3
MAX_SITES = 16
MUTANT_TIMEOUT_S = 60  # a mutant that hangs this long counts as detected
# Tie-rule mutants: (file, exact text, flipped text). Earlier pixels must be
# strictly lower, later ones lower or equal; each flip breaks one half.
TIE_FLIPS = {
    "window_loop": ("nms_block.cuh", "later ? !(h <= v) : !(h < v)",
                    "later ? !(h <= v) : !(h <= v)"),
    "r1_fast_path": ("nms_block.cuh", "load_f32(row - 1) < v && load_f32(row + 1) <= v",
                     "load_f32(row - 1) <= v && load_f32(row + 1) <= v"),
    "window_loop_later": ("nms_block.cuh", "later ? !(h <= v) : !(h < v)",
                          "later ? !(h < v) : !(h < v)"),
    # The split merge: on equal scores the band with lower rows comes first.
    "merge_band_order": ("nms_split.cuh", "t < s ? (key & kScoreBits)", "t > s ? (key & kScoreBits)"),
}
# The split merge's barriers (nms_split.cuh), each skipped in a quick test.
MERGE_FILE = "nms_split.cuh"
MAX_MERGE_SITES = 4
SLOW_FLIPS = {"window_loop_later"}


@pytest.fixture(scope="session")
def builder(tmp_path_factory) -> Builder:
    """A Builder for this session; skips without g++ (C++20) or the CUDA headers."""
    cxx = os.environ.get("CXX") or shutil.which("g++")
    if not cxx:
        pytest.skip("no g++ on PATH (set CXX)")
    inc = cuda_include()
    if inc is None:
        pytest.skip("no CUDA headers (cuda_fp16.h) under CUDA_HOME, /usr/local/cuda or nvcc's")
    work = tmp_path_factory.mktemp("cuda_host")
    if not compiles(cxx, (*BASE_FLAGS, "-O1"), PROBE, work / "probe"):
        pytest.skip(f"{cxx} cannot build C++20 std::atomic wait/notify with threads")
    return Builder(cxx, inc, work / "objects")


@pytest.fixture(scope="session")
def sources(builder) -> Path:
    """The kernel headers as the emulation compiles them."""
    return prepare_sources(builder.cache.parent / "plain" / "cuda")


@pytest.fixture(scope="session")
def harness(builder, sources) -> Path:
    return builder.build(sources, FAST_FLAGS, "harness")


@pytest.fixture(scope="session")
def tsan_harness(builder, sources) -> Path:
    if not compiles(builder.cxx, (*BASE_FLAGS, *TSAN_FLAGS), PROBE, builder.cache.parent / "tsan"):
        pytest.skip("ThreadSanitizer cannot build or run a threaded program here")
    return builder.build(sources, TSAN_FLAGS, "harness_tsan", plain_flags=FAST_FLAGS)


def _mismatch_lines(out: str, limit: int = 40) -> str:
    return "\n".join([line for line in out.splitlines() if line.startswith("MISMATCH")][:limit])


def _coverage(out: str, family: str) -> dict[str, int]:
    """The harness's "COVERAGE <family> name=value ..." line as a dict."""
    match = re.search(rf"^COVERAGE {family} (.*)$", out, re.M)
    assert match, f"no coverage line for {family}"
    return {k: int(v) for k, v in (item.split("=") for item in match.group(1).split())}


def test_kernels_equal_cpu_ops_bit_for_bit(harness):
    rc, out, counts = run_harness(harness)
    assert counts, f"no summary line:\n{out[-4000:]}"
    assert counts["mismatches"] == 0, _mismatch_lines(out)
    assert rc == 0, out[-4000:]
    assert counts["cases"] >= 300 and counts["checks"] >= 2500, counts  # the cases did run
    # The generators reach the hard paths: radix select, empty maps, every read-out rule.
    nms = _coverage(out, "nms")
    assert nms["radix_select"] >= 5 and nms["most_peaks"] > 4096 and nms["empty"] > 0, nms
    split = _coverage(out, "nms_split")
    assert split["runs"] >= 150 and split["staged"] > 0 and split["global"] > 0, split
    assert split["empty_bands"] > 0 and split["full_bands"] > 0 and split["radix_bands"] > 0, split
    assert split["mixed_maps"] > 50, split
    rules = _coverage(out, "readout rules")
    assert all(rules[r] > 0 for r in ("own", "limb", "neck", "pelvis", "mean", "root")), rules
    print(counts, nms, rules)


def test_thread_sanitizer_finds_no_race(tsan_harness):
    rc, out, counts = run_harness(tsan_harness, "--small")
    assert TSAN_WARNING not in out, out[out.index(TSAN_WARNING):][:6000]
    assert counts and counts["mismatches"] == 0, _mismatch_lines(out) or out[-4000:]
    assert rc == 0, out[-4000:]


def _noticed(rc: int, out: str, counts: dict[str, int]) -> str:
    """How a mutant was noticed ("" if it was not)."""
    if TSAN_WARNING in out:
        return f"{out.count(TSAN_WARNING)} TSan reports"
    if counts.get("mismatches", 0) > 0:
        return f"{counts['mismatches']} mismatching checks"
    if rc == -999:
        return "hang"
    if not counts and rc != 0:
        return f"crash (exit status {rc})"
    return ""


@pytest.mark.parametrize(
    "index", [pytest.param(i, marks=[pytest.mark.slow] if i >= QUICK_SITES else [])
              for i in range(MAX_SITES)])
def test_skipped_barrier_is_detected(tsan_harness, sources, index):
    sites = barrier_sites(sources)
    if index >= len(sites):
        pytest.skip(f"the NMS code has {len(sites)} barrier sites")
    site = sites[index]
    rc, out, counts = run_harness(tsan_harness, "--small", "--only", "nms", "--max-cases", "3",
                                  "--skip-barrier", site, timeout=MUTANT_TIMEOUT_S)
    assert not counts or counts["hits"] > 0, f"{site}: the mutation cases never reach it"
    how = _noticed(rc, out, counts)
    assert how, f"skipping the barrier at {site} went unnoticed (no race, no mismatch)"
    print(f"barrier {site} skipped: {how}")


@pytest.mark.parametrize("index", range(MAX_MERGE_SITES))
def test_skipped_merge_barrier_is_detected(tsan_harness, sources, index):
    sites = barrier_sites(sources, (MERGE_FILE,))
    if index >= len(sites):
        pytest.skip(f"{MERGE_FILE} has {len(sites)} barrier sites")
    site = sites[index]
    rc, out, counts = run_harness(tsan_harness, "--small", "--only", "nms", "--max-cases", "4",
                                  "--skip-barrier", site, timeout=MUTANT_TIMEOUT_S)
    assert not counts or counts["hits"] > 0, f"{site}: the mutation cases never reach it"
    how = _noticed(rc, out, counts)
    assert how, f"skipping the merge barrier at {site} went unnoticed (no race, no mismatch)"
    print(f"merge barrier {site} skipped: {how}")


def test_barrier_sites_are_found(sources):
    sites = barrier_sites(sources)
    assert len(sites) >= 4, sites  # block_nms has several; a parse failure would hide the mutants
    assert len(sites) <= MAX_SITES, f"raise MAX_SITES to {len(sites)}"
    merge = barrier_sites(sources, (MERGE_FILE,))
    assert 2 <= len(merge) <= MAX_MERGE_SITES, merge


@pytest.mark.parametrize(
    "flip", [pytest.param(f, marks=[pytest.mark.slow] if f in SLOW_FLIPS else [])
             for f in sorted(TIE_FLIPS)])
def test_tie_rule_flip_is_detected(builder, flip):
    mutant = prepare_sources(builder.cache.parent / f"tie-{flip}" / "cuda", TIE_FLIPS[flip])
    exe = builder.build(mutant, FAST_FLAGS, "harness")
    rc, out, counts = run_harness(exe, "--only", "nms", "--max-cases", "40",
                                  timeout=MUTANT_TIMEOUT_S)
    assert counts, f"no summary line:\n{out[-4000:]}"
    assert counts["mismatches"] > 0, f"flipping {TIE_FLIPS[flip][1]!r} went unnoticed"
    assert rc == 1
    print(f"tie flip {flip}: {counts['mismatches']} mismatching checks")

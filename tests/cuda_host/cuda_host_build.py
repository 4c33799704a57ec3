"""Build helpers of the CUDA host-emulation test (test_cuda_host_emulation.py).

Work split: prepare_sources copies the kernel headers with the one spelling
change the emulation needs (and an optional mutation); Builder compiles each
translation unit of the harness once per source hash, two at a time, and
links; run_harness runs a binary and parses its summary line.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SRC_CUDA = ROOT / "src" / "cuda"
SRC_CSRC = ROOT / "src" / "csrc"
HARNESS_SOURCES = ("emu_runtime.cpp", "harness_main.cpp", "check_shim.cpp", "check_nms.cpp",
                   "check_readout.cpp", "check_encode.cpp")
CPU_OPS = ("heatmap_nms.cpp", "nms_gather.cpp", "readout.cpp", "encode.cpp")
# Headers of the prepared kernel sources each family's translation unit includes.
FAMILY_HEADERS = {
    "check_nms.cpp": ("nms_block.cuh", "heatmap_nms", "nms_gather", "nms_split"),
    "check_readout.cpp": ("readout",),
    "check_encode.cpp": ("encode",),
}
DYNAMIC_SHARED = "extern __shared__"
NMS_KERNEL_HEADERS = ("heatmap_nms_kernel.cuh", "nms_gather_kernel.cuh", "nms_split.cuh")
BASE_FLAGS = ("-std=c++20", "-pthread", "-ffp-contract=off")  # no FMA: as nvcc --fmad=false
FAST_FLAGS = ("-O1",)
TSAN_FLAGS = ("-O1", "-g", "-fsanitize=thread")
SUMMARY = re.compile(r"cases=(\d+) checks=(\d+) mismatches=(\d+) skipped_barrier_hits=(\d+)")
TSAN_WARNING = "WARNING: ThreadSanitizer"
SEED = os.environ.get("SSMP3D_EMU_SEED", "1")


def cuda_include() -> Path | None:
    """The CUDA include directory (CUDA_HOME, /usr/local/cuda or nvcc's), if it has cuda_fp16.h."""
    roots = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"]
    nvcc = shutil.which("nvcc")
    if nvcc:
        roots.append(str(Path(nvcc).resolve().parents[1]))
    for root in filter(None, roots):
        inc = Path(root) / "include"
        if (inc / "cuda_fp16.h").is_file() and (inc / "vector_types.h").is_file():
            return inc
    return None


def compiles(cxx: str, flags: tuple[str, ...], code: str, workdir: Path) -> bool:
    """Whether `code` compiles, links and runs with exit status 0."""
    workdir.mkdir(parents=True, exist_ok=True)
    src, exe = workdir / "probe.cpp", workdir / "probe"
    src.write_text(code)
    try:
        subprocess.run([cxx, *flags, str(src), "-o", str(exe)], check=True, capture_output=True,
                       timeout=120)
        subprocess.run([str(exe)], check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return False
    return True


PROBE = """#include <atomic>
#include <thread>
int main() {
  std::atomic<int> a{0};
  std::thread t([&] { a.store(1); a.notify_all(); });
  a.wait(0);
  t.join();
  return a.load() == 1 ? 0 : 1;
}
"""


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(hashlib.sha256(p).digest())
    return h.hexdigest()[:20]


def prepare_sources(dst: Path, mutation: tuple[str, str, str] | None = None) -> Path:
    """Copies src/cuda/*.cuh to `dst` with dynamic shared memory spelled for the emulation.

    Args:
        dst: Directory to create.
        mutation: Optional (file name, exact old text, new text), applied exactly once.

    Returns:
        `dst`.
    """
    dst.mkdir(parents=True, exist_ok=True)
    for header in sorted(SRC_CUDA.glob("*.cuh")):
        text = header.read_text()
        if header.name in NMS_KERNEL_HEADERS and DYNAMIC_SHARED not in text:
            pytest.fail(f"{header.name}: expected {DYNAMIC_SHARED!r} (the key buffer); "
                        "update tests/cuda_host for the new spelling")
        text = text.replace(DYNAMIC_SHARED, "SSMP3D_EMU_DYNAMIC_SHARED")
        if mutation and mutation[0] == header.name:
            count = text.count(mutation[1])
            if count != 1:
                pytest.fail(f"mutation pattern {mutation[1]!r} occurs {count} times in "
                            f"{header.name} (expected exactly once): update the pattern")
            text = text.replace(mutation[1], mutation[2])
        (dst / header.name).write_text(text)
    return dst


class Builder:
    """Compiles and links harness variants, caching objects by source hash."""

    def __init__(self, cxx: str, cuda_include: Path, cache: Path):
        self.cxx, self.cuda_include, self.cache = cxx, cuda_include, cache
        cache.mkdir(parents=True, exist_ok=True)
        self.common = b"".join(p.read_bytes() for p in sorted(HERE.glob("*.h")))
        self.common += b"".join(p.read_bytes() for p in sorted(SRC_CSRC.glob("*.h")))

    def _object(self, source: Path, prepared: Path, flags: tuple[str, ...]) -> Path:
        deps = [source.read_bytes(), self.common, " ".join(flags).encode()]
        prefixes = FAMILY_HEADERS.get(source.name, ())
        deps += [p.read_bytes() for p in sorted(prepared.glob("*.cuh"))
                 if p.name.startswith(prefixes)]
        obj = self.cache / f"{source.stem}-{_digest(*deps)}.o"
        if not obj.exists():
            tmp = obj.with_suffix(f".{os.getpid()}.tmp.o")
            cmd = [self.cxx, *BASE_FLAGS, *flags, "-I", str(prepared), "-I", str(HERE), "-I",
                   str(SRC_CSRC), "-I", str(self.cuda_include), "-c", str(source), "-o", str(tmp)]
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if res.returncode:
                pytest.fail(f"g++ failed on {source.name}:\n{res.stderr[-6000:]}")
            tmp.replace(obj)
        return obj

    def build(self, prepared: Path, flags: tuple[str, ...], name: str,
              plain_flags: tuple[str, ...] | None = None) -> Path:
        """Compiles (two jobs at a time) and links the harness; returns the executable.

        Args:
            prepared: Kernel headers from prepare_sources.
            flags: Flags of the emulation and kernel translation units (and the link).
            plain_flags: If given, the CPU ops and main() are compiled with these
                instead (they run on one thread: no need to sanitize them).
            name: File name of the executable, next to `prepared`.
        """
        jobs = [(HERE / s, flags) for s in HARNESS_SOURCES if s != "harness_main.cpp"]
        rest = plain_flags if plain_flags is not None else flags
        jobs += [(HERE / "harness_main.cpp", rest)] + [(SRC_CSRC / s, rest) for s in CPU_OPS]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as ex:
            objects = list(ex.map(lambda job: self._object(job[0], prepared, job[1]), jobs))
        exe = prepared.parent / name
        res = subprocess.run([self.cxx, *BASE_FLAGS, *flags, *map(str, objects), "-o", str(exe)],
                             capture_output=True, text=True, timeout=600)
        if res.returncode:
            pytest.fail(f"linking {name} failed:\n{res.stderr[-6000:]}")
        return exe


def run_harness(exe: Path, *args: str, timeout: int = 300) -> tuple[int, str, dict[str, int]]:
    """Runs the harness; returns (exit status, stdout + stderr, summary counts).

    A run past `timeout` seconds is killed and reported as exit status -999.
    """
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=0 report_signal_unsafe=0")
    try:
        res = subprocess.run([str(exe), "--seed", SEED, *args], capture_output=True, text=True,
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        out = e.stdout or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        return -999, out + f"\n(killed after {timeout} s)", {}
    out = res.stdout + res.stderr
    m = SUMMARY.search(res.stdout)
    counts = dict(zip(("cases", "checks", "mismatches", "hits"), map(int, m.groups()))) if m else {}
    return res.returncode, out, counts


def barrier_sites(cuda_dir: Path, names: tuple[str, ...] | None = None) -> list[str]:
    """``file:line`` of every __syncthreads() of the NMS kernels (or of the files `names`), in source order."""
    sites = []
    for name in names or ("nms_block.cuh", *NMS_KERNEL_HEADERS):
        for i, line in enumerate((cuda_dir / name).read_text().splitlines(), 1):
            if "__syncthreads()" in line.split("//")[0]:
                sites.append(f"{name}:{i}")
    return sites

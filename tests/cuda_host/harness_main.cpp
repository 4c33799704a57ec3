// Entry point of the CUDA host-emulation harness (driven by
// tests/cuda_host/test_cuda_host_emulation.py).
//
//   harness [--seed N] [--small] [--only shim|nms|readout|encode]
//           [--max-cases N] [--skip-barrier FILE:LINE]
//
// Generates the cases from the seed, runs each emulated kernel and the CPU op
// on them, prints one line per check and at the end
// "cases=C checks=N mismatches=M skipped_barrier_hits=H". Exit status 0 when
// there are no mismatches, 1 otherwise, 2 on bad arguments.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "emu_runtime.h"
#include "harness.h"

int main(int argc, char** argv) {
  uint64_t seed = 1;
  harness::Scale scale = harness::Scale::kFull;
  std::string only;
  int max_cases = 1 << 30;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--seed" && has_value) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--small") {
      scale = harness::Scale::kSmall;
    } else if (a == "--only" && has_value) {
      only = argv[++i];
    } else if (a == "--max-cases" && has_value) {
      max_cases = std::atoi(argv[++i]);
    } else if (a == "--skip-barrier" && has_value) {
      emu::set_skip_barrier(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--seed N] [--small] [--only shim|nms|readout|encode] "
                           "[--max-cases N] [--skip-barrier FILE:LINE]\n", argv[0]);
      return 2;
    }
  }
  harness::Report rep;
  if (only.empty() || only == "shim") harness::run_shim_checks(rep);
  // Each family gets its own stream, so --only does not change the cases.
  if (only.empty() || only == "nms") {
    harness::Rng rng(seed * 3 + 0);
    harness::run_nms_checks(rep, rng, scale, max_cases);
  }
  if (only.empty() || only == "readout") {
    harness::Rng rng(seed * 3 + 1);
    harness::run_readout_checks(rep, rng, scale, max_cases);
  }
  if (only.empty() || only == "encode") {
    harness::Rng rng(seed * 3 + 2);
    harness::run_encode_checks(rep, rng, scale, max_cases);
  }
  std::printf("cases=%ld checks=%ld mismatches=%ld skipped_barrier_hits=%ld\n", rep.cases,
              rep.checks, rep.mismatches, emu::skipped_barrier_hits());
  return rep.mismatches ? 1 : 0;
}

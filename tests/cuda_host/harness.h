// Shared pieces of the CUDA host-emulation harness: the random source, the
// bitwise comparison that prints one line per check, and the per-family
// entry points (check_nms.cpp, check_readout.cpp, check_encode.cpp).
//
// Every check compares the emulated kernel's output array with the CPU op's
// (or, where the CPU op has no such output, with a value derived from the CPU
// op's outputs) byte for byte: float32 bit patterns, so -0.0 != +0.0 and a
// NaN must carry the same payload.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

namespace harness {

/// Case sizes: kFull for the main test, kSmall for ThreadSanitizer runs.
enum class Scale { kFull, kSmall };

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  /// Uniform in [0, 1).
  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(gen_); }
  /// Uniform integer in [lo, hi].
  int64_t randint(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen_);
  }
  bool chance(double p) { return uniform() < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(randint(0, static_cast<int64_t>(v.size()) - 1))];
  }

 private:
  std::mt19937_64 gen_;
};

/// Counts and prints checks: "CHECK <case> <what> n=<elements> ok" or
/// "MISMATCH <case> <what> n=<elements> bad=<count> first=<i> got=<hex> want=<hex>".
class Report {
 public:
  long cases = 0, checks = 0, mismatches = 0;

  /// Byte equality of n elements; with `nan_any`, two float NaNs are equal
  /// whatever their payloads.
  template <typename T>
  void check(const std::string& cas, const char* what, const T* got, const T* want, size_t n,
             bool nan_any = false) {
    ++checks;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; ++i) {
      if constexpr (std::is_floating_point_v<T>) {
        if (nan_any && got[i] != got[i] && want[i] != want[i]) continue;
      }
      if (std::memcmp(got + i, want + i, sizeof(T)) != 0) {
        if (!bad) first = i;
        ++bad;
      }
    }
    if (!bad) {
      std::printf("CHECK %s %s n=%zu ok\n", cas.c_str(), what, n);
      return;
    }
    ++mismatches;
    std::printf("MISMATCH %s %s n=%zu bad=%zu first=%zu got=%s want=%s\n", cas.c_str(), what, n,
                bad, first, hex(got[first]).c_str(), hex(want[first]).c_str());
  }
  template <typename T>
  void check(const std::string& cas, const char* what, const std::vector<T>& got,
             const std::vector<T>& want, bool nan_any = false) {
    if (got.size() != want.size()) {
      ++checks;
      ++mismatches;
      std::printf("MISMATCH %s %s size %zu != %zu\n", cas.c_str(), what, got.size(), want.size());
      return;
    }
    check(cas, what, got.data(), want.data(), got.size(), nan_any);
  }
  /// A scalar check (a count, a flag word).
  void check_value(const std::string& cas, const char* what, int64_t got, int64_t want) {
    check(cas, what, &got, &want, 1);
  }

 private:
  template <typename T>
  static std::string hex(const T& v) {
    uint64_t u = 0;
    std::memcpy(&u, &v, sizeof(T) < 8 ? sizeof(T) : 8);
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(u));
    return buf;
  }
};

/// Each runs the family's cases (at most `max_cases` of them, from the first).
void run_nms_checks(Report& rep, Rng& rng, Scale scale, int max_cases);
void run_readout_checks(Report& rep, Rng& rng, Scale scale, int max_cases);
void run_encode_checks(Report& rep, Rng& rng, Scale scale, int max_cases);
/// The emulation's own warp intrinsics and barrier (check_shim.cpp).
void run_shim_checks(Report& rep);

}  // namespace harness

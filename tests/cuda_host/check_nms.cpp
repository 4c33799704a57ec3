// Emulated heatmap_nms_kernel and nms_gather_kernel (src/cuda, through
// nms_block.cuh) against the CPU ops heatmap_nms_cpu and nms_gather_cpu, and
// the split path of small batches (nms_split.cuh: nms_band_kernel, then
// heatmap_nms_merge_kernel / nms_gather_merge_kernel through a scratch
// buffer) against the same CPU outputs, for every case.
//
// Cases: fixed adversarial ones (1x1, 1xW, Hx1, 7x13 at radius 0..4 and
// beyond the map, plateaus and constant maps for the tie rule, -0.0 / +0.0,
// NaN and +-inf, empty maps, 128x128 noise with ~1800 peaks at radius 1 and
// 16384 at radius 0 for the radix-select path, M up to 4096) and random ones,
// each in float32, float16 and bfloat16 and with B * K maps. Split runs: S
// bands from the rule of an H100-like device (132 SMs) when it splits, else
// a forced S in [2, 16] (bands of 0 or 1 rows on tiny maps), or the case's
// own S; adversarial split cases: plateaus and equal peaks straddling band
// borders, grids of equal peaks in every band (the merge's tie rule decides
// the cut), more peaks in one band than the key buffer, NaN, B * K = 1 with
// 16 bands, M = 4096 (merge reading the lists from global memory). For half types
// the CPU op gets the maps widened to float32 (exact; the kernels compare in
// float32 too). Compared: scores, indices, counts, NaN map count, gathered
// tags and ORPM values (mapped from the CPU's all-maps layout to the kernel's
// gather lists), refinement signs and flag words (derived from the CPU op's
// outputs and the maps).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "emu_runtime.h"
#include "harness.h"

// Dynamic shared memory of the NMS kernels (`extern __shared__ ... keys[]`,
// which the test's source copy spells SSMP3D_EMU_DYNAMIC_SHARED): at most
// nms_capacity(4096) keys.
namespace ssmp3d::cuda {
namespace {
unsigned long long keys[4096];
}  // namespace
}  // namespace ssmp3d::cuda

#include "heatmap_nms_kernel.cuh"
#include "nms_gather_kernel.cuh"
#include "nms_split.cuh"

#include "heatmap_nms.h"
#include "nms_gather.h"

namespace harness {
namespace {

using ssmp3d::cuda::GatherOutputs;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

enum Pattern { kNoise, kLevels, kConst, kZeros, kSpecials, kBelow, kBumps, kTiny, kPatterns,
               kBorders = kPatterns, kGrid };  // the last two only in the split cases
const char* const kPatternNames[] = {"noise", "levels", "const", "zeros", "specials", "below",
                                     "bumps", "tiny", "borders", "grid"};

struct Case {
  int dtype = 0;  // 0 float32, 1 float16, 2 bfloat16
  int B = 1, K = 1, H = 1, W = 1, D = 1;
  int64_t radius = 1, M = 8;
  double thr = 0.0;
  Pattern pat = kNoise;
  int levels = 3;
  int splits = 0;  // bands of the split run; 0: by the rule, else forced (see split_count)
};

constexpr int kRuleSms = 132;  // the split rule as on an H100 / H200

// Independent exact widening (the expected values do not use the CUDA headers).
float widen_half(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  uint32_t bits;
  if (e == 0x1F) {
    bits = sign | 0x7F800000u | (m << 13);
  } else if (e == 0) {
    const float v = std::ldexp(static_cast<float>(m), -24);
    return sign ? -v : v;
  } else {
    bits = sign | ((e + 112) << 23) | (m << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
float widen(float v) { return v; }
float widen(__half v) { return widen_half(emu::bit_cast<uint16_t>(v)); }
float widen(__nv_bfloat16 v) {
  return emu::bit_cast<float>(static_cast<uint32_t>(emu::bit_cast<uint16_t>(v)) << 16);
}
template <typename T>
T narrow(float v);
template <>
float narrow<float>(float v) { return v; }
template <>
__half narrow<__half>(float v) { return __float2half_rn(v); }
template <>
__nv_bfloat16 narrow<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

float heat_value(const Case& c, Rng& rng) {
  switch (c.pat) {
    case kNoise: return static_cast<float>(rng.uniform());
    case kLevels: return static_cast<float>(rng.randint(0, c.levels - 1)) / c.levels;
    case kConst: return 0.75f;
    case kZeros: return rng.chance(0.5) ? -0.0f : (rng.chance(0.9) ? 0.0f : -1.0f);
    case kSpecials: {
      const double u = rng.uniform();
      if (u < 0.04) return kNaN;
      if (u < 0.10) return kInf;
      if (u < 0.14) return -kInf;
      if (u < 0.20) return -0.0f;
      return static_cast<float>(rng.randint(0, 4)) / 4.0f;
    }
    case kBelow: return static_cast<float>(rng.uniform()) - 2.0f;
    case kTiny: return rng.chance(0.5) ? 1e-40f * static_cast<float>(rng.randint(0, 3)) : 6e-8f;
    default: return 0.0f;
  }
}

// Plateaus: a background of levels with 3x3 squares of one value stamped on it.
void stamp_bumps(const Case& c, Rng& rng, std::vector<float>& v) {
  const int HW = c.H * c.W;
  for (int m = 0; m < c.B * c.K; ++m) {
    for (int i = 0; i < HW; ++i) v[m * HW + i] = static_cast<float>(rng.randint(0, 1)) * 0.25f;
    for (int s = rng.randint(0, 4); s > 0; --s) {
      const int y0 = rng.randint(0, c.H - 1), x0 = rng.randint(0, c.W - 1);
      const float top = rng.chance(0.5) ? 0.5f : 1.0f;
      for (int y = y0; y < std::min(c.H, y0 + 3); ++y)
        for (int x = x0; x < std::min(c.W, x0 + 3); ++x) v[m * HW + y * c.W + x] = top;
    }
  }
}

// Split-path adversaries (bands of `band` rows): plateaus of 1.0, 2 rows by
// 3 columns, straddling every band border, on a background of 0.25 / 0.5
// with equal 0.75 peaks in every band (kBorders); or a grid of isolated
// equal peaks, every 3rd pixel of every 3rd row (kGrid), so that the M-cut
// and the order of the kept peaks fall on equal scores in different bands.
void stamp_borders(const Case& c, Rng& rng, std::vector<float>& v, int band) {
  const int HW = c.H * c.W;
  for (int m = 0; m < c.B * c.K; ++m) {
    float* map = v.data() + m * HW;
    for (int y = 0; y < c.H; ++y)
      for (int x = 0; x < c.W; ++x) {
        if (c.pat == kGrid) {
          map[y * c.W + x] = (y % 3 == 1 && x % 3 == 1) ? 0.75f : 0.0f;
        } else {
          map[y * c.W + x] = rng.chance(0.5) ? 0.25f : 0.5f;
          if (y % 4 == 2 && x % 5 == 2) map[y * c.W + x] = 0.75f;
        }
      }
    if (c.pat == kGrid) continue;
    for (int border = band; border < c.H; border += band)
      for (int x0 = static_cast<int>(rng.randint(0, 3)); x0 < c.W; x0 += 7)
        for (int y = border - 1; y <= border; ++y)
          for (int x = x0; x < std::min(c.W, x0 + 3); ++x) map[y * c.W + x] = 1.0f;
  }
}

float side_value(Rng& rng) {
  const double u = rng.uniform();
  if (u < 0.03) return kNaN;
  if (u < 0.05) return -0.0f;
  if (u < 0.06) return -kInf;
  return static_cast<float>(rng.uniform() * 4.0 - 2.0);
}

template <typename T>
void fill(size_t n, Rng& rng, float (*gen)(Rng&), std::vector<T>& dev, std::vector<float>& wide) {
  dev.resize(n);
  wide.resize(n);
  for (size_t i = 0; i < n; ++i) {
    dev[i] = narrow<T>(gen(rng));
    wide[i] = widen(dev[i]);
  }
}

int sign_of(float hi, float lo) { return (hi > lo) - (hi < lo); }

// Coverage over all cases: maps, maps with more peaks than the key buffer
// (block_nms's radix-select path), maps with no peak, most peaks in a map.
long maps_seen = 0, radix_maps = 0, empty_maps = 0, most_peaks = 0;
// Split runs: launches, merges with the lists staged in shared memory or
// read from global memory, empty bands, bands with more peaks than M and
// than the key buffer, maps whose kept peaks come from more than one band.
long split_runs = 0, staged_merges = 0, global_merges = 0, empty_bands = 0, full_bands = 0,
     radix_bands = 0, mixed_maps = 0;

/// Bands of the split run of case c (id: the case number).
int split_count(const Case& c, int id) {
  if (c.splits > 0) return c.splits;
  const int rule = ssmp3d::cuda::nms_split_count(static_cast<int64_t>(c.B) * c.K, c.H, kRuleSms);
  return rule > 1 ? rule : 2 + (id * 7) % 15;
}

// All the peaks of each map (the CPU op with M = H * W), for the coverage counts.
void count_peaks(const std::vector<float>& heat, int64_t BK, int64_t H, int64_t W, double thr,
                 int64_t radius, int capacity, int64_t M, int S) {
  const int64_t HW = H * W;
  std::vector<float> s(HW);
  std::vector<int64_t> id(HW);
  for (int64_t m = 0; m < BK; ++m) {
    int64_t nan = 0;
    const int32_t n = ssmp3d::heatmap_nms_slice<float>(heat.data() + m * HW, H, W,
                                                      ssmp3d::threshold_as<float>(thr),
                                                      std::min(radius, std::max(H, W)), HW,
                                                      s.data(), id.data(), &nan);
    ++maps_seen;
    radix_maps += n > capacity;
    empty_maps += n == 0;
    most_peaks = std::max<long>(most_peaks, n);
    // Peaks per band (id[] is in output order: the first M are the kept ones).
    std::vector<long> per_band(S, 0);
    std::vector<bool> kept_from(S, false);
    for (int32_t i = 0; i < n; ++i) {
      int band = 0;
      while (band + 1 < S && ssmp3d::cuda::band_row(band + 1, S, static_cast<int>(H)) * W <= id[i])
        ++band;
      ++per_band[band];
      if (i < M) kept_from[band] = true;
    }
    int sources = 0;
    for (int b = 0; b < S; ++b) {
      empty_bands += ssmp3d::cuda::band_row(b, S, static_cast<int>(H)) ==
                     ssmp3d::cuda::band_row(b + 1, S, static_cast<int>(H));
      full_bands += per_band[b] > M;
      radix_bands += per_band[b] > capacity;
      sources += kept_from[b];
    }
    mixed_maps += sources > 1;
  }
}

template <typename T>
void run_case(const Case& c, const std::string& name, Rng& rng, Report& rep, int S) {
  using namespace ssmp3d::cuda;
  const int64_t B = c.B, K = c.K, H = c.H, W = c.W, D = c.D, M = c.M, HW = H * W, BK = B * K;
  // Maps [B, K, H, W] in T, and widened to float32 for the CPU op.
  std::vector<float> raw(BK * HW);
  if (c.pat == kBumps) {
    stamp_bumps(c, rng, raw);
  } else if (c.pat >= kBorders) {
    stamp_borders(c, rng, raw, std::max(1, c.H / S));
  } else {
    for (auto& v : raw) v = heat_value(c, rng);
  }
  std::vector<T> heat(raw.size());
  std::vector<float> heat_w(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    heat[i] = narrow<T>(raw[i]);
    heat_w[i] = widen(heat[i]);
  }
  std::vector<T> tags, orpm;
  std::vector<float> tags_w, orpm_w;
  fill(BK * D * HW, rng, side_value, tags, tags_w);
  fill(BK * 3 * HW, rng, side_value, orpm, orpm_w);

  // Half of the cases (by size parity) hand the kernels the three inputs as
  // channel slices of one network-output-like buffer [B, K * (4 + D) + 1, H, W]
  // whose extra map per image is all NaN: read through MapLayout strides,
  // the results must not change and the NaN map must never be read.
  const T* kh = heat.data();
  const T* kt = tags.data();
  const T* ko = orpm.data();
  MapLayout L{K * HW, HW, K * D * HW, D * HW, HW, K * 3 * HW, 3 * HW, HW};
  std::vector<T> packed;
  if ((H + W) % 2 == 1) {
    const int64_t bs = (K * (4 + D) + 1) * HW;
    packed.assign(B * bs, narrow<T>(kNaN));
    for (int64_t b = 0; b < B; ++b) {
      std::copy(heat.begin() + b * K * HW, heat.begin() + (b + 1) * K * HW, packed.begin() + b * bs);
      std::copy(tags.begin() + b * K * D * HW, tags.begin() + (b + 1) * K * D * HW,
                packed.begin() + b * bs + K * HW);
      std::copy(orpm.begin() + b * K * 3 * HW, orpm.begin() + (b + 1) * K * 3 * HW,
                packed.begin() + b * bs + K * (1 + D) * HW);
    }
    kh = packed.data();
    kt = kh + K * HW;
    ko = kh + K * (1 + D) * HW;
    L = MapLayout{bs, HW, bs, D * HW, HW, bs, 3 * HW, HW};
  }

  const float thr = ssmp3d::threshold_as<float>(c.thr);
  const int r = clamp_radius(c.radius, H, W);
  const int capacity = nms_capacity(M);
  auto poison = [capacity] { std::memset(keys, 0xA5, sizeof(unsigned long long) * capacity); };

  // --- the CPU ops
  std::vector<float> cs(BK * M), ct(BK * M * D), co(BK * M * K * 3);
  std::vector<int64_t> ci(BK * M);
  std::vector<int32_t> cc(BK);
#if __has_include("map_strides.h")
  const auto hs = ssmp3d::MapStrides::contiguous(K, 1, HW);
  const auto ts = ssmp3d::MapStrides::contiguous(K, D, HW);
  const auto os = ssmp3d::MapStrides::contiguous(K, 3, HW);
  const int64_t cpu_nan = ssmp3d::heatmap_nms_cpu<float>(heat_w.data(), hs, B, K, H, W, c.thr,
                                                         c.radius, M, cs.data(), ci.data(),
                                                         cc.data(), 1);
#else
  const int64_t cpu_nan = ssmp3d::heatmap_nms_cpu<float>(heat_w.data(), B, K, H, W, c.thr,
                                                         c.radius, M, cs.data(), ci.data(),
                                                         cc.data(), 1);
#endif
  int64_t nan_pixels = 0, nan_maps = 0;
  std::vector<int32_t> map_nan(BK, 0);
  for (int64_t m = 0; m < BK; ++m) {
    for (int64_t i = 0; i < HW; ++i) map_nan[m] += std::isnan(heat_w[m * HW + i]);
    nan_pixels += map_nan[m];
    nan_maps += map_nan[m] > 0;
  }
  rep.check_value(name, "cpu_nan_pixels", cpu_nan, nan_pixels);
  count_peaks(heat_w, BK, H, W, c.thr, c.radius, capacity, M, S);

  // --- heatmap_nms_kernel
  std::vector<float> ks(BK * M, -7.0f);
  std::vector<int64_t> ki(BK * M, -7);
  std::vector<int32_t> kc(BK, -7);
  int32_t knan = 0;
  emu::launch(static_cast<unsigned>(BK), kNmsThreads, [&] {
    heatmap_nms_kernel<T>(kh, L.heat_b, L.heat_k, static_cast<int>(K), H, W, thr, r, M, capacity,
                          ks.data(), ki.data(), kc.data(), &knan);
  }, poison);
  rep.check(name, "nms.scores", ks, cs);
  rep.check(name, "nms.indices", ki, ci);
  rep.check(name, "nms.counts", kc, cc);
  rep.check_value(name, "nms.nan_maps", knan, nan_maps);

  // --- the split path: band kernel, then the merge kernels, through scratch
  // [BK, S, M] keys + [BK, S] words (poisoned: every word read must be written first).
  const int Mi = static_cast<int>(M);
  std::vector<unsigned char> scratch(ssmp3d::cuda::nms_scratch_bytes(BK, S, M), 0xA5);
  auto* band_keys = reinterpret_cast<unsigned long long*>(scratch.data());
  auto* band_info = reinterpret_cast<unsigned int*>(band_keys + BK * S * M);
  const bool stage = merge_stages(S, Mi);
  ++split_runs;
  stage ? ++staged_merges : ++global_merges;
  auto run_bands = [&] {
    emu::launch(static_cast<unsigned>(BK * S), kNmsThreads, [&] {
      nms_band_kernel<T>(kh, L.heat_b, L.heat_k, static_cast<int>(K), H, W, thr, r, Mi, capacity, S,
                         band_keys, band_info);
    }, poison);
  };
  run_bands();
  std::vector<float> ss(BK * M, -7.0f);
  std::vector<int64_t> si(BK * M, -7);
  std::vector<int32_t> sc(BK, -7);
  int32_t snan = 0;
  emu::launch(static_cast<unsigned>(BK), kNmsThreads, [&] {
    heatmap_nms_merge_kernel<T>(kh, L.heat_b, L.heat_k, static_cast<int>(K), Mi, S, stage, band_keys,
                                band_info, ss.data(), si.data(), sc.data(), &snan);
  }, poison);
  rep.check(name, "split.scores", ss, cs);
  rep.check(name, "split.indices", si, ci);
  rep.check(name, "split.counts", sc, cc);
  rep.check_value(name, "split.nan_maps", snan, nan_maps);

  // --- nms_gather_kernel, with random gather lists (empty ones and repeats too)
  std::vector<int32_t> start{0}, maps;
  for (int64_t k = 0; k < K; ++k) {
    const int64_t len = rng.chance(0.2) ? 0 : rng.randint(1, K);
    for (int64_t s = 0; s < len; ++s) maps.push_back(static_cast<int32_t>(rng.randint(0, K - 1)));
    start.push_back(static_cast<int32_t>(maps.size()));
  }
  const int64_t T_ = start[K];
  std::vector<float> gt(BK * M * D), go(BK * M * K * 3);
  std::vector<float> gs(BK * M);
  std::vector<int64_t> gi(BK * M);
  std::vector<int32_t> gc(BK);
#if __has_include("map_strides.h")
  ssmp3d::nms_gather_cpu(heat_w.data(), hs, tags_w.data(), ts, orpm_w.data(), os, B, K, H, W, D,
                         c.thr, c.radius, M, gs.data(), gi.data(), gc.data(), gt.data(), go.data(),
                         1);
#else
  ssmp3d::nms_gather_cpu(heat_w.data(), tags_w.data(), orpm_w.data(), B, K, H, W, D, c.thr,
                         c.radius, M, gs.data(), gi.data(), gc.data(), gt.data(), go.data(), 1);
#endif
  // Expected kernel-layout ORPM values, refinement signs and flags.
  std::vector<float> want_o(B * M * T_ * 3, 0.0f);
  std::vector<int8_t> want_ref(BK * M * 2, 0);
  std::vector<int32_t> want_flags(BK, 0);
  for (int64_t sl = 0; sl < BK; ++sl) {
    const int64_t b = sl / K, k = sl % K, len = start[k + 1] - start[k];
    if (map_nan[sl]) want_flags[sl] |= ssmp3d::cuda::kFlagHeatmapNaN;
    for (int64_t j = 0; j < gc[sl]; ++j) {
      const int64_t o = sl * M + j, idx = gi[o], y = idx / W, x = idx % W;
      const float* mp = heat_w.data() + sl * HW;
      if (x > 0 && x < W - 1)
        want_ref[2 * o] = static_cast<int8_t>(sign_of(mp[idx + 1], mp[idx - 1]));
      if (y > 0 && y < H - 1)
        want_ref[2 * o + 1] = static_cast<int8_t>(sign_of(mp[idx + W], mp[idx - W]));
      for (int64_t d = 0; d < D; ++d)
        if (std::isnan(gt[o * D + d])) want_flags[sl] |= ssmp3d::cuda::kFlagTagNaN;
      for (int64_t s = 0; s < len; ++s) {
        const int64_t m = maps[start[k] + s];
        for (int ch = 0; ch < 3; ++ch) {
          const float v = go[(o * K + m) * 3 + ch];
          want_o[b * M * T_ * 3 + ((start[k] * M + j * len + s) * 3 + ch)] = v;
          if (std::isnan(v)) want_flags[sl] |= ssmp3d::cuda::kFlagOrpmNaN;
        }
      }
    }
  }
  std::vector<float> kgs(BK * M, -7.0f), kgt(BK * M * D, -7.0f), kgo(B * M * T_ * 3, -7.0f);
  std::vector<int64_t> kgi(BK * M, -7);
  std::vector<int32_t> kgc(BK, -7), kgf(BK, -7);
  std::vector<int8_t> kref(BK * M * 2, 7);
  const bool with_refine = c.M % 2 == 0;  // also run without the optional output
  GatherOutputs out{kgs.data(), kgi.data(), kgc.data(), kgf.data(), kgt.data(),
                    T_ ? kgo.data() : nullptr, with_refine ? kref.data() : nullptr};
  emu::launch(static_cast<unsigned>(BK), kNmsThreads, [&] {
    nms_gather_kernel<T>(kh, kt, ko, L, K, H, W, D, thr, r, M, capacity,
                         start.data(), maps.data(), T_, out);
  }, poison);
  rep.check(name, "gather.scores", kgs, cs);
  rep.check(name, "gather.indices", kgi, ci);
  rep.check(name, "gather.counts", kgc, cc);
  // float16 NaNs: the device conversion (and CUDA's host mirror of it, which
  // the emulation runs) gives the canonical NaN 0x7FFFFFFF, while widening
  // keeps the payload; only NaN-ness is compared there.
  const bool nan_any = c.dtype == 1;
  rep.check(name, "gather.tags_at", kgt, gt, nan_any);
  rep.check(name, "gather.orpm_at", kgo, want_o, nan_any);
  rep.check(name, "gather.flags", kgf, want_flags);
  if (with_refine) rep.check(name, "gather.refine", kref, want_ref);

  // --- the split nms_gather: fresh band lists (scratch poisoned again), merge + gather.
  std::fill(scratch.begin(), scratch.end(), static_cast<unsigned char>(0xA5));
  run_bands();
  std::fill(kgs.begin(), kgs.end(), -7.0f);
  std::fill(kgt.begin(), kgt.end(), -7.0f);
  std::fill(kgo.begin(), kgo.end(), -7.0f);
  std::fill(kgi.begin(), kgi.end(), -7);
  std::fill(kgc.begin(), kgc.end(), -7);
  std::fill(kgf.begin(), kgf.end(), -7);
  std::fill(kref.begin(), kref.end(), 7);
  emu::launch(static_cast<unsigned>(BK), kNmsThreads, [&] {
    nms_gather_merge_kernel<T>(kh, kt, ko, L, K, H, W, D, Mi, S, stage, band_keys, band_info,
                               start.data(), maps.data(), T_, out);
  }, poison);
  rep.check(name, "split_gather.scores", kgs, cs);
  rep.check(name, "split_gather.indices", kgi, ci);
  rep.check(name, "split_gather.counts", kgc, cc);
  rep.check(name, "split_gather.tags_at", kgt, gt, nan_any);
  rep.check(name, "split_gather.orpm_at", kgo, want_o, nan_any);
  rep.check(name, "split_gather.flags", kgf, want_flags);
  if (with_refine) rep.check(name, "split_gather.refine", kref, want_ref);
  ++rep.cases;
}

void run(const Case& c, Rng& rng, Report& rep, int id) {
  const int S = split_count(c, id);
  char buf[160];
  std::snprintf(buf, sizeof buf, "nms#%d:%s:%s:B%dK%d:%dx%d:r%lld:M%lld:thr%g:S%d", id,
                c.dtype == 0 ? "f32" : c.dtype == 1 ? "f16" : "bf16", kPatternNames[c.pat], c.B,
                c.K, c.H, c.W, static_cast<long long>(c.radius), static_cast<long long>(c.M),
                c.thr, S);
  if (c.dtype == 0) run_case<float>(c, buf, rng, rep, S);
  if (c.dtype == 1) run_case<__half>(c, buf, rng, rep, S);
  if (c.dtype == 2) run_case<__nv_bfloat16>(c, buf, rng, rep, S);
}

// The split rule (heatmap_nms.cuh) at a few points.
void check_split_rule(Report& rep) {
  using ssmp3d::cuda::nms_split_count;
  rep.check_value("split_rule", "B1K19_128rows_132sms", nms_split_count(19, 128, 132), 14);
  rep.check_value("split_rule", "B1K1_128rows", nms_split_count(1, 128, 132), 16);
  rep.check_value("split_rule", "B1K1_40rows", nms_split_count(1, 40, 132), 5);
  rep.check_value("split_rule", "B1K19_15rows", nms_split_count(19, 15, 132), 1);
  rep.check_value("split_rule", "B8K19", nms_split_count(152, 128, 132), 1);
  rep.check_value("split_rule", "B4K19", nms_split_count(76, 128, 132), 4);
  rep.check_value("split_rule", "B1K19_108sms", nms_split_count(19, 128, 108), 12);
  rep.check_value("split_rule", "no_sms", nms_split_count(19, 128, 0), 1);
  rep.check_value("split_rule", "scratch_bytes", ssmp3d::cuda::nms_scratch_bytes(19, 14, 30),
                  19 * 14 * (30 * 8 + 4));
}

}  // namespace

void run_nms_checks(Report& rep, Rng& rng, Scale scale, int max_cases) {
  const bool full = scale == Scale::kFull;
  check_split_rule(rep);
  std::vector<Case> cases;
  auto add = [&](int dtype, int B, int K, int H, int W, int64_t radius, int64_t M, double thr,
                 Pattern pat, int levels = 3, int splits = 0) {
    Case c;
    c.dtype = dtype, c.B = B, c.K = K, c.H = H, c.W = W, c.radius = radius, c.M = M, c.thr = thr;
    c.pat = pat, c.levels = levels, c.D = 1 + (H + W) % 3, c.splits = splits;
    cases.push_back(c);
  };
  const double ninf = -std::numeric_limits<double>::infinity();
  if (!full) {
    // First, so that --max-cases keeps them: both paths of block_nms.
    add(0, 1, 1, 64, 64, 0, 16, 0.0, kNoise);        // 4096 peaks: radix select
    add(2, 1, 2, 32, 32, 1, 64, 0.0, kLevels, 3);     // plateaus, bitonic sort
    add(2, 1, 1, 48, 48, 0, 1024, 0.0, kLevels, 4);  // radix select over equal scores
    add(0, 1, 1, 32, 20, 1, 12, 0.0, kGrid, 3, 4);   // equal peaks in every band: merge tie rule
  }
  for (int dt = 0; dt < 3; ++dt) {
    // Odd shapes at every radius, plateaus: the tie rule in every direction.
    for (int64_t r = 0; r <= 4; ++r) {
      if (full || r == 1 || r == 2) add(dt, 1, 2, 7, 13, r, 16, 0.0, kLevels, 2);
      if (full) add(dt, 2, 1, 1, 17, r, 4, 0.1, kLevels, 3);
      if (full) add(dt, 1, 1, 17, 1, r, 5, 0.1, kLevels, 3);
    }
    add(dt, 1, 2, 9, 11, 1, 64, -0.5, kZeros);
    add(dt, 2, 2, 16, 16, 1, 32, -1.0, kSpecials);
    add(dt, 1, 2, 24, 19, 1, 16, 0.1, kBumps);
    if (!full) continue;
    add(dt, 1, 1, 1, 1, 0, 1, 0.0, kConst);
    add(dt, 1, 3, 1, 1, 3, 2, 0.0, kSpecials);
    add(dt, 1, 1, 12, 12, 2, 8, 0.5, kConst);
    add(dt, 1, 2, 9, 11, 100, 64, -0.5, kZeros);  // radius beyond the map: clamped
    add(dt, 1, 2, 16, 16, 2, 32, ninf, kSpecials);
    add(dt, 1, 2, 20, 20, 1, 8, 0.0, kBelow);  // no peaks
    add(dt, 1, 1, 8, 8, 1, 8, 0.0, kTiny);  // subnormals and the smallest half values
  }
  // Many peaks: radix select (peaks > capacity) and big bitonic sorts.
  if (full) {
    for (int64_t M : {1, 100, 1024}) add(0, 1, 1, 128, 128, 1, M, 0.0, kNoise);
    add(0, 1, 1, 128, 128, 1, 2048, 0.0, kNoise);
    add(0, 1, 1, 128, 128, 1, 4096, 0.0, kNoise);
    add(0, 1, 1, 128, 128, 0, 4096, 0.0, kNoise);  // 16384 peaks
    add(0, 1, 2, 128, 128, 1, 512, 0.0, kLevels, 64);  // equal scores in the radix path
    add(1, 1, 1, 128, 128, 1, 300, 0.0, kNoise);
    add(2, 1, 1, 128, 128, 1, 700, 0.0, kNoise);  // bfloat16: many equal scores
    add(0, 1, 1, 96, 96, 0, 1000, 0.0, kLevels, 4);  // radix select down to the index bytes
  }
  // The split path's own adversaries (S forced; S = 0: by the rule).
  for (int dt = 0; dt < 3; ++dt) {
    add(dt, 1, 2, 32, 21, 1, 8, 0.1, kBorders, 3, 4);     // plateaus straddling band borders
    add(dt, 1, 1, 30, 17, 1, 7, 0.0, kGrid, 3, 5);       // equal peaks, the M-cut in mid-grid
    add(dt, 1, 1, 64, 12, 2, 30, 0.0, kBorders, 3, 16);  // B*K = 1, 16 bands of 4 rows, r = 2
    if (!full) continue;
    add(dt, 1, 1, 3, 5, 1, 4, 0.0, kLevels, 2, 16);      // tiny map: 13 empty bands
    add(dt, 1, 1, 1, 1, 0, 1, 0.0, kConst, 3, 16);       // 1 x 1: 15 empty bands
    add(dt, 2, 2, 24, 9, 1, 30, -1.0, kSpecials, 3, 3);  // NaN / inf in several bands
    add(dt, 1, 2, 20, 20, 100, 5, 0.0, kLevels, 3, 6);   // radius beyond the map (clamped)
    add(dt, 1, 1, 40, 40, 1, 20, 0.1, kConst, 3, 5);     // one plateau over every band
  }
  if (full) {
    add(0, 1, 1, 128, 128, 1, 30, 0.0, kNoise);          // the rule: B*K = 1 -> 16 bands
    add(0, 1, 1, 96, 128, 0, 30, 0.0, kNoise, 3, 4);     // 3072 peaks per band: band radix select
    add(0, 1, 1, 64, 64, 0, 4096, 0.0, kNoise, 3, 2);    // M = 4096: merge from global memory
    add(0, 1, 1, 80, 64, 1, 1000, 0.0, kLevels, 5, 3);   // (S + 1) * M = 4000: staged, big
    add(2, 1, 2, 48, 48, 0, 300, 0.0, kGrid, 3, 7);      // bfloat16 grid, many equal peaks
  }
  // Random cases.
  const int n_random = full ? 60 : 3;
  for (int i = 0; i < n_random; ++i) {
    const int H = static_cast<int>(rng.randint(1, full ? 40 : 16));
    const int W = static_cast<int>(rng.randint(1, full ? 40 : 16));
    const Pattern pat = static_cast<Pattern>(rng.randint(0, kPatterns - 1));
    add(static_cast<int>(rng.randint(0, 2)), static_cast<int>(rng.randint(1, 2)),
        static_cast<int>(rng.randint(1, 3)), H, W, rng.randint(0, 4),
        rng.pick(std::vector<int64_t>{1, 3, 8, 30, 257}),
        rng.pick(std::vector<double>{0.0, 0.3, -1.0, ninf}),
        pat, static_cast<int>(rng.randint(2, 6)));
  }
  const size_t n = std::min(cases.size(), static_cast<size_t>(max_cases));
  for (size_t i = 0; i < n; ++i) run(cases[i], rng, rep, static_cast<int>(i));
  std::printf("COVERAGE nms maps=%ld radix_select=%ld empty=%ld most_peaks=%ld\n", maps_seen,
              radix_maps, empty_maps, most_peaks);
  std::printf("COVERAGE nms_split runs=%ld staged=%ld global=%ld empty_bands=%ld full_bands=%ld "
              "radix_bands=%ld mixed_maps=%ld\n", split_runs, staged_merges, global_merges,
              empty_bands, full_bands, radix_bands, mixed_maps);
}

}  // namespace harness

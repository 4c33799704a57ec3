// Emulated target-encoder kernels (heatmaps_kernel, orpm_kernel,
// tag_maps_kernel of src/cuda/encode_global.cuh, thread bodies in
// encode_kernels.cuh) against the CPU encoders of src/csrc/encode.cpp.
//
// Cases: joints on pixel centres, on rounding boundaries (x.5, -0.5,
// W - 0.5) and outside the map, invalid joints with NaN coordinates, depth
// ties and -0.0 / +0.0 (the last-writer rule), chains with -1 entries, N = 0,
// 1 x 1 and 1 x W maps, radius 0 .. 4 and beyond the map, several sigmas.
// Compared bit for bit: heatmaps, ORPM maps and weights, tag maps.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "emu_runtime.h"
#include "harness.h"

// encode_kernels.cuh defines its own __forceinline__ for host compilers.
#undef __forceinline__
#include "encode_global.cuh"

#include "encode.h"

namespace harness {
namespace {

double coordinate(Rng& rng, int64_t n) {
  const double u = rng.uniform();
  if (u < 0.25) return static_cast<double>(rng.randint(0, n - 1));         // pixel centre
  if (u < 0.45) return static_cast<double>(rng.randint(-1, n)) + 0.5;      // rounding boundary
  if (u < 0.50) return static_cast<double>(rng.randint(-3, n + 3));        // maybe outside
  return rng.uniform() * (n + 1.0) - 1.0;
}

void run_case(Rng& rng, Report& rep, int id, bool full) {
  using namespace ssmp3d::cuda;
  const int64_t B = rng.randint(1, 2), N = rng.chance(0.1) ? 0 : rng.randint(1, full ? 6 : 3);
  const int64_t K = rng.randint(1, 4), C = rng.randint(1, 4);
  const int64_t H = rng.chance(0.1) ? 1 : rng.randint(1, full ? 24 : 9);
  const int64_t W = rng.chance(0.1) ? 1 : rng.randint(1, full ? 24 : 9);
  const int64_t radius = rng.chance(0.1) ? 1000 : rng.randint(0, 4);
  const double sigma = rng.pick(std::vector<double>{0.5, 1.0, 2.0, 2.678150910658624, 0.3, 7.9});

  std::vector<double> joints(B * N * K * 2), depth(B * N);
  std::vector<uint8_t> valid(B * N * K), bones_valid(B * N * K);
  std::vector<float> bones(B * N * K * 3), tags(B * N);
  std::vector<int64_t> chains(K * C);
  for (int64_t j = 0; j < B * N * K; ++j) {
    valid[j] = rng.chance(0.8);
    bones_valid[j] = rng.chance(0.8) ? 1 : 0;
    joints[2 * j] = valid[j] || rng.chance(0.5) ? coordinate(rng, W) : NAN;
    joints[2 * j + 1] = valid[j] || rng.chance(0.5) ? coordinate(rng, H) : NAN;
    for (int c = 0; c < 3; ++c)
      bones[3 * j + c] = rng.chance(0.1) ? -0.0f : static_cast<float>(rng.uniform() - 0.5);
  }
  for (auto& d : depth) d = rng.pick(std::vector<double>{1.0, 2.0, 2.0, 0.0, -0.0, 3.5});
  for (auto& t : tags) t = static_cast<float>(rng.randint(0, 9)) * 3.0f + 1.0f;
  for (auto& c : chains) c = rng.chance(0.3) ? -1 : rng.randint(0, K - 1);
  const double* jp = N ? joints.data() : nullptr;

  char buf[128];
  std::snprintf(buf, sizeof buf, "encode#%d:B%lldN%lldK%lldC%lld:%lldx%lld:r%lld:s%g", id,
                (long long)B, (long long)N, (long long)K, (long long)C, (long long)H,
                (long long)W, (long long)radius, sigma);
  const std::string name = buf;
  const int64_t total = B * K * H * W;
  const unsigned grid = static_cast<unsigned>((total + kThreads - 1) / kThreads);

  // Heatmaps.
  std::vector<float> ch(total), kh(total, -7.0f);
  ssmp3d::encode_heatmaps_cpu(jp, valid.data(), B, N, K, H, W, sigma, ch.data(), 1);
  const kernels::HeatmapArgs ha =
      kernels::heatmap_args(jp, valid.data(), kh.data(), N, K, H, W, sigma);
  emu::launch(grid, kThreads, [&] { heatmaps_kernel(ha, total); });
  rep.check(name, "heatmaps", kh, ch);

  // ORPM maps and weights.
  std::vector<float> co(total * 3), cw(total), ko(total * 3, -7.0f), kw(total, -7.0f);
  ssmp3d::encode_orpm_cpu(jp, bones.data(), valid.data(), bones_valid.data(), depth.data(),
                          chains.data(), B, N, K, C, H, W, radius, co.data(), cw.data(), 1);
  const kernels::OrpmArgs oa{jp, bones.data(), valid.data(), bones_valid.data(), depth.data(),
                             chains.data(), ko.data(), kw.data(), N, K, C, H, W,
                             kernels::disc_r2(radius, H, W)};
  emu::launch(grid, kThreads, [&] { orpm_kernel(oa, total); });
  rep.check(name, "orpm", ko, co);
  rep.check(name, "orpm_weight", kw, cw);

  // Tag maps.
  std::vector<float> ct(total), kt(total, -7.0f);
  ssmp3d::encode_tag_maps_cpu(jp, valid.data(), depth.data(), tags.data(), B, N, K, H, W, radius,
                              ct.data(), 1);
  const kernels::TagArgs ta{jp, valid.data(), depth.data(), tags.data(), kt.data(), N, K, H, W,
                            kernels::disc_r2(radius, H, W)};
  emu::launch(grid, kThreads, [&] { tag_maps_kernel(ta, total); });
  rep.check(name, "tags", kt, ct);
  ++rep.cases;
}

}  // namespace

void run_encode_checks(Report& rep, Rng& rng, Scale scale, int max_cases) {
  const int n = std::min(max_cases, scale == Scale::kFull ? 80 : 5);
  for (int i = 0; i < n; ++i) run_case(rng, rep, i, scale == Scale::kFull);
}

}  // namespace harness

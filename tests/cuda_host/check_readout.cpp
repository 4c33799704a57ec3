// Emulated orpm_readout_kernel (src/cuda/readout_global.cuh, thread body in
// readout_kernel.cuh) against the CPU op orpm_readout_cpu (src/csrc/readout.cpp).
//
// Cases: random skeletons (K = 1 .. 32, a random tree rooted at the pelvis,
// read-out chains "joint, two ancestors, neck, pelvis" and the matching
// read-out sets), small maps so that crowding happens, scores equal to the
// threshold, NaN scores and ORPM values, rows past num_formed and people
// slots past num_people holding garbage, naive and chain modes, mean bones
// from the packed skeleton and from a "device" array. Compared: joints3d
// (float32 bits), rule, joint, the NaN count and the bad-input word (0).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "emu_runtime.h"
#include "harness.h"

#include "readout_global.cuh"

#include "heatmap_nms.h"  // threshold_as
#include "readout.h"

namespace harness {
namespace {

struct Skeleton {
  int64_t K, neck, pelvis;
  std::vector<int64_t> table;  // [2 + 2K, K]
};

Skeleton random_skeleton(Rng& rng, int64_t K) {
  Skeleton s{K, 0, rng.randint(0, K - 1), std::vector<int64_t>((2 + 2 * K) * K, -1)};
  s.neck = K > 1 ? (s.pelvis + rng.randint(1, K - 1)) % K : s.pelvis;
  int64_t* parents = s.table.data();
  int64_t* topo = parents + K;
  int64_t* chains = parents + 2 * K;
  int64_t* sets = parents + (2 + K) * K;
  std::vector<int64_t> rest;
  for (int64_t j = 0; j < K; ++j)
    if (j != s.pelvis) rest.push_back(j);
  for (size_t i = rest.size(); i > 1; --i) std::swap(rest[i - 1], rest[rng.randint(0, i - 1)]);
  topo[0] = s.pelvis;
  parents[s.pelvis] = -1;
  for (int64_t i = 1; i < K; ++i) {
    topo[i] = rest[i - 1];
    parents[topo[i]] = topo[rng.randint(0, i - 1)];
  }
  for (int64_t m = 0; m < K; ++m) {
    std::vector<int64_t> chain{m};
    for (int64_t a = parents[m], n = 0; a >= 0 && n < 2; a = parents[a], ++n) chain.push_back(a);
    chain.push_back(s.neck);
    chain.push_back(s.pelvis);
    int64_t len = 0;
    for (int64_t l : chain) {
      bool seen = false;
      for (int64_t c = 0; c < len; ++c) seen |= chains[m * K + c] == l;
      if (seen) continue;
      chains[m * K + len++] = l;
      sets[m * K + l] = 1;
    }
    for (int64_t l = 0; l < K; ++l)
      if (sets[m * K + l] != 1) sets[m * K + l] = 0;
  }
  return s;
}

// Rules the CPU op chose over all cases ([rule + 1]: none, own, limb, neck, pelvis, mean, root).
long rule_seen[7] = {};

void run_case(Rng& rng, Report& rep, int id, bool full) {
  using namespace ssmp3d::cuda;
  const int64_t K = rng.chance(0.15) ? 32 : rng.randint(1, full ? 20 : 8);
  const int64_t B = rng.randint(1, 3), Q = rng.randint(1, full ? 9 : 4), P = rng.randint(1, 6);
  const int64_t H = rng.randint(1, 14), W = rng.randint(1, 14);
  const bool naive = rng.chance(0.25), dev_mean = rng.chance(0.5);
  const double thr =
      rng.pick(std::vector<double>{0.1, 0.0, 0.5, -std::numeric_limits<double>::infinity()});
  const double dist = rng.pick(std::vector<double>{3.0, 0.0, 1.5, std::sqrt(2.0), 2.0, 1e9});
  const Skeleton sk = random_skeleton(rng, K);
  const float thr32 = ssmp3d::threshold_as<float>(thr);

  std::vector<float> orpm(B * K * 3 * H * W), scores(B * Q * K), mean(K * 3);
  std::vector<int64_t> pos(B * Q * K * 2), num_formed(B), people(B * P), num_people(B);
  std::vector<uint8_t> det(B * Q * K);
  for (auto& v : orpm) v = rng.chance(0.02) ? NAN : static_cast<float>(rng.uniform() - 0.5);
  for (auto& v : mean) v = rng.chance(0.1) ? -0.0f : static_cast<float>(rng.uniform() - 0.5);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t nf = rng.randint(0, Q), np = rng.randint(0, std::min(P, nf));
    num_formed[b] = nf;
    num_people[b] = np;
    for (int64_t q = 0; q < Q; ++q) {
      for (int64_t l = 0; l < K; ++l) {
        const int64_t j = (b * Q + q) * K + l;
        det[j] = rng.chance(0.8);
        const bool garbage = q >= nf || (!det[j] && rng.chance(0.3));
        pos[2 * j] = garbage ? rng.randint(-5, 100) : rng.randint(0, W - 1);
        pos[2 * j + 1] = garbage ? rng.randint(-5, 100) : rng.randint(0, H - 1);
        const double u = rng.uniform();
        scores[j] = u < 0.15 ? thr32 : u < 0.2 ? NAN : static_cast<float>(rng.uniform());
      }
    }
    std::vector<int64_t> perm(nf);
    for (int64_t q = 0; q < nf; ++q) perm[q] = q;
    for (int64_t i = nf; i > 1; --i) std::swap(perm[i - 1], perm[rng.randint(0, i - 1)]);
    for (int64_t s = 0; s < P; ++s) people[b * P + s] = s < np ? perm[s] : rng.randint(-3, 50);
  }

  // The CPU op.
  const auto tables = ssmp3d::SkeletonTables::from_table(sk.table.data(), K, sk.neck, sk.pelvis);
  ssmp3d::ReadoutParams rp;
  rp.naive = naive;
  rp.readout_threshold = thr32;
  rp.readout_min_dist = dist;
  std::vector<float> cx(B * P * K * 3);
  std::vector<int8_t> cr(B * P * K);
  std::vector<int16_t> cj(B * P * K);
  const int64_t cpu_nans = ssmp3d::orpm_readout_cpu(
      tables, rp, B, Q, P, H, W, orpm.data(), pos.data(), scores.data(), det.data(),
      num_formed.data(), people.data(), num_people.data(), mean.data(), cx.data(), cr.data(),
      cj.data(), 1);

  // The kernel, set up as orpm_readout_cuda does.
  ReadoutSkeleton packed;
  const char* err = pack_readout_skeleton(sk.table.data(), K, sk.neck, sk.pelvis,
                                          dev_mean ? nullptr : mean.data(), &packed);
  const std::string name = "readout#" + std::to_string(id) + ":K" + std::to_string(K) + ":B" +
                           std::to_string(B) + "Q" + std::to_string(Q) + "P" + std::to_string(P) +
                           (naive ? ":naive" : ":chain") + (dev_mean ? ":devmean" : ":hostmean");
  rep.check_value(name, "skeleton_ok", *err == 0 && *tables.check() == 0, 1);
  const int64_t S = std::max(P, Q);
  std::vector<float> kx(B * P * K * 3, -7.0f);
  std::vector<int8_t> kr(B * P * K, 7);
  std::vector<int16_t> kj(B * P * K, 7);
  int32_t status[2] = {0, 0};
  const ReadoutArgs args{orpm.data(), pos.data(), scores.data(), det.data(), num_formed.data(),
                         people.data(), num_people.data(), dev_mean ? mean.data() : nullptr,
                         kx.data(), kr.data(), kj.data(), B, Q, P, H, W, S,
                         readout_threshold_f32(thr), dist * dist, naive};
  const int64_t n = B * S;
  emu::launch(static_cast<unsigned>((n + kThreads - 1) / kThreads), kThreads,
              [&] { orpm_readout_kernel(packed, args, status); });
  for (const int8_t r : cr) ++rule_seen[r + 1];
  rep.check(name, "joints3d", kx, cx);
  rep.check(name, "rule", kr, cr);
  rep.check(name, "joint", kj, cj);
  rep.check_value(name, "nan_count", status[0], cpu_nans);
  rep.check_value(name, "bad_bits", status[1], 0);
  ++rep.cases;
}

}  // namespace

void run_readout_checks(Report& rep, Rng& rng, Scale scale, int max_cases) {
  const int n = std::min(max_cases, scale == Scale::kFull ? 150 : 8);
  for (int i = 0; i < n; ++i) run_case(rng, rep, i, scale == Scale::kFull);
  std::printf("COVERAGE readout rules none=%ld own=%ld limb=%ld neck=%ld pelvis=%ld mean=%ld "
              "root=%ld\n",
              rule_seen[0], rule_seen[1], rule_seen[2], rule_seen[3], rule_seen[4], rule_seen[5],
              rule_seen[6]);
}

}  // namespace harness

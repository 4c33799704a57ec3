// The fused CPU decoder; see decode.h for the contract.
//
// Work split: images are independent. Threads (the caller plus up to
// num_threads-1 std::threads) claim whole images from an atomic counter
// (parallel.h); each owns one ImageScratch, reused across its images, and
// writes only its images' output rows. A failing image (NaN) records its
// index in an atomic minimum per kind and gets padding outputs.
#include "decode.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "heatmap_nms.h"
#include "parallel.h"

namespace ssmp3d {

namespace {

struct ImageScratch {
  std::vector<float> scores;     // [K, M]
  std::vector<int64_t> indices;  // [K, M]
  std::vector<int32_t> counts;   // [K]
  std::vector<double> tags;      // [K, M, D]
  GroupScratch group_scratch;
  Grouping grouping;
  std::vector<int64_t> pos;      // [Q, K, 2]
  std::vector<float> jscores;    // [Q, K]
  std::vector<uint8_t> det;      // [Q, K]
  std::vector<int64_t> people;   // kept rows
  ReadoutScratch readout;
};

void atomic_min(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load(std::memory_order_relaxed);
  while (v < cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

// Quarter-pixel shift toward the larger neighbour (reference.py: candidate_coords).
inline double refined(double c, float lo, float hi, bool inner) {
  if (!inner) return c;
  return c + 0.25 * (static_cast<double>(hi > lo) - static_cast<double>(hi < lo));
}

}  // namespace

DecodeStatus decode_cpu(const float* heatmaps, const float* tags, const float* orpm, int64_t B,
                        int64_t H, int64_t W, const DecodeParams& params,
                        const SkeletonTables& skeleton, const float* mean_bones,
                        const DecodeOutputs& out, int num_threads) {
  const GroupParams& gp = params.group;
  const int64_t K = gp.K, M = gp.M, D = gp.D, P = gp.max_people, HW = H * W;
  const float thr = threshold_as<float>(params.det_threshold);
  const int64_t radius = std::min(params.radius, std::max(H, W));
  std::atomic<int64_t> first_bad[4];
  for (auto& f : first_bad) f.store(B, std::memory_order_relaxed);

  parallel_items<ImageScratch>(B, thread_count(num_threads, B), [&](int64_t b, ImageScratch& s) {
    const float* hm = heatmaps + b * K * HW;
    int64_t n = 0;
    int kind = 0;
    // 1. NMS per joint.
    s.scores.resize(K * M);
    s.indices.resize(K * M);
    s.counts.resize(K);
    int64_t nan_heat = 0;
    for (int64_t k = 0; k < K; ++k)
      s.counts[k] = heatmap_nms_slice(hm + k * HW, H, W, thr, radius, M, s.scores.data() + k * M,
                                      s.indices.data() + k * M, &nan_heat);
    if (nan_heat) kind = 1;
    // 2. Tags at the candidates.
    if (!kind) {
      s.tags.assign(K * M * D, 0.0);
      const float* tg = tags + b * K * D * HW;
      for (int64_t k = 0; k < K && !kind; ++k) {
        for (int64_t r = 0; r < s.counts[k]; ++r) {
          const int64_t q = s.indices[k * M + r];
          for (int64_t d = 0; d < D; ++d) {
            const float v = tg[(k * D + d) * HW + q];
            if (std::isnan(v)) kind = 2;
            s.tags[(k * M + r) * D + d] = static_cast<double>(v);
          }
        }
      }
    }
    // 3. Group.
    if (!kind) {
      group_image(gp, s.scores.data(), s.tags.data(), s.counts.data(), s.group_scratch,
                  s.grouping);
      const Grouping& g = s.grouping;
      n = static_cast<int64_t>(g.kept.size());
      // 4. Read out (every formed person takes part in the validity test).
      if (n > 0) {
        const int64_t Q = g.Q;
        s.pos.assign(Q * K * 2, 0);
        s.jscores.assign(Q * K, 0.0f);
        s.det.assign(Q * K, 0);
        for (int64_t i = 0; i < Q * K; ++i) {
          const int32_t r = g.assignment[i];
          if (r < 0) continue;
          const int64_t c = (i % K) * M + r;
          s.pos[2 * i] = s.indices[c] % W;
          s.pos[2 * i + 1] = s.indices[c] / W;
          s.jscores[i] = s.scores[c];
          s.det[i] = 1;
        }
        s.people.assign(g.kept.begin(), g.kept.end());
        const int64_t nans = readout_image(
            skeleton, params.readout, Q, s.pos.data(), s.jscores.data(), s.det.data(),
            s.people.data(), n, orpm + b * K * 3 * HW, H, W, mean_bones, s.readout,
            out.joints3d + b * P * K * 3, out.rule + b * P * K, out.joint + b * P * K);
        if (nans) kind = 3;
      }
    }
    if (kind) {
      atomic_min(first_bad[kind], b);
      n = 0;
    }
    // 5. Outputs of the kept people, then padding.
    const Grouping& g = s.grouping;
    for (int64_t p = 0; p < n; ++p) {
      const int64_t q = g.kept[p];
      const int64_t o = (b * P + p) * K;
      for (int64_t k = 0; k < K; ++k) {
        const int32_t r = g.assignment[q * K + k];
        double* xy = out.coords + 2 * (o + k);
        if (r < 0) {
          out.scores[o + k] = 0.0f;
          out.detected[o + k] = 0;
          out.peaks[o + k] = -1;
          xy[0] = xy[1] = std::numeric_limits<double>::quiet_NaN();
          continue;
        }
        const int64_t flat = s.indices[k * M + r], x = flat % W, y = flat / W;
        out.scores[o + k] = s.scores[k * M + r];
        out.detected[o + k] = 1;
        out.peaks[o + k] = flat;
        double fx = static_cast<double>(x), fy = static_cast<double>(y);
        if (params.refine) {
          const float* row = hm + k * HW + y * W;
          fx = refined(fx, row[std::max<int64_t>(x - 1, 0)], row[std::min(x + 1, W - 1)],
                       x > 0 && x < W - 1);
          fy = refined(fy, row[x - (y > 0 ? W : 0)], row[x + (y < H - 1 ? W : 0)],
                       y > 0 && y < H - 1);
        }
        xy[0] = fx;
        xy[1] = fy;
      }
      out.person_scores[b * P + p] = static_cast<float>(g.score[q]);
      std::copy(g.tag.begin() + q * D, g.tag.begin() + (q + 1) * D, out.tags + (b * P + p) * D);
    }
    const int64_t o = b * P * K;
    std::fill(out.coords + 2 * (o + n * K), out.coords + 2 * (o + P * K),
              std::numeric_limits<double>::quiet_NaN());
    std::fill(out.scores + o + n * K, out.scores + o + P * K, 0.0f);
    std::fill(out.detected + o + n * K, out.detected + o + P * K, uint8_t{0});
    std::fill(out.peaks + o + n * K, out.peaks + o + P * K, int64_t{-1});
    std::fill(out.joints3d + 3 * (o + n * K), out.joints3d + 3 * (o + P * K), 0.0f);
    std::fill(out.rule + o + n * K, out.rule + o + P * K, int8_t{kRuleNone});
    std::fill(out.joint + o + n * K, out.joint + o + P * K, int16_t{-1});
    std::fill(out.person_scores + b * P + n, out.person_scores + (b + 1) * P, 0.0f);
    std::fill(out.tags + (b * P + n) * D, out.tags + (b + 1) * P * D, 0.0);
    out.num_people[b] = static_cast<int32_t>(n);
  });

  DecodeStatus st;
  if (first_bad[1].load() < B) {
    st.kind = 1;
    st.image = first_bad[1].load();
  } else if (std::min(first_bad[2].load(), first_bad[3].load()) < B) {
    st.kind = first_bad[2].load() < first_bad[3].load() ? 2 : 3;
    st.image = std::min(first_bad[2].load(), first_bad[3].load());
  }
  return st;
}

}  // namespace ssmp3d

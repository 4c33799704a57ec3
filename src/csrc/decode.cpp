// The fused CPU decoder; see decode.h for the contract.
//
// Work split: images are independent (their maps found through the inputs'
// strides and element types, map_strides.h, so network-output views, float16
// and bfloat16 included, are read in place). Threads (the caller plus up to
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

#include "decode_image.h"
#include "heatmap_nms.h"
#include "parallel.h"

namespace ssmp3d {

namespace {

// Quarter-pixel shift toward the larger neighbour (reference.py: candidate_coords).
inline double refined(double c, int sign) { return c + 0.25 * static_cast<double>(sign); }

inline int shift_sign(float lo, float hi) { return (hi > lo) - (hi < lo); }

}  // namespace

void atomic_min(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load(std::memory_order_relaxed);
  while (v < cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

DecodeStatus status_of(std::atomic<int64_t> (&first_bad)[4], int64_t B) {
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

void pad_image(const DecodeParams& params, int64_t b, const DecodeOutputs& out) {
  const int64_t K = params.group.K, D = params.group.D, P = params.group.max_people;
  const int64_t o = b * P * K;
  std::fill(out.coords + 2 * o, out.coords + 2 * (o + P * K),
            std::numeric_limits<double>::quiet_NaN());
  std::fill(out.scores + o, out.scores + o + P * K, 0.0f);
  std::fill(out.detected + o, out.detected + o + P * K, uint8_t{0});
  std::fill(out.peaks + o, out.peaks + o + P * K, int64_t{-1});
  std::fill(out.joints3d + 3 * o, out.joints3d + 3 * (o + P * K), 0.0f);
  std::fill(out.rule + o, out.rule + o + P * K, int8_t{kRuleNone});
  std::fill(out.joint + o, out.joint + o + P * K, int16_t{-1});
  std::fill(out.person_scores + b * P, out.person_scores + (b + 1) * P, 0.0f);
  std::fill(out.tags + b * P * D, out.tags + (b + 1) * P * D, 0.0);
  out.num_people[b] = 0;
}

int finish_image(const DecodeParams& params, const SkeletonTables& skeleton,
                 const float* mean_bones, const ImageCandidates& c, OrpmSource src, int64_t b,
                 int64_t W, ImageScratch& s, const DecodeOutputs& out) {
  const GroupParams& gp = params.group;
  const int64_t K = gp.K, M = gp.M, D = gp.D, P = gp.max_people;
  // Group.
  group_image(gp, c.scores, c.tags, c.counts, c.indices, s.group_scratch, s.grouping);
  const Grouping& g = s.grouping;
  const int64_t n = static_cast<int64_t>(g.kept.size());
  // Read out (every formed person takes part in the validity test); 2D-only
  // decoding gives the people NaN 3D joints and no read-out rule.
  if (n > 0 && params.readout.none) {
    std::fill(out.joints3d + b * P * K * 3, out.joints3d + (b * P + n) * K * 3,
              std::numeric_limits<float>::quiet_NaN());
    std::fill(out.rule + b * P * K, out.rule + (b * P + n) * K, int8_t{kRuleNone});
    std::fill(out.joint + b * P * K, out.joint + (b * P + n) * K, int16_t{-1});
  } else if (n > 0) {
    const int64_t Q = g.Q;
    s.pos.assign(Q * K * 2, 0);
    s.jscores.assign(Q * K, 0.0f);
    s.det.assign(Q * K, 0);
    for (int64_t i = 0; i < Q * K; ++i) {
      const int32_t r = g.assignment[i];
      if (r < 0) continue;
      const int64_t ci = (i % K) * M + r;
      s.pos[2 * i] = c.indices[ci] % W;
      s.pos[2 * i + 1] = c.indices[ci] / W;
      s.jscores[i] = c.scores[ci];
      s.det[i] = 1;
    }
    s.people.assign(g.kept.begin(), g.kept.end());
    src.ranks = g.assignment.data();
    const int64_t nans = readout_image(skeleton, params.readout, Q, s.pos.data(), s.jscores.data(),
                                       s.det.data(), s.people.data(), n, src, mean_bones,
                                       s.readout, out.joints3d + b * P * K * 3,
                                       out.rule + b * P * K, out.joint + b * P * K);
    if (nans) {
      pad_image(params, b, out);
      return 3;
    }
  }
  // Outputs of the kept people, then padding.
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
      const int64_t flat = c.indices[k * M + r], x = flat % W, y = flat / W;
      out.scores[o + k] = c.scores[k * M + r];
      out.detected[o + k] = 1;
      out.peaks[o + k] = flat;
      double fx = static_cast<double>(x), fy = static_cast<double>(y);
      if (params.refine) {
        const int sx = c.refine[2 * (k * M + r)];
        const int sy = c.refine[2 * (k * M + r) + 1];
        fx = refined(fx, sx);
        fy = refined(fy, sy);
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
  return 0;
}

DecodeStatus decode_cpu(const void* heatmaps, const MapStrides& hs, const void* tags,
                        const MapStrides& ts, const void* orpm, const MapStrides& os, int64_t B,
                        int64_t H, int64_t W, const DecodeParams& params,
                        const SkeletonTables& skeleton, const float* mean_bones,
                        const DecodeOutputs& out, int num_threads) {
  const GroupParams& gp = params.group;
  const int64_t K = gp.K, M = gp.M, D = gp.D, HW = H * W;
  const float thr = threshold_as<float>(params.det_threshold);
  const int64_t radius = std::min(params.radius, std::max(H, W));
  std::atomic<int64_t> first_bad[4];
  for (auto& f : first_bad) f.store(B, std::memory_order_relaxed);

  parallel_items<ImageScratch>(B, thread_count(num_threads, B), [&](int64_t b, ImageScratch& s) {
    int kind = 0;
    // 1. NMS per joint. float32 maps are read in place; a float16 / bfloat16
    // map is widened into s.heat first. The candidates' refinement signs are
    // taken while the map is in cache (the grouping comes after all joints).
    s.scores.resize(K * M);
    s.indices.resize(K * M);
    s.counts.resize(K);
    s.refine.resize(K * M * 2);
    const bool wide = hs.type == MapType::kFloat32;
    if (!wide) s.heat.resize(HW);
    int64_t nan_heat = 0;
    for (int64_t k = 0; k < K; ++k) {
      const void* map = hs.map_at(heatmaps, b, k);
      const float* hm = static_cast<const float*>(map);
      if (!wide) {
        widen_map(map, hs.type, HW, s.heat.data());
        hm = s.heat.data();
      }
      const int32_t n = heatmap_nms_slice(hm, H, W, thr, radius, M, s.scores.data() + k * M,
                                          s.indices.data() + k * M, &nan_heat);
      s.counts[k] = n;
      // The tags at these candidates are read after the last joint's NMS:
      // ask for their cache lines now, while the scan of the next maps runs.
      for (int64_t d = 0; d < D; ++d) {
        const char* tag_map = static_cast<const char*>(ts.map_at(tags, b, k, d));
        const int64_t size = map_type_size(ts.type);
        for (int32_t r = 0; r < n; ++r) __builtin_prefetch(tag_map + s.indices[k * M + r] * size, 0, 3);
      }
      if (params.refine) {
        for (int32_t r = 0; r < n; ++r) {
          const int64_t q = s.indices[k * M + r], x = q % W, y = q / W;
          const float* row = hm + y * W;
          int8_t* sign = s.refine.data() + 2 * (k * M + r);
          sign[0] = (x > 0 && x < W - 1) ? static_cast<int8_t>(shift_sign(row[x - 1], row[x + 1])) : 0;
          sign[1] = (y > 0 && y < H - 1) ? static_cast<int8_t>(shift_sign(row[x - W], row[x + W])) : 0;
        }
      }
    }
    if (nan_heat) kind = 1;
    // 2. Tags at the candidates.
    if (!kind) {
      s.tags.assign(K * M * D, 0.0);
      for (int64_t k = 0; k < K && !kind; ++k) {
        for (int64_t r = 0; r < s.counts[k]; ++r) {
          const int64_t q = s.indices[k * M + r];
          for (int64_t d = 0; d < D; ++d) {
            const float v = ts.load(ts.map_at(tags, b, k, d), q);
            if (std::isnan(v)) kind = 2;
            s.tags[(k * M + r) * D + d] = static_cast<double>(v);
          }
        }
      }
    }
    // 3-5. Group, read out, write the rows.
    if (!kind) {
      ImageCandidates c;
      c.scores = s.scores.data();
      c.indices = s.indices.data();
      c.counts = s.counts.data();
      c.tags = s.tags.data();
      c.refine = s.refine.data();
      OrpmSource src{orpm ? os.map_at(orpm, b, 0) : nullptr, H, W, os.type};
      src.joint_stride = os.joint;
      src.channel_stride = os.channel;
      kind = finish_image(params, skeleton, mean_bones, c, src, b, W, s, out);
    } else {
      pad_image(params, b, out);
    }
    if (kind) atomic_min(first_bad[kind], b);
  });
  return status_of(first_bad, B);
}

}  // namespace ssmp3d

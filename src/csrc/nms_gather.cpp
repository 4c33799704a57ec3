// Fused NMS + gather; see nms_gather.h for the contract.
//
// Work split: the B*K (image, joint) slices are independent (each map is
// found through its strides, map_strides.h; a float16 / bfloat16 heatmap is
// widened into the thread's scratch before its NMS). Threads claim
// whole slices from an atomic counter (parallel.h); each runs the NMS of its
// slice's heatmap, then gathers that slice's tags and the ORPM vectors of
// all K maps of the same image at the slice's peaks, and writes only its
// slice's outputs. NaN counts are summed atomically at the end of a slice.
#include "nms_gather.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "heatmap_nms.h"
#include "parallel.h"

namespace ssmp3d {

namespace {
constexpr int64_t kMinPixelsPerThread = 1 << 15;  // below this a thread costs more than it saves
}  // namespace

NanCounts nms_gather_cpu(const void* heatmaps, const MapStrides& hs, const void* tags,
                         const MapStrides& ts, const void* orpm, const MapStrides& os, int64_t B,
                         int64_t K, int64_t H, int64_t W, int64_t D, double threshold,
                         int64_t radius, int64_t max_candidates, float* scores, int64_t* indices,
                         int32_t* counts, float* tags_at, float* orpm_at, int num_threads) {
  NanCounts total;
  const int64_t slices = B * K, HW = H * W, M = max_candidates;
  if (slices <= 0 || HW <= 0) return total;
  const float thr = threshold_as<float>(threshold);
  radius = std::min(radius, std::max(H, W));
  std::atomic<int64_t> nan_heat{0}, nan_tags{0}, nan_orpm{0};
  const int64_t threads =
      thread_count(num_threads, slices, std::max<int64_t>(1, slices * HW / kMinPixelsPerThread));
  parallel_items<std::vector<float>>(slices, threads, [&](int64_t sl, std::vector<float>& heat) {
    const int64_t b = sl / K, k = sl % K;
    int64_t nh = 0, nt = 0, no = 0;
    float* sc = scores + sl * M;
    int64_t* id = indices + sl * M;
    const void* map = hs.map_at(heatmaps, b, k);
    const float* hm = static_cast<const float*>(map);
    if (hs.type != MapType::kFloat32) {  // widened into this thread's scratch, one map at a time
      heat.resize(HW);
      widen_map(map, hs.type, HW, heat.data());
      hm = heat.data();
    }
    const int32_t n = heatmap_nms_slice(hm, H, W, thr, radius, M, sc, id, &nh);
    counts[sl] = n;
    float* ta = tags_at + sl * M * D;
    float* oa = orpm_at + sl * M * K * 3;
    for (int64_t r = 0; r < n; ++r) {
      const int64_t q = id[r];
      for (int64_t d = 0; d < D; ++d) {
        const float v = ts.load(ts.map_at(tags, b, k, d), q);
        nt += std::isnan(v);
        ta[r * D + d] = v;
      }
      for (int64_t m = 0; m < K * 3; ++m) {  // m = map * 3 + component
        const float v = os.load(os.map_at(orpm, b, m / 3, m % 3), q);
        no += std::isnan(v);
        oa[r * K * 3 + m] = v;
      }
    }
    std::fill(ta + n * D, ta + M * D, 0.0f);
    std::fill(oa + n * K * 3, oa + M * K * 3, 0.0f);
    if (nh) nan_heat.fetch_add(nh, std::memory_order_relaxed);
    if (nt) nan_tags.fetch_add(nt, std::memory_order_relaxed);
    if (no) nan_orpm.fetch_add(no, std::memory_order_relaxed);
  });
  total.heatmaps = nan_heat.load();
  total.tags = nan_tags.load();
  total.orpm = nan_orpm.load();
  return total;
}

}  // namespace ssmp3d

// Fused heatmap NMS + gather on the CPU (DESIGN.md sections 6.1-6.2). No libtorch.
//
// One pass per (image, joint): the NMS of heatmap_nms_slice<float> (exact tie
// rules, top M by score desc then flat index asc), then, at each kept peak,
// the D tags of that joint's tag maps and the ORPM vectors of every map m
// (all K of them: a fixed, skeleton-independent superset of what read-out
// needs). Padding after the kept peaks: score 0, index -1, tags 0, ORPM 0.
#pragma once

#include <cstdint>

#include "map_strides.h"

namespace ssmp3d {

struct NanCounts {
  int64_t heatmaps = 0;  // NaN pixels anywhere in the heatmaps
  int64_t tags = 0;      // NaN values gathered from the tag maps
  int64_t orpm = 0;      // NaN values gathered from the ORPM maps
};

/// heatmaps [B, K, H, W], tags [B, K, D, H, W], orpm [B, K, 3, H, W],
/// float32, float16 or bfloat16 (each its own `type`; widened to float32 as
/// read) with each [H, W] map contiguous, found through `hs`, `ts` and `os`
/// (map_strides.h; the tags' channel stride steps over d, the ORPM's over
/// the 3 components). Outputs (contiguous, caller-allocated): scores
/// [B, K, M] float32, indices [B, K, M] int64, counts [B, K] int32,
/// tags_at [B, K, M, D] float32, orpm_at [B, K, M, K, 3] float32.
/// `threshold` is rounded to float32 (threshold_as<float>). num_threads:
/// 0 = hardware concurrency. Returns the NaN counts (gathered values are
/// copied as they are).
NanCounts nms_gather_cpu(const void* heatmaps, const MapStrides& hs, const void* tags,
                         const MapStrides& ts, const void* orpm, const MapStrides& os, int64_t B,
                         int64_t K, int64_t H, int64_t W, int64_t D, double threshold,
                         int64_t radius, int64_t max_candidates, float* scores, int64_t* indices,
                         int32_t* counts, float* tags_at, float* orpm_at, int num_threads);

}  // namespace ssmp3d

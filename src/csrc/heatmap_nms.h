// Heatmap non-maximum suppression on the CPU (DESIGN.md section 6.1). No libtorch.
//
// Pixel q of a [H, W] map is a peak iff h[q] > threshold and every other pixel
// p of the (2r+1)^2 window around q, clipped at the border, has h[p] < h[q], or
// h[p] == h[q] and flat(p) > flat(q) (flat = y * W + x). The top M peaks are
// kept, ordered by score descending, then flat index ascending.
#pragma once

#include <cstdint>

#include "map_strides.h"

namespace ssmp3d {

/// `threshold` rounded to the map dtype T the way torch and numpy cast a
/// Python float for `tensor > threshold`: IEEE round to nearest even, finite
/// values beyond the range of T going to +-inf (no undefined behaviour).
template <typename T>
T threshold_as(double threshold) noexcept;

/// NMS of one contiguous [H, W] map.
///
/// Writes `scores[0, M)` and `indices[0, M)` (score 0 / index -1 padding after
/// the kept peaks), adds the number of NaN pixels of the map to `*nan_count`
/// (NaN pixels are never peaks and never let a neighbour be one) and returns
/// the number of kept peaks, min(number of peaks, M).
template <typename T>
int32_t heatmap_nms_slice(const T* map, int64_t H, int64_t W, T threshold, int64_t radius,
                          int64_t max_candidates, T* scores, int64_t* indices,
                          int64_t* nan_count) noexcept;

/// NMS of heatmaps [B, K, H, W] (T = float or double) whose [H, W] maps are
/// each contiguous; map (b, k) starts at strides.map(heatmaps, b, k).
///
/// Outputs (contiguous, caller-allocated): scores [B, K, M] (dtype T),
/// indices [B, K, M] int64, counts [B, K] int32. `threshold` is rounded to T
/// with threshold_as<T>. `num_threads`: 0 = hardware concurrency, 1 = run on
/// the calling thread; fewer threads are used when there is little work.
/// Returns the number of NaN values seen (the outputs are then meaningless
/// but well defined). Never throws for lack of threads (runs inline instead).
template <typename T>
int64_t heatmap_nms_cpu(const T* heatmaps, const MapStrides& strides, int64_t B, int64_t K,
                        int64_t H, int64_t W, double threshold, int64_t radius, int64_t max_candidates, T* scores,
                        int64_t* indices, int32_t* counts, int num_threads);

/// The same for float32, float16 or bfloat16 heatmaps (`strides.type`):
/// float32 runs the template above; the narrow types are widened exactly,
/// one map at a time, into a per-thread float32 scratch and compared in
/// float32 (threshold_as<float>), so they find what their float32 copies
/// would. Scores [B, K, M] are float32 (the widened values).
int64_t heatmap_nms_cpu(const void* heatmaps, const MapStrides& strides, int64_t B, int64_t K, int64_t H,
                        int64_t W, double threshold, int64_t radius, int64_t max_candidates, float* scores,
                        int64_t* indices, int32_t* counts, int num_threads);

}  // namespace ssmp3d

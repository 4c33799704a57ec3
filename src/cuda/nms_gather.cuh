// Fused heatmap NMS + gather on the GPU (DESIGN.md sections 6.1-6.2).
// Host-side declarations only (the pybind11 glue includes this).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "heatmap_nms.cuh"

namespace ssmp3d {
namespace cuda {

/// Flags per (b, k) map written by nms_gather_cuda.
enum GatherFlag : int32_t {
  kFlagHeatmapNaN = 1,  // the heatmap contains a NaN (outputs of that map undefined)
  kFlagTagNaN = 2,      // a tag gathered at a kept peak is NaN
  kFlagOrpmNaN = 4,     // an ORPM value gathered at a kept peak is NaN
};

/// Device outputs of nms_gather_cuda (caller-allocated, contiguous, fully
/// written; padding after the kept peaks: score 0, index -1, tags 0, ORPM 0,
/// refinement 0). T = gather_start[K] gathered maps in all.
struct GatherOutputs {
  float* scores;        // [B, K, M] the heatmap values widened to float32
  int64_t* indices;     // [B, K, M] flat y*W+x
  int32_t* counts;      // [B, K] kept peaks
  int32_t* flags;       // [B, K] GatherFlag bits
  float* tags_at;       // [B, K, M, D] tags[b, k, d, y, x] at peak (b, k, r)
  float* orpm_at;       // [B, M * T, 3]: peak r of joint k, its s-th map, at
                        //   ((gather_start[k] * M + r * L_k + s) * 3 + c), L_k = list length
  int8_t* refine;       // [B, K, M, 2] sign (-1, 0, 1) of the quarter-pixel shift in x, y;
                        //   may be null (not written)
};

/// Enqueues, for every (image b, joint k), the NMS of heatmap_nms_cuda and,
/// at each kept peak, the gather of its D tags, of the ORPM vectors of the
/// maps gather_maps[gather_start[k] .. gather_start[k+1]) and of the
/// refinement signs (toward the larger 4-neighbour, none on ties or at the
/// border), on `stream`, with no host synchronisation.
///
/// heatmaps [B, K, H, W], tags [B, K, D, H, W], orpm [B, K, 3, H, W]:
/// device arrays of one MapDtype whose [H, W] maps are contiguous, found
/// through `layout` (heatmap_nms.cuh). gather_start [K + 1] and
/// gather_maps [gather_start[K]] are int32 device arrays (map ids in [0, K)).
/// Requirements as heatmap_nms_cuda, plus 1 <= D and M * gather_start[K] * 3
/// < 2^31. `splits` and `scratch` as for heatmap_nms_cuda: S > 1 runs the band
/// kernel, then the merge kernel that also gathers (nms_split.cuh); the
/// outputs do not depend on S. Returns the launch status.
cudaError_t nms_gather_cuda(const void* heatmaps, const void* tags, const void* orpm,
                            const MapLayout& layout, MapDtype dtype, int64_t B, int64_t K, int64_t H, int64_t W, int64_t D,
                            double threshold, int64_t radius, int64_t max_candidates,
                            const int32_t* gather_start, const int32_t* gather_maps,
                            int64_t total_maps, const GatherOutputs& out, int splits,
                            void* scratch, cudaStream_t stream) noexcept;

}  // namespace cuda
}  // namespace ssmp3d

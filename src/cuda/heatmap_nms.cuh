// Heatmap NMS on the GPU (DESIGN.md section 6.1): same contract as
// src/csrc/heatmap_nms.h. Host-side declarations only, so the pybind11 glue
// can be compiled by the host compiler.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ssmp3d {
namespace cuda {

/// Largest max_candidates the kernels accept (their shared-memory key buffer
/// holds max(1024, next_pow2(M)) 64-bit keys, 32 KiB at this bound).
constexpr int64_t kMaxCandidates = 4096;

/// Element type of device maps.
enum class MapDtype : int { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

/// Where the kernels find each [H, W] map (contiguous itself) of their inputs:
/// element strides of the batch and joint dimensions of the heatmaps, of the
/// batch, joint and tag-dimension ones of the tags, of the batch, joint and
/// component ones of the ORPM maps. The non-contiguous channel slices of one
/// network output [B, K * (4 + D), H, W] are read in place this way.
struct MapLayout {
  long long heat_b, heat_k;
  long long tag_b, tag_k, tag_d;
  long long orpm_b, orpm_k, orpm_c;
};

/// Enqueues NMS of heatmaps [B, K, H, W] (float32, float16 or bfloat16,
/// compared in float32; map (b, k) at b * layout.heat_b + k * layout.heat_k
/// elements, each [H, W] map contiguous) on `stream`.
///
/// Outputs (device memory, caller-allocated, fully written by the kernel):
/// scores [B, K, M] float32 (the maps' values widened; 0 padding), indices
/// [B, K, M] int64 (flat y*W+x, -1 padding), counts [B, K] int32.
/// `nan_count` (one int32, zeroed by the caller) is increased by the number
/// of (b, k) maps that contain a NaN. `threshold` is rounded to float32 as
/// torch does for `tensor > float`. Requires H*W <= 2^30, B*K < 2^31,
/// 1 <= M <= kMaxCandidates, radius >= 0. No host synchronisation and no
/// allocation. Returns the launch status.
cudaError_t heatmap_nms_cuda(const void* heatmaps, const MapLayout& layout, MapDtype dtype, int64_t B, int64_t K, int64_t H,
                             int64_t W, double threshold, int64_t radius, int64_t max_candidates,
                             float* scores, int64_t* indices, int32_t* counts, int32_t* nan_count,
                             cudaStream_t stream) noexcept;

/// float32 rounding of a threshold, as torch's cast of a Python float (no UB).
float threshold_f32(double t) noexcept;

}  // namespace cuda
}  // namespace ssmp3d

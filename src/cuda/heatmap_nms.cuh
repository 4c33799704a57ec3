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

/// Split of small batches (nms_split.cuh): when there are fewer maps (B * K)
/// than SMs, each map is cut into S horizontal bands of rows, one block each,
/// with S = min(ceil(kNmsWaveBlocks * SMs / maps), kNmsMaxSplits,
/// H / kNmsMinBandRows), so about two waves of blocks cover the device; a
/// second kernel (one block per map) merges the bands' top-M lists. S < 2
/// means no split (one block per map, as for large batches).
constexpr int kNmsMaxSplits = 16;
constexpr int kNmsMinBandRows = 8;
constexpr int kNmsWaveBlocks = 2;

/// Bands per map (1 = no split) for `maps` maps of H rows on a device with
/// `sm_count` SMs (see above). Pure host function.
inline int nms_split_count(int64_t maps, int64_t H, int sm_count) noexcept {
  if (maps <= 0 || H <= 0 || sm_count <= 0 || maps >= sm_count) return 1;
  int64_t s = (int64_t{kNmsWaveBlocks} * sm_count + maps - 1) / maps;
  if (s > kNmsMaxSplits) s = kNmsMaxSplits;
  if (s > H / kNmsMinBandRows) s = H / kNmsMinBandRows;
  return s < 2 ? 1 : static_cast<int>(s);
}

/// Bytes of the scratch buffer of a split launch: per-band keys [maps, S, M]
/// uint64, then per-band words [maps, S] uint32 (kept count | NaN bit 31).
inline int64_t nms_scratch_bytes(int64_t maps, int64_t splits, int64_t max_candidates) noexcept {
  return maps * splits * (max_candidates * 8 + 4);
}

/// Number of SMs of CUDA device `device` (cudaDevAttrMultiProcessorCount),
/// queried once per device and cached; 0 when the query fails.
int device_sm_count(int device) noexcept;

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
/// 1 <= M <= kMaxCandidates, radius >= 0.
///
/// `splits` (1 <= S <= kNmsMaxSplits, B*K*S < 2^31) bands of rows per map:
/// S = 1 runs one block per map; S > 1 runs the band and merge kernels of
/// nms_split.cuh through `scratch` (device memory of nms_scratch_bytes(B*K,
/// S, M) bytes, 8-byte aligned, no initial contents needed; unused when
/// S = 1). The outputs do not depend on S. No host synchronisation and no
/// allocation. Returns the launch status.
cudaError_t heatmap_nms_cuda(const void* heatmaps, const MapLayout& layout, MapDtype dtype, int64_t B, int64_t K, int64_t H,
                             int64_t W, double threshold, int64_t radius, int64_t max_candidates,
                             float* scores, int64_t* indices, int32_t* counts, int32_t* nan_count,
                             int splits, void* scratch, cudaStream_t stream) noexcept;

/// float32 rounding of a threshold, as torch's cast of a Python float (no UB).
float threshold_f32(double t) noexcept;

}  // namespace cuda
}  // namespace ssmp3d

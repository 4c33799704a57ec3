// Fused NMS + gather on the GPU; see nms_gather.cuh for the contract.
//
// Work split: one thread block of kNmsThreads per (b, k) map. The block runs
// block_nms (nms_block.cuh) over the heatmap — the only pass over the
// heatmaps — then gathers, with its threads striding over flattened
// (rank, item) pairs: the score, index and refinement of each kept rank, the
// D tags, and the L_k x 3 ORPM values of the joint's gather list. These reads
// are scattered but few (M * (D + 3 L_k) values per map). Padding slots are
// written too, so every output byte is defined. NaN in the heatmap or in a
// gathered value sets a bit of the map's flag word (no atomics on global
// memory: each block writes its own word).
#include <climits>

#include "nms_block.cuh"
#include "nms_gather.cuh"

namespace ssmp3d {
namespace cuda {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 30;

template <typename T>
__global__ void __launch_bounds__(kNmsThreads)
    nms_gather_kernel(const T* __restrict__ heat, const T* __restrict__ tags,
                      const T* __restrict__ orpm, int K, int H, int W, int D, float thr, int r,
                      int M, int capacity, const int32_t* __restrict__ gather_start,
                      const int32_t* __restrict__ gather_maps, int total_maps, GatherOutputs out) {
  extern __shared__ unsigned long long keys[];  // [capacity]
  __shared__ NmsShared sh;
  __shared__ int s_flags;
  const long long slice = blockIdx.x;  // b * K + k
  const long long b = slice / K;
  const int k = static_cast<int>(slice - b * K);
  const long long HW = static_cast<long long>(H) * W;
  const T* __restrict__ map = heat + slice * HW;
  if (threadIdx.x == 0) s_flags = 0;  // published by block_nms's first barrier
  bool has_nan = false;
  const unsigned int kept = block_nms(map, H, W, thr, r, M, static_cast<unsigned int>(capacity),
                                      keys, sh, &has_nan);
  int flags = has_nan ? kFlagHeatmapNaN : 0;

  // Scores, indices and refinement signs: one rank per thread.
  for (int j = threadIdx.x; j < M; j += blockDim.x) {
    const long long o = slice * M + j;
    if (static_cast<unsigned int>(j) < kept) {
      const int idx = nms_key_index(keys[j]);
      out.scores[o] = load_f32(map + idx);  // keeps the sign of -0.0
      out.indices[o] = idx;
      if (out.refine) {
        const int y = idx / W, x = idx - y * W;
        int sx = 0, sy = 0;
        if (x > 0 && x < W - 1) {
          const float lo = load_f32(map + idx - 1), hi = load_f32(map + idx + 1);
          sx = (hi > lo) - (hi < lo);
        }
        if (y > 0 && y < H - 1) {
          const float lo = load_f32(map + idx - W), hi = load_f32(map + idx + W);
          sy = (hi > lo) - (hi < lo);
        }
        out.refine[2 * o] = static_cast<int8_t>(sx);
        out.refine[2 * o + 1] = static_cast<int8_t>(sy);
      }
    } else {
      out.scores[o] = 0.0f;
      out.indices[o] = -1;
      if (out.refine) out.refine[2 * o] = out.refine[2 * o + 1] = 0;
    }
  }

  // Tags: (rank, d) pairs.
  const T* __restrict__ tag_k = tags + slice * D * HW;  // [D, H, W]
  for (int i = threadIdx.x; i < M * D; i += blockDim.x) {
    const int j = i / D, d = i - j * D;
    float v = 0.0f;
    if (static_cast<unsigned int>(j) < kept) {
      v = load_f32(tag_k + d * HW + nms_key_index(keys[j]));
      if (v != v) flags |= kFlagTagNaN;
    }
    out.tags_at[slice * M * D + i] = v;
  }

  // ORPM: (rank, list entry, channel) triples of this joint's gather list.
  const int start = gather_start[k], len = gather_start[k + 1] - start;
  const T* __restrict__ orpm_b = orpm + b * K * 3 * HW;  // [K, 3, H, W]
  float* __restrict__ dst = out.orpm_at + (b * static_cast<long long>(M) * total_maps +
                                           static_cast<long long>(start) * M) * 3;
  for (int i = threadIdx.x; i < M * len * 3; i += blockDim.x) {
    const int j = i / (len * 3), rest = i - j * len * 3, s = rest / 3, c = rest - s * 3;
    float v = 0.0f;
    if (static_cast<unsigned int>(j) < kept) {
      const int m = gather_maps[start + s];
      v = load_f32(orpm_b + (static_cast<long long>(m) * 3 + c) * HW + nms_key_index(keys[j]));
      if (v != v) flags |= kFlagOrpmNaN;
    }
    dst[i] = v;
  }

  if (threadIdx.x == 0) out.counts[slice] = static_cast<int32_t>(kept);
  if (flags) atomicOr(&s_flags, flags);
  __syncthreads();
  if (threadIdx.x == 0) out.flags[slice] = s_flags;
}

}  // namespace

cudaError_t nms_gather_cuda(const void* heatmaps, const void* tags, const void* orpm,
                            MapDtype dtype, int64_t B, int64_t K, int64_t H, int64_t W, int64_t D,
                            double threshold, int64_t radius, int64_t max_candidates,
                            const int32_t* gather_start, const int32_t* gather_maps,
                            int64_t total_maps, const GatherOutputs& out,
                            cudaStream_t stream) noexcept {
  if (B <= 0 || K <= 0 || H <= 0 || W <= 0 || D <= 0 || radius < 0 || max_candidates < 1 ||
      max_candidates > kMaxCandidates || H * W > kMaxPixels || B * K > INT_MAX || total_maps < 0 ||
      max_candidates * (total_maps > D ? total_maps : D) * 3 > INT_MAX || !heatmaps || !tags ||
      !orpm || !gather_start || (total_maps > 0 && !gather_maps) || !out.scores || !out.indices ||
      !out.counts || !out.flags || !out.tags_at || (total_maps > 0 && !out.orpm_at))
    return cudaErrorInvalidValue;
  const int r = clamp_radius(radius, H, W);
  const int capacity = nms_capacity(max_candidates);
  const size_t shmem = static_cast<size_t>(capacity) * sizeof(unsigned long long);
  const float thr = threshold_f32(threshold);
  const bool known = dispatch_map_dtype(static_cast<int>(dtype), [&](auto tag) {
    using T = decltype(tag);
    nms_gather_kernel<T><<<static_cast<unsigned int>(B * K), kNmsThreads, shmem, stream>>>(
        static_cast<const T*>(heatmaps), static_cast<const T*>(tags), static_cast<const T*>(orpm),
        static_cast<int>(K), static_cast<int>(H), static_cast<int>(W), static_cast<int>(D), thr, r,
        static_cast<int>(max_candidates), capacity, gather_start, gather_maps,
        static_cast<int>(total_maps), out);
  });
  if (!known) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace ssmp3d

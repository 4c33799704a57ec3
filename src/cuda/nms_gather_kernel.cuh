// The fused NMS + gather __global__ kernel (launched by nms_gather.cu, which
// describes the work split; contract in nms_gather.cuh). It lives in this
// header, apart from the host launch code, so that tests/cuda_host/ can
// compile exactly this code with a host compiler and a CUDA emulation shim,
// and compare it with the CPU op.
//
// Work split: one thread block of kNmsThreads per (b, k) map: block_nms over
// the whole map, then gather_at_peaks (threads stride over flattened (rank,
// item) pairs). When small batches split maps into bands (nms_split.cuh), the
// merge kernel there ends with the same gather_at_peaks, so both paths write
// identical outputs.
#pragma once

#include <cstdint>

#include "nms_block.cuh"
#include "nms_gather.cuh"

namespace ssmp3d {
namespace cuda {
namespace {

// Everything nms_gather writes for map (b, k) = `slice`, from its kept keys
// keys[0, kept) (shared, output order; block-uniform kept and has_nan): the
// scores, indices and refinement signs (one rank per thread), the D tags
// ((rank, d) pairs), the ORPM values of the joint's gather list ((rank, list
// entry, channel) triples), count and flag word. `s_flags` (shared) must be
// 0 and published by a barrier before the call. Every thread must call it.
template <typename T>
__device__ __forceinline__ void gather_at_peaks(
    const T* __restrict__ map, const T* __restrict__ tags, const T* __restrict__ orpm,
    const MapLayout& L, long long b, int k, long long slice, int H, int W, int D, int M,
    const unsigned long long* keys, unsigned int kept, bool has_nan,
    const int32_t* __restrict__ gather_start, const int32_t* __restrict__ gather_maps,
    int total_maps, const GatherOutputs& out, int* s_flags) {
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
  const T* __restrict__ tag_k = tags + b * L.tag_b + k * L.tag_k;  // [D, H, W], d stride L.tag_d
  for (int i = threadIdx.x; i < M * D; i += blockDim.x) {
    const int j = i / D, d = i - j * D;
    float v = 0.0f;
    if (static_cast<unsigned int>(j) < kept) {
      v = load_f32(tag_k + d * L.tag_d + nms_key_index(keys[j]));
      if (v != v) flags |= kFlagTagNaN;
    }
    out.tags_at[slice * M * D + i] = v;
  }

  // ORPM: (rank, list entry, channel) triples of this joint's gather list.
  const int start = gather_start[k], len = gather_start[k + 1] - start;
  const T* __restrict__ orpm_b = orpm + b * L.orpm_b;  // [K, 3, H, W] through L.orpm_k, L.orpm_c
  float* __restrict__ dst = out.orpm_at + (b * static_cast<long long>(M) * total_maps +
                                           static_cast<long long>(start) * M) * 3;
  for (int i = threadIdx.x; i < M * len * 3; i += blockDim.x) {
    const int j = i / (len * 3), rest = i - j * len * 3, s = rest / 3, c = rest - s * 3;
    float v = 0.0f;
    if (static_cast<unsigned int>(j) < kept) {
      const int m = gather_maps[start + s];
      v = load_f32(orpm_b + m * L.orpm_k + c * L.orpm_c + nms_key_index(keys[j]));
      if (v != v) flags |= kFlagOrpmNaN;
    }
    dst[i] = v;
  }

  if (threadIdx.x == 0) out.counts[slice] = static_cast<int32_t>(kept);
  if (flags) atomicOr(s_flags, flags);
  __syncthreads();
  if (threadIdx.x == 0) out.flags[slice] = *s_flags;
}

template <typename T>
__global__ void __launch_bounds__(kNmsThreads)
    nms_gather_kernel(const T* __restrict__ heat, const T* __restrict__ tags,
                      const T* __restrict__ orpm, MapLayout L, int K, int H, int W, int D, float thr, int r,
                      int M, int capacity, const int32_t* __restrict__ gather_start,
                      const int32_t* __restrict__ gather_maps, int total_maps, GatherOutputs out) {
  extern __shared__ unsigned long long keys[];  // [capacity]
  __shared__ NmsShared sh;
  __shared__ int s_flags;
  const long long slice = blockIdx.x;  // b * K + k
  const long long b = slice / K;
  const int k = static_cast<int>(slice - b * K);
  const T* __restrict__ map = heat + b * L.heat_b + k * L.heat_k;
  if (threadIdx.x == 0) s_flags = 0;  // published by block_nms's first barrier
  bool has_nan = false;
  const unsigned int kept = block_nms(map, H, W, 0, H * W, thr, r, M,
                                      static_cast<unsigned int>(capacity), keys, sh, &has_nan);
  gather_at_peaks(map, tags, orpm, L, b, k, slice, H, W, D, M, keys, kept, has_nan, gather_start,
                  gather_maps, total_maps, out, &s_flags);
}

}  // namespace
}  // namespace cuda
}  // namespace ssmp3d

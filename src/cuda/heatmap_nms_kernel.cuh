// The heatmap NMS __global__ kernel (launched by heatmap_nms.cu; contract in
// heatmap_nms.cuh). It lives in this header, apart from the host launch code,
// so that tests/cuda_host/ can compile exactly this code with a host compiler
// and a CUDA emulation shim, and compare it with the CPU op.
//
// Work split: one thread block of kNmsThreads per (b, k) map; the block runs
// block_nms (nms_block.cuh) over the whole map, then its threads write the M
// output slots (write_nms_slots, one rank per thread). When small batches
// split maps into bands (nms_split.cuh), the merge kernel there ends with the
// same write_nms_slots, so both paths write identical outputs.
#pragma once

#include <cstdint>

#include "heatmap_nms.cuh"
#include "nms_block.cuh"

namespace ssmp3d {
namespace cuda {
namespace {

// Writes the M output slots of map `slice` from keys[0, kept) (shared, output
// order): scores [M] from the map itself, indices [M]; padding 0 / -1 after
// `kept`. Threads stride over the ranks; no barrier.
template <typename T>
__device__ __forceinline__ void write_nms_slots(const T* __restrict__ map, const unsigned long long* keys,
                                                unsigned int kept, long long slice, int M,
                                                float* __restrict__ scores,
                                                int64_t* __restrict__ indices) {
  float* out_s = scores + slice * M;
  int64_t* out_i = indices + slice * M;
  for (int j = threadIdx.x; j < M; j += blockDim.x) {
    if (static_cast<unsigned int>(j) < kept) {
      const int idx = nms_key_index(keys[j]);
      out_s[j] = load_f32(map + idx);  // the map's own value (keeps the sign of -0.0)
      out_i[j] = idx;
    } else {
      out_s[j] = 0.0f;
      out_i[j] = -1;
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kNmsThreads)
    heatmap_nms_kernel(const T* __restrict__ heat, long long stride_b, long long stride_k, int K,
                       int H, int W, float thr, int r, int M,
                       int capacity, float* __restrict__ scores, int64_t* __restrict__ indices,
                       int32_t* __restrict__ counts, int32_t* __restrict__ nan_count) {
  extern __shared__ unsigned long long keys[];  // [capacity]
  __shared__ NmsShared sh;
  const long long slice = blockIdx.x;  // b * K + k
  const long long b = slice / K;
  const T* __restrict__ map = heat + b * stride_b + (slice - b * K) * stride_k;
  bool has_nan = false;
  const unsigned int kept = block_nms(map, H, W, 0, H * W, thr, r, M,
                                      static_cast<unsigned int>(capacity), keys, sh, &has_nan);
  write_nms_slots(map, keys, kept, slice, M, scores, indices);
  if (threadIdx.x == 0) {
    counts[slice] = static_cast<int32_t>(kept);
    if (has_nan) atomicAdd(nan_count, 1);
  }
}

}  // namespace
}  // namespace cuda
}  // namespace ssmp3d

// Split heatmap NMS for small batches (DESIGN.md section 6.1): the band and
// merge __global__ kernels behind heatmap_nms_cuda and nms_gather_cuda when
// they are called with splits S > 1 (the rule that picks S is
// nms_split_count in heatmap_nms.cuh: S > 1 only when B * K is below the
// device's SM count). Kept in a header, apart from the host launch code, so
// that tests/cuda_host/ can run exactly this code on the CPU against the C++
// ops.
//
// Work split:
//  * nms_band_kernel: grid B * K * S blocks of kNmsThreads; block
//    (slice, s) runs block_nms (nms_block.cuh, unchanged: strided scan, exact
//    window test, bitonic sort or the bounded many-peaks radix select) over
//    rows [s * H / S, (s + 1) * H / S) of map slice = b * K + k. Only the
//    band's pixels are candidates; their window test reads neighbours in
//    other bands straight from the map in global memory (no halo copy), so
//    a band's peaks are exactly the map's peaks in it and the tie rule does
//    not see band borders. The block writes the band's top-M keys, in output
//    order, and one word (kept count | NaN bit) to the scratch buffer.
//  * heatmap_nms_merge_kernel / nms_gather_merge_kernel: one block of
//    kNmsThreads per map. merge_bands reads the S lists (staged in shared
//    memory when (S + 1) * M <= kNmsStageKeys) and gives each listed key its
//    rank in the map: its position in its own list plus, for every other
//    band t, the number of keys of t that precede it (binary search; on
//    equal scores the band with lower rows comes first, which is the flat
//    index order). Keys are unique, so the ranks are a permutation, and the
//    global top M are exactly the keys of rank < M (each is in its band's
//    top M). Threads stride over the (band, position) pairs and write
//    keys[rank]; after a barrier the merge kernels run the single-block
//    kernels' own epilogues (write_nms_slots, gather_at_peaks): outputs are
//    bit-identical to the one-block path.
//
// Scratch (caller-allocated, e.g. a torch tensor; every word read is written
// first by the band kernel, so it needs no initial contents):
//   band_keys [B * K, S, M] uint64, then band_info [B * K, S] uint32 =
//   kept keys of the band | kBandNaN when the band holds a NaN pixel;
//   nms_scratch_bytes(B * K, S, M) bytes in all.
#pragma once

#include <cstdint>

#include "heatmap_nms.cuh"
#include "heatmap_nms_kernel.cuh"
#include "nms_block.cuh"
#include "nms_gather.cuh"
#include "nms_gather_kernel.cuh"

namespace ssmp3d {
namespace cuda {
namespace {

constexpr unsigned int kBandNaN = 0x80000000u;
constexpr unsigned long long kScoreBits = 0xFFFFFFFF00000000ull;  // order_bits(score) << 32
/// The merge stages the band lists in shared memory when (S + 1) * M keys
/// (lists plus the merged keys) fit this many (32 KiB).
constexpr int kNmsStageKeys = 4096;

/// Resident blocks per SM the split kernels are compiled for: a register
/// budget of 48 per thread, where ptxas (CUDA 13, sm_75..sm_120) spills
/// nothing; ptxas's own 32-register occupancy target spills the band kernel.
/// Occupancy hardly matters here: a split launch has about two blocks per SM.
constexpr int kNmsSplitMinBlocks = 5;

/// First row of band s of S of a map of H rows.
__host__ __device__ __forceinline__ int band_row(int s, int S, int H) {
  return static_cast<int>(static_cast<long long>(s) * H / S);
}

template <typename T>
__global__ void __launch_bounds__(kNmsThreads, kNmsSplitMinBlocks)
    nms_band_kernel(const T* __restrict__ heat, long long stride_b, long long stride_k, int K, int H,
                    int W, float thr, int r, int M, int capacity, int S,
                    unsigned long long* __restrict__ band_keys,
                    unsigned int* __restrict__ band_info) {
  extern __shared__ unsigned long long keys[];  // [capacity]
  __shared__ NmsShared sh;
  const long long band = blockIdx.x;  // slice * S + s
  const long long slice = band / S;   // b * K + k
  const int s = static_cast<int>(band - slice * S);
  const long long b = slice / K;
  const T* __restrict__ map = heat + b * stride_b + (slice - b * K) * stride_k;
  bool has_nan = false;
  const unsigned int kept =
      block_nms(map, H, W, band_row(s, S, H) * W, band_row(s + 1, S, H) * W, thr, r, M,
                static_cast<unsigned int>(capacity), keys, sh, &has_nan);
  unsigned long long* __restrict__ dst = band_keys + band * M;  // [M]
  for (unsigned int j = threadIdx.x; j < kept; j += blockDim.x) dst[j] = keys[j];
  if (threadIdx.x == 0) band_info[band] = kept | (has_nan ? kBandNaN : 0u);
}

/// Number of keys of list[0, n) (descending) greater than `bound`.
__device__ __forceinline__ unsigned int count_above(const unsigned long long* list, unsigned int n,
                                                    unsigned long long bound) {
  unsigned int lo = 0, hi = n;
  while (lo < hi) {
    const unsigned int mid = (lo + hi) >> 1;
    if (list[mid] > bound)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/// Merges the S band lists of map `slice` into keys[0, kept) (shared, output
/// order) and returns kept = min(sum of the bands' counts, M); *has_nan
/// (block-uniform): some band holds a NaN. keys has M entries, then, when
/// `stage`, S * M more for the staged lists. s_info: shared [kNmsMaxSplits].
/// Every thread must call it; it ends with a barrier.
__device__ __forceinline__ unsigned int merge_bands(const unsigned long long* __restrict__ band_keys,
                                                    const unsigned int* __restrict__ band_info,
                                                    long long slice, int S, int M, bool stage,
                                                    unsigned long long* keys,
                                                    unsigned int* s_info, bool* has_nan) {
  const int tid = threadIdx.x, nt = blockDim.x;
  const unsigned long long* __restrict__ global_lists = band_keys + slice * S * M;  // [S, M]
  const unsigned int* __restrict__ info = band_info + slice * S;                    // [S]
  for (int t = tid; t < S; t += nt) s_info[t] = info[t];
  if (stage) {
    for (int i = tid; i < S * M; i += nt) {
      const int s = i / M, j = i - s * M;
      if (static_cast<unsigned int>(j) < (info[s] & ~kBandNaN)) keys[M + i] = global_lists[i];
    }
  }
  __syncthreads();  // s_info and the staged lists are visible
  const unsigned long long* lists = stage ? keys + M : global_lists;  // [S, M]
  unsigned int total = 0;
  bool nan = false;
  for (int t = 0; t < S; ++t) {
    total += s_info[t] & ~kBandNaN;
    nan |= (s_info[t] & kBandNaN) != 0;
  }
  const unsigned int kept = total < static_cast<unsigned int>(M) ? total : static_cast<unsigned int>(M);
  for (int i = tid; i < S * M; i += nt) {
    const int s = i / M, j = i - s * M;
    if (static_cast<unsigned int>(j) >= kept || static_cast<unsigned int>(j) >= (s_info[s] & ~kBandNaN))
      continue;
    const unsigned long long key = lists[i];
    unsigned int rank = static_cast<unsigned int>(j);  // keys before it in its own band
    for (int t = 0; t < S && rank < kept; ++t) {
      if (t == s) continue;
      // Keys of band t before `key`: higher scores, and equal scores when
      // band t lies above band s (lower rows, so lower flat indices).
      const unsigned long long bound = t < s ? (key & kScoreBits) - 1ull : (key | ~kScoreBits);
      rank += count_above(lists + static_cast<long long>(t) * M, s_info[t] & ~kBandNaN, bound);
    }
    if (rank < kept) keys[rank] = key;
  }
  __syncthreads();  // keys[0, kept) are complete
  *has_nan = nan;
  return kept;
}

template <typename T>
__global__ void __launch_bounds__(kNmsThreads, kNmsSplitMinBlocks)
    heatmap_nms_merge_kernel(const T* __restrict__ heat, long long stride_b, long long stride_k,
                             int K, int M, int S, bool stage,
                             const unsigned long long* __restrict__ band_keys,
                             const unsigned int* __restrict__ band_info, float* __restrict__ scores,
                             int64_t* __restrict__ indices, int32_t* __restrict__ counts,
                             int32_t* __restrict__ nan_count) {
  extern __shared__ unsigned long long keys[];  // [M (+ S * M staged)]
  __shared__ unsigned int s_info[kNmsMaxSplits];
  const long long slice = blockIdx.x;  // b * K + k
  const long long b = slice / K;
  const T* __restrict__ map = heat + b * stride_b + (slice - b * K) * stride_k;
  bool has_nan = false;
  const unsigned int kept = merge_bands(band_keys, band_info, slice, S, M, stage, keys, s_info, &has_nan);
  write_nms_slots(map, keys, kept, slice, M, scores, indices);
  if (threadIdx.x == 0) {
    counts[slice] = static_cast<int32_t>(kept);
    if (has_nan) atomicAdd(nan_count, 1);
  }
}

template <typename T>
__global__ void __launch_bounds__(kNmsThreads, kNmsSplitMinBlocks)
    nms_gather_merge_kernel(const T* __restrict__ heat, const T* __restrict__ tags,
                            const T* __restrict__ orpm, MapLayout L, int K, int H, int W, int D,
                            int M, int S, bool stage, const unsigned long long* __restrict__ band_keys,
                            const unsigned int* __restrict__ band_info,
                            const int32_t* __restrict__ gather_start,
                            const int32_t* __restrict__ gather_maps, int total_maps,
                            GatherOutputs out) {
  extern __shared__ unsigned long long keys[];  // [M (+ S * M staged)]
  __shared__ unsigned int s_info[kNmsMaxSplits];
  __shared__ int s_flags;
  const long long slice = blockIdx.x;  // b * K + k
  const long long b = slice / K;
  const int k = static_cast<int>(slice - b * K);
  const T* __restrict__ map = heat + b * L.heat_b + k * L.heat_k;
  if (threadIdx.x == 0) s_flags = 0;  // published by merge_bands's first barrier
  bool has_nan = false;
  const unsigned int kept = merge_bands(band_keys, band_info, slice, S, M, stage, keys, s_info, &has_nan);
  gather_at_peaks(map, tags, orpm, L, b, k, slice, H, W, D, M, keys, kept, has_nan, gather_start,
                  gather_maps, total_maps, out, &s_flags);
}

/// Whether the merge stages the band lists in shared memory, and its dynamic
/// shared memory in bytes. Host code.
inline bool merge_stages(int S, int M) { return static_cast<long long>(S + 1) * M <= kNmsStageKeys; }
inline size_t merge_shmem(int S, int M) {
  return static_cast<size_t>(merge_stages(S, M) ? (S + 1) * M : M) * sizeof(unsigned long long);
}

}  // namespace
}  // namespace cuda
}  // namespace ssmp3d

// Block-level heatmap NMS (DESIGN.md section 6.1), device code shared by the
// heatmap_nms and nms_gather kernels. Include only from .cu files.
//
// One thread block handles one [H, W] map. Its threads stride over the pixels
// (consecutive threads, consecutive pixels: coalesced reads); a pixel above
// the threshold gets the exact window test and, if it is a peak, its key
//
//   key = order_bits(score) << 32 | (0xFFFFFFFF - flat index)
//
// is appended to a shared-memory buffer. Keys are unique and "larger key" is
// exactly "higher score, then lower flat index" (the output order); -0.0 is
// keyed as +0.0 because the two compare equal.
//
// Exact for any number of peaks: when they fit the buffer (capacity
// max(1024, next_pow2(M))) the block sorts them (bitonic, shared memory).
// Otherwise it finds the key of the M-th best peak by an 8-pass radix select
// (256-bin shared histogram per byte; each pass re-tests the map's pixels),
// collects the exactly M keys >= it and sorts those. No global scratch.
//
// Maps may be float, __half or __nv_bfloat16; values are widened to float32
// (exact) and every comparison is made in float32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace ssmp3d {
namespace cuda {

constexpr int kNmsThreads = 256;
constexpr int kNmsMinCapacity = 1024;

/// Exact float32 value of one map element (read-only cache path).
__device__ __forceinline__ float load_f32(const float* p) { return __ldg(p); }
__device__ __forceinline__ float load_f32(const __half* p) {
  return __half2float(__ushort_as_half(__ldg(reinterpret_cast<const unsigned short*>(p))));
}
__device__ __forceinline__ float load_f32(const __nv_bfloat16* p) {
  // bfloat16 is the upper half of a float32: widening is a shift.
  const unsigned int bits = __ldg(reinterpret_cast<const unsigned short*>(p));
  return __uint_as_float(bits << 16);
}

__device__ __forceinline__ unsigned long long nms_key(float v, int flat) {
  if (v == 0.0f) v = 0.0f;  // -0.0 ties +0.0
  const unsigned int u = __float_as_uint(v);
  const unsigned int ordered = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<unsigned long long>(ordered) << 32) |
         static_cast<unsigned long long>(0xFFFFFFFFu - static_cast<unsigned int>(flat));
}

__device__ __forceinline__ int nms_key_index(unsigned long long key) {
  return static_cast<int>(0xFFFFFFFFu - static_cast<unsigned int>(key & 0xFFFFFFFFull));
}

// Exact peak test (v = map[y*W+x] > threshold already known). Earlier pixels
// (smaller flat index) must be strictly lower, later ones lower or equal;
// written as !(a < b) so that a NaN neighbour rejects the pixel.
template <typename T>
__device__ __forceinline__ bool nms_is_peak(const T* __restrict__ map, int H, int W, int y, int x,
                                            int r, float v) {
  if (r == 1 && y > 0 && y < H - 1 && x > 0 && x < W - 1) {
    const T* up = map + (y - 1) * W + x;
    const T* row = up + W;
    const T* dn = row + W;
    return load_f32(up - 1) < v && load_f32(up) < v && load_f32(up + 1) < v &&
           load_f32(row - 1) < v && load_f32(row + 1) <= v && load_f32(dn - 1) <= v &&
           load_f32(dn) <= v && load_f32(dn + 1) <= v;
  }
  const int y0 = max(0, y - r), y1 = min(H - 1, y + r);
  const int x0 = max(0, x - r), x1 = min(W - 1, x + r);
  for (int yy = y0; yy <= y1; ++yy) {
    const T* row = map + yy * W;
    for (int xx = x0; xx <= x1; ++xx) {
      if (yy == y && xx == x) continue;
      const float h = load_f32(row + xx);
      const bool later = yy > y || (yy == y && xx > x);
      if (later ? !(h <= v) : !(h < v)) return false;
    }
  }
  return true;
}

/// Shared-memory state of one block's NMS (besides the key buffer).
struct NmsShared {
  unsigned int total, collected, nan, rank;
  unsigned int hist[256];
  unsigned long long prefix;
};

/// NMS of one map by the whole block. On return (after a barrier) keys[0, n)
/// hold the best n = min(peaks, M) keys in output order; the return value is
/// n, and *has_nan (block-uniform) whether the map contains a NaN. `keys` has
/// `capacity` >= max(M, kNmsMinCapacity) entries, a power of two. Every
/// thread of the block must call this.
template <typename T>
__device__ unsigned int block_nms(const T* __restrict__ map, int H, int W, float thr, int r, int M,
                                  unsigned int capacity, unsigned long long* keys, NmsShared& sh,
                                  bool* has_nan) {
  const int HW = H * W;
  const int tid = threadIdx.x;
  if (tid == 0) {
    sh.total = 0;
    sh.nan = 0;
  }
  __syncthreads();

  // Pass 1: find peaks, buffer their keys while they fit, count NaNs.
  unsigned int nan = 0;
  for (int p = tid; p < HW; p += blockDim.x) {
    const float v = load_f32(map + p);
    if (!(v > thr)) {
      nan += (v != v);
      continue;
    }
    const int y = p / W, x = p - y * W;
    if (nms_is_peak(map, H, W, y, x, r, v)) {
      const unsigned int pos = atomicAdd(&sh.total, 1u);
      if (pos < capacity) keys[pos] = nms_key(v, p);
    }
  }
  if (nan) atomicAdd(&sh.nan, nan);
  __syncthreads();

  const unsigned int total = sh.total;  // block-uniform
  *has_nan = sh.nan != 0;
  unsigned int n = total;
  if (total > capacity) {
    // Too many peaks for the buffer (capacity >= M): radix-select the M-th best key.
    if (tid == 0) {
      sh.prefix = 0ull;
      sh.rank = static_cast<unsigned int>(M);  // 1-based rank still to find within the prefix
    }
    unsigned long long mask = 0ull;
    for (int shift = 56; shift >= 0; shift -= 8) {
      for (int i = tid; i < 256; i += blockDim.x) sh.hist[i] = 0u;
      __syncthreads();
      const unsigned long long prefix = sh.prefix;
      for (int p = tid; p < HW; p += blockDim.x) {
        const float v = load_f32(map + p);
        if (!(v > thr)) continue;
        const int y = p / W, x = p - y * W;
        if (!nms_is_peak(map, H, W, y, x, r, v)) continue;
        const unsigned long long key = nms_key(v, p);
        if ((key & mask) == prefix) atomicAdd(&sh.hist[(key >> shift) & 0xFFull], 1u);
      }
      __syncthreads();
      if (tid == 0) {
        unsigned int k = sh.rank;
        int d = 255;
        for (; d > 0; --d) {
          const unsigned int c = sh.hist[d];
          if (k <= c) break;
          k -= c;
        }
        sh.rank = k;
        sh.prefix = prefix | (static_cast<unsigned long long>(d) << shift);
      }
      mask |= 0xFFull << shift;
      __syncthreads();
    }
    // sh.prefix is now the M-th best key; keys are unique, so exactly M are >= it.
    const unsigned long long kth = sh.prefix;
    if (tid == 0) sh.collected = 0;
    __syncthreads();
    for (int p = tid; p < HW; p += blockDim.x) {
      const float v = load_f32(map + p);
      if (!(v > thr)) continue;
      const int y = p / W, x = p - y * W;
      if (!nms_is_peak(map, H, W, y, x, r, v)) continue;
      const unsigned long long key = nms_key(v, p);
      if (key >= kth) {
        const unsigned int pos = atomicAdd(&sh.collected, 1u);
        if (pos < capacity) keys[pos] = key;
      }
    }
    __syncthreads();
    n = static_cast<unsigned int>(M);
  }

  // Bitonic sort of keys[0, n) in descending order, padded with 0 (never a
  // real key: a peak's score is above the threshold, so not NaN or -inf).
  unsigned int P = 1;
  while (P < n) P <<= 1;
  for (unsigned int i = n + tid; i < P; i += blockDim.x) keys[i] = 0ull;
  __syncthreads();
  for (unsigned int k = 2; k <= P; k <<= 1) {
    for (unsigned int j = k >> 1; j > 0; j >>= 1) {
      for (unsigned int i = tid; i < P; i += blockDim.x) {
        const unsigned int ixj = i ^ j;
        if (ixj > i) {
          const unsigned long long a = keys[i], b = keys[ixj];
          const bool descending = (i & k) == 0;
          if (descending ? (a < b) : (a > b)) {
            keys[i] = b;
            keys[ixj] = a;
          }
        }
      }
      __syncthreads();
    }
  }
  return total < static_cast<unsigned int>(M) ? total : static_cast<unsigned int>(M);
}

/// Calls f(T{}) with T the element type of `dtype` (float, __half or
/// __nv_bfloat16); returns false for an unknown dtype. Host code.
template <typename F>
bool dispatch_map_dtype(int dtype, F&& f) {
  switch (dtype) {
    case 0: f(float{}); return true;
    case 1: f(__half{}); return true;
    case 2: f(__nv_bfloat16{}); return true;
    default: return false;
  }
}

/// The NMS window radius clamped to the map (a wider window is the whole
/// map), so that int arithmetic cannot overflow.
inline int clamp_radius(int64_t radius, int64_t H, int64_t W) {
  const int64_t side = H > W ? H : W;
  return static_cast<int>(radius < side ? radius : side);
}

/// Key-buffer capacity for M candidates: max(kNmsMinCapacity, next_pow2(M)).
inline int nms_capacity(int64_t max_candidates) {
  int capacity = kNmsMinCapacity;
  while (capacity < max_candidates) capacity <<= 1;
  return capacity;
}

}  // namespace cuda
}  // namespace ssmp3d

// Block-level heatmap NMS (DESIGN.md section 6.1), device code shared by the
// heatmap_nms and nms_gather kernels. Include only from .cu files.
//
// One thread block handles one [H, W] map, or one band of its rows when small
// batches split each map over several blocks (nms_split.cuh: the per-band
// top-M lists are merged by a second kernel). Its threads stride over the pixels
// (scan_peaks: 4 or 8 pixels per thread per iteration, loads issued before the
// compares; float32 as 4 coalesced scalar loads, float16 / bfloat16 as two
// 64-bit loads of 4 consecutive elements each where aligned). A pixel above the
// threshold gets the exact window test and, if it is a peak, its key
//
//   key = order_bits(score) << 32 | (0xFFFFFFFF - flat index)
//
// is appended to a shared-memory buffer. Keys are unique and "larger key" is
// exactly "higher score, then lower flat index" (the output order); -0.0 is
// keyed as +0.0 because the two compare equal.
//
// Exact for any number of peaks: when they fit the buffer (capacity
// max(1024, next_pow2(M))) the block sorts them (bitonic, shared memory).
// Otherwise it radix-selects the M-th best key a byte at a time from the top
// (256-bin shared histogram; the top byte's histogram is built during the
// first pass) and stops at the first byte where the keys whose leading bytes
// are >= the M-th best's fit the buffer; it collects exactly those in one
// more pass and sorts them. No global scratch (the split path's per-band
// lists live in a caller-allocated buffer, nms_split.cuh).
//
// Cost bound (reads of the map; each re-tests every pixel above threshold):
// 1 when the peaks fit the buffer; else 2 + h <= 9, where h is the number of
// key bytes below the top one needed before at most `capacity` peaks have
// leading bytes >= the M-th best's. The top 4 bytes are the score: for
// scores in (0, 1] the second byte splits each octave into 128 bins, so
// typically h = 1 (3 reads, against 10 for a full 8-pass radix select);
// h > 3 only when more than capacity - M peaks have exactly the M-th best
// score (e.g. a grid of equal plateaus).
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

/// Sort padding: order bits 0 (below every peak), index field of pixel 0.
constexpr unsigned long long kNmsPadKey = 0xFFFFFFFFull;

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

// Widening of raw 16-bit map elements (the vector path of scan_peaks); the
// values equal load_f32's.
__device__ __forceinline__ float f32_of_bits(const __half*, unsigned int bits) {
  return __half2float(__ushort_as_half(static_cast<unsigned short>(bits)));
}
__device__ __forceinline__ float f32_of_bits(const __nv_bfloat16*, unsigned int bits) {
  return __uint_as_float(bits << 16);
}

/// Shared-memory state of one block's NMS (besides the key buffer).
struct NmsShared {
  unsigned int total, collected, nan, rank;
  unsigned int hist[256];
  unsigned long long prefix;
};

// The window test of pixel p, value v > thr: calls on_peak(p, v) for a peak.
template <typename T, typename F>
__device__ __forceinline__ void test_pixel(const T* __restrict__ map, int H, int W, int r, int p,
                                           float v, F& on_peak) {
  const int y = p / W, x = p - y * W;
  if (nms_is_peak(map, H, W, y, x, r, v)) on_peak(p, v);
}

// Four loaded pixels p0 + j * stride: threshold compares (NaNs counted into
// *nan) for all four, then the window test of those above the threshold,
// one at a time (rolled loop, value re-read from cache: one copy of the test).
template <typename T, typename F>
__device__ __forceinline__ void test_four(const T* __restrict__ map, int H, int W, float thr, int r,
                                          const float (&v)[4], int p0, int stride,
                                          unsigned int* nan, F& on_peak) {
  unsigned int above = 0;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    if (v[j] > thr)
      above |= 1u << j;
    else
      *nan += (v[j] != v[j]);
  }
  if (above == 0) return;
#pragma unroll 1
  for (int j = 0; j < 4; ++j) {
    if (((above >> j) & 1u) == 0) continue;
    const int p = p0 + j * stride;
    test_pixel(map, H, W, r, p, load_f32(map + p), on_peak);
  }
}

/// One pass of the block over the pixels [p_begin, p_end) of a map (the whole
/// map, or one band of rows of it: nms_split.cuh): calls on_peak(p, v) for
/// every peak among them (in no particular order) and returns this thread's
/// count of NaN pixels among them. The window test reads the neighbours from
/// the whole map, so a band's peaks are exactly the map's peaks in the band.
///
/// Loads: 4 pixels per thread per iteration, the 4 loads issued before the
/// compares. float32 (and 16-bit maps not 2-byte aligned): pixels
/// base + j * blockDim.x + tid, j < 4 (each load coalesced across the warp).
/// float16 / bfloat16: 64-bit loads of 4 consecutive elements (two per
/// thread per iteration, groups g and g + blockDim.x: 8 pixels) from the
/// first 8-byte aligned element on (a warp reads 256 contiguous bytes per
/// load); the 0-3 pixels before it and the 0-3 after the last full group
/// are loaded one by one. Only plain loads (no vector types).
template <typename T, typename F>
__device__ __forceinline__ unsigned int scan_peaks(const T* __restrict__ map, int H, int W,
                                                   int p_begin, int p_end, float thr, int r,
                                                   F& on_peak) {
  const int tid = threadIdx.x, nt = blockDim.x;
  unsigned int nan = 0;
  if constexpr (sizeof(T) == 2) {
    const int n = p_end - p_begin;  // pixels of the range; local index i is pixel p_begin + i
    const uintptr_t address = reinterpret_cast<uintptr_t>(map + p_begin);
    if ((address & 1u) == 0) {
      int head = static_cast<int>(((8u - (address & 7u)) & 7u) >> 1);  // elements to 8-byte alignment
      if (head > n) head = n;
      const int groups = (n - head) >> 2;
      const int first = p_begin + head;  // pixel of group 0's first element
      const unsigned long long* words = reinterpret_cast<const unsigned long long*>(map + first);
      int g = tid;
      for (; g + nt < groups; g += 2 * nt) {  // two 64-bit loads in flight per thread
        const unsigned long long bits0 = __ldg(words + g), bits1 = __ldg(words + g + nt);
        float v0[4], v1[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          v0[j] = f32_of_bits(map, static_cast<unsigned int>((bits0 >> (16 * j)) & 0xFFFFull));
          v1[j] = f32_of_bits(map, static_cast<unsigned int>((bits1 >> (16 * j)) & 0xFFFFull));
        }
        test_four(map, H, W, thr, r, v0, first + 4 * g, 1, &nan, on_peak);
        test_four(map, H, W, thr, r, v1, first + 4 * (g + nt), 1, &nan, on_peak);
      }
      if (g < groups) {
        const unsigned long long bits = __ldg(words + g);
        float v[4];
#pragma unroll
        for (int j = 0; j < 4; ++j)
          v[j] = f32_of_bits(map, static_cast<unsigned int>((bits >> (16 * j)) & 0xFFFFull));
        test_four(map, H, W, thr, r, v, first + 4 * g, 1, &nan, on_peak);
      }
      const int tail = head + 4 * groups;  // local [0, head) and [tail, n): at most 6 pixels
      for (int i = tid; i < head + (n - tail); i += nt) {
        const int p = p_begin + (i < head ? i : tail + (i - head));
        const float v = load_f32(map + p);
        if (v > thr)
          test_pixel(map, H, W, r, p, v, on_peak);
        else
          nan += (v != v);
      }
      return nan;
    }
  }
  const int step = 4 * nt;
  int base = p_begin;
  for (; base + step <= p_end; base += step) {
    float v[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) v[j] = load_f32(map + base + j * nt + tid);
    test_four(map, H, W, thr, r, v, base + tid, nt, &nan, on_peak);
  }
  for (int p = base + tid; p < p_end; p += nt) {
    const float v = load_f32(map + p);
    if (v > thr)
      test_pixel(map, H, W, r, p, v, on_peak);
    else
      nan += (v != v);
  }
  return nan;
}

/// NMS of the pixels [p_begin, p_end) of one map (all H * W of them, or a
/// band of rows: nms_split.cuh) by the whole block. On return (after a
/// barrier) keys[0, n) hold the best n = min(peaks, M) keys of the range in
/// output order; the return value is n, and *has_nan (block-uniform) whether
/// the range contains a NaN. `keys` has `capacity` >= max(M, kNmsMinCapacity)
/// entries, a power of two. Every thread of the block must call this.
template <typename T>
__device__ unsigned int block_nms(const T* __restrict__ map, int H, int W, int p_begin, int p_end,
                                  float thr, int r, int M, unsigned int capacity,
                                  unsigned long long* keys, NmsShared& sh, bool* has_nan) {
  const int tid = threadIdx.x;
  if (tid == 0) {
    sh.total = 0;
    sh.nan = 0;
  }
  for (int i = tid; i < 256; i += blockDim.x) sh.hist[i] = 0u;
  __syncthreads();

  // Pass 1: find the peaks, buffer their keys while they fit, histogram the
  // top byte of every key (used only when they do not fit), count NaNs.
  auto buffer = [&](int p, float v) {
    const unsigned long long key = nms_key(v, p);
    const unsigned int pos = atomicAdd(&sh.total, 1u);
    if (pos < capacity) keys[pos] = key;
    atomicAdd(&sh.hist[key >> 56], 1u);
  };
  const unsigned int nan = scan_peaks(map, H, W, p_begin, p_end, thr, r, buffer);
  if (nan) atomicAdd(&sh.nan, nan);
  __syncthreads();

  const unsigned int total = sh.total;  // block-uniform
  *has_nan = sh.nan != 0;
  unsigned int n = total;  // keys to sort
  if (total > capacity) {
    // Too many peaks for the buffer (capacity >= M). Radix-select the M-th
    // best key byte by byte from the top, stopping at the first byte where
    // the keys whose leading bytes are >= the M-th best's fit the buffer;
    // collect exactly those, sort them, keep the first M. Byte 7's
    // histogram came with pass 1; each further byte costs one pass.
    if (tid == 0) {
      sh.prefix = 0ull;
      sh.rank = static_cast<unsigned int>(M);  // 1-based rank still to find within the prefix
    }
    unsigned long long mask = 0ull;
    int shift = 56;
    for (;; shift -= 8) {
      if (shift < 56) {
        const unsigned long long prefix = sh.prefix;
        auto count = [&](int p, float v) {
          const unsigned long long key = nms_key(v, p);
          if ((key & mask) == prefix) atomicAdd(&sh.hist[(key >> shift) & 0xFFull], 1u);
        };
        scan_peaks(map, H, W, p_begin, p_end, thr, r, count);
        __syncthreads();
      }
      if (tid == 0) {
        unsigned int k = sh.rank;
        int d = 255;
        for (; d > 0; --d) {
          const unsigned int c = sh.hist[d];
          if (k <= c) break;
          k -= c;
        }
        // M - k keys are above digit d's bin, hist[d] in it (k-th of them the M-th best).
        sh.collected = static_cast<unsigned int>(M) - k + sh.hist[d];
        sh.rank = k;
        sh.prefix |= static_cast<unsigned long long>(d) << shift;
      }
      mask |= 0xFFull << shift;
      __syncthreads();
      if (sh.collected <= capacity || shift == 0) break;  // block-uniform; at shift 0 it is M
      for (int i = tid; i < 256; i += blockDim.x) sh.hist[i] = 0u;
      __syncthreads();
    }
    // Exactly sh.collected (<= capacity) keys are >= lowest: their leading
    // bytes are >= the prefix. The bound checks below only matter if the
    // passes disagreed (they cannot: each re-tests the same pixels).
    const unsigned long long lowest = sh.prefix;
    __syncthreads();  // everyone has read sh.collected
    if (tid == 0) sh.collected = 0;
    __syncthreads();
    auto collect = [&](int p, float v) {
      const unsigned long long key = nms_key(v, p);
      if (key >= lowest) {
        const unsigned int pos = atomicAdd(&sh.collected, 1u);
        if (pos < capacity) keys[pos] = key;
      }
    };
    scan_peaks(map, H, W, p_begin, p_end, thr, r, collect);
    __syncthreads();
    n = sh.collected < capacity ? sh.collected : capacity;
  }

  // Bitonic sort of keys[0, n) in descending order, padded with kNmsPadKey:
  // below every real key (a peak's score is above the threshold, so not NaN
  // and its order bits are > 0), and its index field decodes to pixel 0, so
  // even a stray read of a padding slot stays inside the map.
  unsigned int P = 1;
  while (P < n) P <<= 1;
  for (unsigned int i = n + tid; i < P; i += blockDim.x) keys[i] = kNmsPadKey;
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
  const unsigned int kept = total < static_cast<unsigned int>(M) ? total : static_cast<unsigned int>(M);
  return kept < n ? kept : n;  // n >= kept unless the passes disagreed
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

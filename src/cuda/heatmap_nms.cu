// Heatmap NMS on the GPU; see heatmap_nms.cuh for the contract.
//
// Work split: one thread block per (b, k) map. The block's threads stride
// over the map's pixels (consecutive threads, consecutive pixels: coalesced
// reads); a pixel above the threshold gets the exact window test (8
// neighbours for r = 1 away from the border) and, if it is a peak, its key is
// appended to a shared-memory buffer. Keys are 64-bit and unique:
//
//   key = order_bits(score) << 32 | (0xFFFFFFFF - flat index)
//
// so "larger key" is exactly "higher score, then lower flat index" (the
// output order). -0.0 is keyed as +0.0 because the two compare equal.
//
// Exact for any number of peaks: when they all fit the buffer
// (capacity max(1024, next_pow2(M))) the block sorts them (bitonic, in shared
// memory). Otherwise it finds the key of the M-th best peak by an 8-pass
// radix select (256-bin shared histogram per byte; each pass re-tests the
// map's pixels), then collects the exactly M keys >= it and sorts those.
// No global scratch, no host synchronisation.
#include "heatmap_nms.cuh"

#include <cfloat>
#include <climits>
#include <limits>

namespace ssmp3d {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kMinCapacity = 1024;
// Pixel loops use int and step by blockDim.x: keep p + kThreads representable.
constexpr int64_t kMaxPixels = int64_t{1} << 30;

__device__ __forceinline__ unsigned long long make_key(float v, int flat) {
  if (v == 0.0f) v = 0.0f;  // -0.0 ties +0.0
  const unsigned int u = __float_as_uint(v);
  const unsigned int ordered = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<unsigned long long>(ordered) << 32) |
         static_cast<unsigned long long>(0xFFFFFFFFu - static_cast<unsigned int>(flat));
}

__device__ __forceinline__ int key_index(unsigned long long key) {
  return static_cast<int>(0xFFFFFFFFu - static_cast<unsigned int>(key & 0xFFFFFFFFull));
}

// Exact peak test (v = map[y*W+x] > threshold already known). Earlier pixels
// (smaller flat index) must be strictly lower, later ones lower or equal;
// written as !(a < b) so that a NaN neighbour rejects the pixel.
__device__ __forceinline__ bool is_peak(const float* __restrict__ map, int H, int W, int y, int x,
                                        int r, float v) {
  if (r == 1 && y > 0 && y < H - 1 && x > 0 && x < W - 1) {
    const float* up = map + (y - 1) * W + x;
    const float* row = up + W;
    const float* dn = row + W;
    return __ldg(up - 1) < v && __ldg(up) < v && __ldg(up + 1) < v && __ldg(row - 1) < v &&
           __ldg(row + 1) <= v && __ldg(dn - 1) <= v && __ldg(dn) <= v && __ldg(dn + 1) <= v;
  }
  const int y0 = max(0, y - r), y1 = min(H - 1, y + r);
  const int x0 = max(0, x - r), x1 = min(W - 1, x + r);
  for (int yy = y0; yy <= y1; ++yy) {
    const float* row = map + yy * W;
    for (int xx = x0; xx <= x1; ++xx) {
      const float h = __ldg(row + xx);
      const bool later = yy > y || (yy == y && xx > x);
      if (yy == y && xx == x) continue;
      if (later ? !(h <= v) : !(h < v)) return false;
    }
  }
  return true;
}

__global__ void __launch_bounds__(kThreads)
    heatmap_nms_kernel(const float* __restrict__ heat, int H, int W, float thr, int r, int M,
                       int capacity, float* __restrict__ scores, int64_t* __restrict__ indices,
                       int32_t* __restrict__ counts, int32_t* __restrict__ nan_count) {
  extern __shared__ unsigned long long keys[];  // [capacity]
  __shared__ unsigned int s_total, s_collected, s_nan, s_rank;
  __shared__ unsigned int s_hist[256];
  __shared__ unsigned long long s_prefix;

  const long long slice = blockIdx.x;
  const int HW = H * W;
  const float* __restrict__ map = heat + slice * HW;
  const int tid = threadIdx.x;
  const unsigned int cap = static_cast<unsigned int>(capacity);

  if (tid == 0) {
    s_total = 0;
    s_nan = 0;
  }
  __syncthreads();

  // Pass 1: find peaks, buffer their keys while they fit, count NaNs.
  unsigned int nan = 0;
  for (int p = tid; p < HW; p += blockDim.x) {
    const float v = __ldg(map + p);
    if (!(v > thr)) {
      nan += (v != v);
      continue;
    }
    const int y = p / W, x = p - y * W;
    if (is_peak(map, H, W, y, x, r, v)) {
      const unsigned int pos = atomicAdd(&s_total, 1u);
      if (pos < cap) keys[pos] = make_key(v, p);
    }
  }
  if (nan) atomicAdd(&s_nan, nan);
  __syncthreads();

  const unsigned int total = s_total;  // block-uniform
  unsigned int n = total;
  if (total > cap) {
    // Too many peaks for the buffer (cap >= M): radix-select the M-th best key.
    if (tid == 0) {
      s_prefix = 0ull;
      s_rank = static_cast<unsigned int>(M);  // 1-based rank still to find within the prefix
    }
    unsigned long long mask = 0ull;
    for (int shift = 56; shift >= 0; shift -= 8) {
      for (int i = tid; i < 256; i += blockDim.x) s_hist[i] = 0u;
      __syncthreads();
      const unsigned long long prefix = s_prefix;
      for (int p = tid; p < HW; p += blockDim.x) {
        const float v = __ldg(map + p);
        if (!(v > thr)) continue;
        const int y = p / W, x = p - y * W;
        if (!is_peak(map, H, W, y, x, r, v)) continue;
        const unsigned long long key = make_key(v, p);
        if ((key & mask) == prefix) atomicAdd(&s_hist[(key >> shift) & 0xFFull], 1u);
      }
      __syncthreads();
      if (tid == 0) {
        unsigned int k = s_rank;
        int d = 255;
        for (; d > 0; --d) {
          const unsigned int c = s_hist[d];
          if (k <= c) break;
          k -= c;
        }
        s_rank = k;
        s_prefix = prefix | (static_cast<unsigned long long>(d) << shift);
      }
      mask |= 0xFFull << shift;
      __syncthreads();
    }
    // s_prefix is now the M-th best key; keys are unique, so exactly M are >= it.
    const unsigned long long kth = s_prefix;
    if (tid == 0) s_collected = 0;
    __syncthreads();
    for (int p = tid; p < HW; p += blockDim.x) {
      const float v = __ldg(map + p);
      if (!(v > thr)) continue;
      const int y = p / W, x = p - y * W;
      if (!is_peak(map, H, W, y, x, r, v)) continue;
      const unsigned long long key = make_key(v, p);
      if (key >= kth) {
        const unsigned int pos = atomicAdd(&s_collected, 1u);
        if (pos < cap) keys[pos] = key;
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

  const unsigned int kept = total < static_cast<unsigned int>(M) ? total
                                                                 : static_cast<unsigned int>(M);
  float* out_s = scores + slice * M;
  int64_t* out_i = indices + slice * M;
  for (int j = tid; j < M; j += blockDim.x) {
    if (static_cast<unsigned int>(j) < kept) {
      const int idx = key_index(keys[j]);
      out_s[j] = __ldg(map + idx);  // the map's own value (keeps the sign of -0.0)
      out_i[j] = idx;
    } else {
      out_s[j] = 0.0f;
      out_i[j] = -1;
    }
  }
  if (tid == 0) {
    counts[slice] = static_cast<int32_t>(kept);
    if (s_nan) atomicAdd(nan_count, 1);
  }
}

// Same rounding as torch's float32 cast of a Python float, without UB.
float threshold_f32(double t) {
  constexpr double kOverflow = 0x1.ffffffp+127;  // midpoint between FLT_MAX and 2^128
  if (t >= kOverflow) return std::numeric_limits<float>::infinity();
  if (t <= -kOverflow) return -std::numeric_limits<float>::infinity();
  if (t > static_cast<double>(FLT_MAX)) return FLT_MAX;
  if (t < -static_cast<double>(FLT_MAX)) return -FLT_MAX;
  return static_cast<float>(t);
}

}  // namespace

cudaError_t heatmap_nms_cuda(const float* heatmaps, int64_t B, int64_t K, int64_t H, int64_t W,
                             double threshold, int64_t radius, int64_t max_candidates,
                             float* scores, int64_t* indices, int32_t* counts, int32_t* nan_count,
                             cudaStream_t stream) noexcept {
  if (B <= 0 || K <= 0 || H <= 0 || W <= 0 || radius < 0 || max_candidates < 1 ||
      max_candidates > kMaxCandidates || H * W > kMaxPixels || B * K > INT_MAX || !heatmaps ||
      !scores || !indices || !counts || !nan_count)
    return cudaErrorInvalidValue;
  // A window wider than the map is the whole map: clamp so int maths cannot overflow.
  const int r = static_cast<int>(radius < (H > W ? H : W) ? radius : (H > W ? H : W));
  int capacity = kMinCapacity;
  while (capacity < max_candidates) capacity <<= 1;
  const size_t shmem = static_cast<size_t>(capacity) * sizeof(unsigned long long);
  heatmap_nms_kernel<<<static_cast<unsigned int>(B * K), kThreads, shmem, stream>>>(
      heatmaps, static_cast<int>(H), static_cast<int>(W), threshold_f32(threshold), r,
      static_cast<int>(max_candidates), capacity, scores, indices, counts, nan_count);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace ssmp3d

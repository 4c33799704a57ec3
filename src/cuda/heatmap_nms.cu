// Heatmap NMS on the GPU; see heatmap_nms.cuh for the contract.
//
// Work split: splits == 1: one thread block of kNmsThreads per (b, k) map;
// the block runs block_nms (nms_block.cuh: coalesced strided scan, exact
// window test, shared-memory top-M selection), then its threads write the M
// output slots. splits S > 1 (small batches, nms_split_count): B * K * S band
// blocks, then one merge block per map (nms_split.cuh), same outputs.
#include <atomic>
#include <cfloat>
#include <climits>
#include <limits>

#include "heatmap_nms.cuh"
#include "heatmap_nms_kernel.cuh"
#include "nms_block.cuh"
#include "nms_split.cuh"

namespace ssmp3d {
namespace cuda {
namespace {

// Pixel loops use int and step by blockDim.x: keep p + kNmsThreads representable.
constexpr int64_t kMaxPixels = int64_t{1} << 30;

// Devices whose SM count is cached (others are queried at every call).
constexpr int kCachedDevices = 64;

}  // namespace

int device_sm_count(int device) noexcept {
  // The one piece of global state: SM counts per device, written once (0 = not yet).
  static std::atomic<int> cache[kCachedDevices];
  if (device < 0) return 0;
  if (device < kCachedDevices) {
    const int known = cache[device].load(std::memory_order_relaxed);
    if (known > 0) return known;
  }
  int n = 0;
  if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();  // clear the error: the caller falls back to no split
    return 0;
  }
  if (device < kCachedDevices && n > 0) cache[device].store(n, std::memory_order_relaxed);
  return n;
}

float threshold_f32(double t) noexcept {
  constexpr double kOverflow = 0x1.ffffffp+127;  // midpoint between FLT_MAX and 2^128
  if (t >= kOverflow) return std::numeric_limits<float>::infinity();
  if (t <= -kOverflow) return -std::numeric_limits<float>::infinity();
  if (t > static_cast<double>(FLT_MAX)) return FLT_MAX;
  if (t < -static_cast<double>(FLT_MAX)) return -FLT_MAX;
  return static_cast<float>(t);
}

cudaError_t heatmap_nms_cuda(const void* heatmaps, const MapLayout& layout, MapDtype dtype, int64_t B, int64_t K, int64_t H,
                             int64_t W, double threshold, int64_t radius, int64_t max_candidates,
                             float* scores, int64_t* indices, int32_t* counts, int32_t* nan_count,
                             int splits, void* scratch, cudaStream_t stream) noexcept {
  if (B <= 0 || K <= 0 || H <= 0 || W <= 0 || radius < 0 || max_candidates < 1 ||
      max_candidates > kMaxCandidates || H * W > kMaxPixels || B * K > INT_MAX || !heatmaps ||
      !scores || !indices || !counts || !nan_count || splits < 1 || splits > kNmsMaxSplits ||
      B * K * splits > INT_MAX || (splits > 1 && !scratch))
    return cudaErrorInvalidValue;
  const int r = clamp_radius(radius, H, W);
  const int capacity = nms_capacity(max_candidates);
  const size_t shmem = static_cast<size_t>(capacity) * sizeof(unsigned long long);
  const float thr = threshold_f32(threshold);
  const bool known = dispatch_map_dtype(static_cast<int>(dtype), [&](auto tag) {
    using T = decltype(tag);
    const T* heat = static_cast<const T*>(heatmaps);
    const int M = static_cast<int>(max_candidates);
    if (splits == 1) {
      heatmap_nms_kernel<T><<<static_cast<unsigned int>(B * K), kNmsThreads, shmem, stream>>>(
          heat, layout.heat_b, layout.heat_k, static_cast<int>(K), static_cast<int>(H),
          static_cast<int>(W), thr, r, M, capacity, scores, indices, counts, nan_count);
      return;
    }
    auto* band_keys = static_cast<unsigned long long*>(scratch);  // [B * K, S, M]
    auto* band_info = reinterpret_cast<unsigned int*>(band_keys + B * K * splits * M);  // [B * K, S]
    nms_band_kernel<T><<<static_cast<unsigned int>(B * K * splits), kNmsThreads, shmem, stream>>>(
        heat, layout.heat_b, layout.heat_k, static_cast<int>(K), static_cast<int>(H),
        static_cast<int>(W), thr, r, M, capacity, splits, band_keys, band_info);
    heatmap_nms_merge_kernel<T><<<static_cast<unsigned int>(B * K), kNmsThreads,
                                  merge_shmem(splits, M), stream>>>(
        heat, layout.heat_b, layout.heat_k, static_cast<int>(K), M, splits,
        merge_stages(splits, M), band_keys, band_info, scores, indices, counts, nan_count);
  });
  if (!known) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace ssmp3d

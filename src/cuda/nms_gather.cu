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
//
// splits S > 1 (small batches, nms_split_count in heatmap_nms.cuh): B * K * S
// band blocks find each band's top M, then one merge block per map merges
// them and runs the same gather (nms_split.cuh): same outputs.
#include <climits>

#include "nms_block.cuh"
#include "nms_gather.cuh"
#include "nms_gather_kernel.cuh"
#include "nms_split.cuh"

namespace ssmp3d {
namespace cuda {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 30;

}  // namespace

cudaError_t nms_gather_cuda(const void* heatmaps, const void* tags, const void* orpm,
                            const MapLayout& layout, MapDtype dtype, int64_t B, int64_t K, int64_t H, int64_t W, int64_t D,
                            double threshold, int64_t radius, int64_t max_candidates,
                            const int32_t* gather_start, const int32_t* gather_maps,
                            int64_t total_maps, const GatherOutputs& out, int splits,
                            void* scratch, cudaStream_t stream) noexcept {
  if (B <= 0 || K <= 0 || H <= 0 || W <= 0 || D <= 0 || radius < 0 || max_candidates < 1 ||
      max_candidates > kMaxCandidates || H * W > kMaxPixels || B * K > INT_MAX || total_maps < 0 ||
      max_candidates * (total_maps > D ? total_maps : D) * 3 > INT_MAX || !heatmaps || !tags ||
      !orpm || !gather_start || (total_maps > 0 && !gather_maps) || !out.scores || !out.indices ||
      !out.counts || !out.flags || !out.tags_at || (total_maps > 0 && !out.orpm_at) ||
      splits < 1 || splits > kNmsMaxSplits || B * K * splits > INT_MAX || (splits > 1 && !scratch))
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
      nms_gather_kernel<T><<<static_cast<unsigned int>(B * K), kNmsThreads, shmem, stream>>>(
          heat, static_cast<const T*>(tags), static_cast<const T*>(orpm), layout,
          static_cast<int>(K), static_cast<int>(H), static_cast<int>(W), static_cast<int>(D), thr,
          r, M, capacity, gather_start, gather_maps, static_cast<int>(total_maps), out);
      return;
    }
    auto* band_keys = static_cast<unsigned long long*>(scratch);  // [B * K, S, M]
    auto* band_info = reinterpret_cast<unsigned int*>(band_keys + B * K * splits * M);  // [B * K, S]
    nms_band_kernel<T><<<static_cast<unsigned int>(B * K * splits), kNmsThreads, shmem, stream>>>(
        heat, layout.heat_b, layout.heat_k, static_cast<int>(K), static_cast<int>(H),
        static_cast<int>(W), thr, r, M, capacity, splits, band_keys, band_info);
    nms_gather_merge_kernel<T><<<static_cast<unsigned int>(B * K), kNmsThreads,
                                 merge_shmem(splits, M), stream>>>(
        heat, static_cast<const T*>(tags), static_cast<const T*>(orpm), layout,
        static_cast<int>(K), static_cast<int>(H), static_cast<int>(W), static_cast<int>(D), M,
        splits, merge_stages(splits, M), band_keys, band_info, gather_start, gather_maps,
        static_cast<int>(total_maps), out);
  });
  if (!known) return cudaErrorInvalidValue;
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace ssmp3d

// Training-target encoders on the GPU; see encode.cuh for the contract.
//
// Work split: one thread per output pixel, i = ((b * K + k) * H + y) * W + x
// (a flat 1-D grid of 256-thread blocks, 64-bit index), so consecutive
// threads write consecutive pixels of one map (coalesced stores) and read the
// same people (broadcast loads). The ORPM thread of pixel (b, m, y, x) writes
// its three channels and the weight. Each thread loops over the N people of
// image b in index order and keeps, without atomics or shared memory:
//
// * heatmaps: the running max v = (v < g ? g : v), the CPU's std::max in the
//   CPU's person order (the max is order-free anyway);
// * ORPM and tags: the one person whose disc covers the pixel and who comes
//   last in the CPU's write order (stable sort by depth descending, last
//   writer wins). That is a lexicographic minimum, so no sort is needed: a
//   later-index person q replaces the current winner w iff !(d[q] > d[w])
//   (nearer, or equal depth and higher index). This equals the CPU's order
//   exactly, ties and -0.0 == +0.0 included, and costs no extra launch.
//
// Each pixel is owned by one thread, so results are deterministic. The
// per-thread bodies are in encode_kernels.cuh, shared with host code that
// checks them against the CPU encoders. Work per pixel is O(N) (O(N * C)
// for the ORPM): fine for the tens of people of a training image.
#include "encode.cuh"
#include "encode_global.cuh"
#include "encode_kernels.cuh"

#include <cmath>

namespace ssmp3d {
namespace cuda {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 30;
constexpr int64_t kMaxValues = int64_t{1} << 34;

// Sizes of encode.cuh: B, K, H, W >= 1, N >= 0, H*W <= 2^30, B*K*channels*H*W <= 2^34.
bool sizes_ok(int64_t B, int64_t N, int64_t K, int64_t H, int64_t W, int64_t channels) {
  if (B <= 0 || N < 0 || K <= 0 || H <= 0 || W <= 0) return false;
  if (H > kMaxPixels || W > kMaxPixels || H * W > kMaxPixels) return false;
  const int64_t map_values = channels * H * W;  // <= 3 * 2^30
  return K <= kMaxValues / map_values && B <= kMaxValues / (K * map_values);
}

unsigned int blocks(int64_t total) {
  return static_cast<unsigned int>((total + kThreads - 1) / kThreads);  // <= 2^26
}

}  // namespace

cudaError_t encode_heatmaps_cuda(const double* joints_map, const uint8_t* valid, int64_t B,
                                 int64_t N, int64_t K, int64_t H, int64_t W, double sigma,
                                 float* out, cudaStream_t stream) noexcept {
  if (!sizes_ok(B, N, K, H, W, 1) || !(sigma > 0.0) || !std::isfinite(sigma) || !out ||
      (N > 0 && (!joints_map || !valid)))
    return cudaErrorInvalidValue;
  const kernels::HeatmapArgs a = kernels::heatmap_args(joints_map, valid, out, N, K, H, W, sigma);
  const int64_t total = B * K * H * W;
  heatmaps_kernel<<<blocks(total), kThreads, 0, stream>>>(a, total);
  return cudaGetLastError();
}

cudaError_t encode_orpm_cuda(const double* joints_map, const float* bones32,
                             const uint8_t* valid, const uint8_t* bones_valid,
                             const double* depth, const int64_t* chains, int64_t B, int64_t N,
                             int64_t K, int64_t C, int64_t H, int64_t W, int64_t radius,
                             float* orpm, float* weight, cudaStream_t stream) noexcept {
  if (!sizes_ok(B, N, K, H, W, 3) || C < 1 || radius < 0 || !chains || !orpm || !weight ||
      (N > 0 && (!joints_map || !bones32 || !valid || !bones_valid || !depth)))
    return cudaErrorInvalidValue;
  const kernels::OrpmArgs a{joints_map, bones32, valid, bones_valid, depth, chains, orpm, weight,
                            N, K, C, H, W, kernels::disc_r2(radius, H, W)};
  const int64_t total = B * K * H * W;
  orpm_kernel<<<blocks(total), kThreads, 0, stream>>>(a, total);
  return cudaGetLastError();
}

cudaError_t encode_tag_maps_cuda(const double* joints_map, const uint8_t* valid,
                                 const double* depth, const float* tags32, int64_t B, int64_t N,
                                 int64_t K, int64_t H, int64_t W, int64_t radius, float* out,
                                 cudaStream_t stream) noexcept {
  if (!sizes_ok(B, N, K, H, W, 1) || radius < 0 || !out ||
      (N > 0 && (!joints_map || !valid || !depth || !tags32)))
    return cudaErrorInvalidValue;
  const kernels::TagArgs a{joints_map, valid, depth, tags32, out, N, K, H, W,
                           kernels::disc_r2(radius, H, W)};
  const int64_t total = B * K * H * W;
  tag_maps_kernel<<<blocks(total), kThreads, 0, stream>>>(a, total);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace ssmp3d

// Training-target encoders on the GPU (DESIGN.md section 5): same contract
// as src/csrc/encode.h, bit for bit (the heatmap exp: see encode_kernels.cuh
// and docs/decisions.md). Host-side declarations only, so the pybind11 glue
// can be compiled by the host compiler.
//
// All pointers are device memory of the current device, contiguous, with
// the dtypes and shapes of encode.h; outputs are caller-allocated and fully
// written. Requires B, K, H, W >= 1, N >= 0 (input pointers may be null when
// N == 0), H*W <= 2^30 and B*K*H*W <= 2^34. No host synchronisation and no
// allocation: each function enqueues one kernel on `stream` and returns the
// launch status (cudaErrorInvalidValue for arguments outside the contract).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ssmp3d {
namespace cuda {

/// Heatmaps out [B, K, H, W] float32 from joints_map [B, N, K, 2] float64 and
/// valid [B, N, K] uint8; sigma finite and > 0.
cudaError_t encode_heatmaps_cuda(const double* joints_map, const uint8_t* valid, int64_t B,
                                 int64_t N, int64_t K, int64_t H, int64_t W, double sigma,
                                 float* out, cudaStream_t stream) noexcept;

/// ORPM orpm [B, K, 3, H, W] and weight [B, K, H, W] float32 from bones32
/// [B, N, K, 3] float32, bones_valid [B, N, K] uint8, depth [B, N] float64
/// and chains [K, C] int64 (C >= 1; entries outside [0, K) mean none).
cudaError_t encode_orpm_cuda(const double* joints_map, const float* bones32,
                             const uint8_t* valid, const uint8_t* bones_valid,
                             const double* depth, const int64_t* chains, int64_t B, int64_t N,
                             int64_t K, int64_t C, int64_t H, int64_t W, int64_t radius,
                             float* orpm, float* weight, cudaStream_t stream) noexcept;

/// Tag maps out [B, K, H, W] float32 from depth [B, N] float64 and tags32
/// [B, N] float32; radius >= 0.
cudaError_t encode_tag_maps_cuda(const double* joints_map, const uint8_t* valid,
                                 const double* depth, const float* tags32, int64_t B, int64_t N,
                                 int64_t K, int64_t H, int64_t W, int64_t radius, float* out,
                                 cudaStream_t stream) noexcept;

}  // namespace cuda
}  // namespace ssmp3d

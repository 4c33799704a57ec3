// ORPM read-out on the GPU (DESIGN.md section 6.4): same results as
// src/csrc/readout.h. Host-side declarations only, so the pybind11 glue can
// be compiled by the host compiler.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace ssmp3d {
namespace cuda {

/// Largest number of joints K the CUDA read-out accepts.
constexpr int64_t kReadoutMaxK = 32;

/// "" when the host skeleton table (int64 [2 + 2K, K], ssmp3d.ops.skeleton_table)
/// with `neck` / `pelvis` is well formed and K <= kReadoutMaxK; else the problem.
const char* readout_table_error(const int64_t* table, int64_t K, int64_t neck,
                                int64_t pelvis) noexcept;

/// Enqueues the read-out of B images on `stream`.
///
/// Device inputs (contiguous): orpm [B, K, 3, H, W] float32, positions
/// [B, Q, K, 2] int64 (x, y), scores [B, Q, K] float32, detected [B, Q, K]
/// uint8 0/1, num_formed [B], people [B, P], num_people [B] int64.
/// Host inputs: `table` (checked: readout_table_error must be ""), and
/// `mean_bones_host` [K, 3] float32 metres, used when `mean_bones_dev`
/// (a device [K, 3] float32) is null. `readout_threshold` is rounded to
/// float32 as torch does; `readout_min_dist` is squared in float64.
/// Outputs (device, caller-allocated, fully written): joints3d [B, P, K, 3]
/// float32 mm, rule [B, P, K] int8, joint [B, P, K] int16, padding rows
/// (0, -1, -1). `status` (two int32 on the device, zeroed by the caller):
/// status[0] += NaN values read from orpm; status[1] |= ReadoutBad bits of
/// out-of-range num_formed / num_people / people / positions (the kernel never
/// reads out of bounds; such rows are padding). Requires B * max(P, Q) < 2^31.
/// No host synchronisation and no allocation. Returns the launch status.
cudaError_t orpm_readout_cuda(const float* orpm, const int64_t* positions, const float* scores,
                              const uint8_t* detected, const int64_t* num_formed,
                              const int64_t* people, const int64_t* num_people, int64_t B,
                              int64_t Q, int64_t P, int64_t K, int64_t H, int64_t W,
                              const int64_t* table, int64_t neck, int64_t pelvis, bool naive,
                              double readout_threshold, double readout_min_dist,
                              const float* mean_bones_host, const float* mean_bones_dev,
                              float* joints3d, int8_t* rule, int16_t* joint, int32_t* status,
                              cudaStream_t stream) noexcept;

}  // namespace cuda
}  // namespace ssmp3d

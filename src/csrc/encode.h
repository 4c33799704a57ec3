// Training-target encoders on the CPU (DESIGN.md section 5). No libtorch.
//
// Batched versions of the numpy reference encoders in ssmp3d.encode, equal
// to them bit for bit. Inputs are contiguous and already checked by
// ssmp3d.ops.encode: joints_map [B, N, K, 2] float64 (finite where valid),
// valid [B, N, K] uint8 0/1 (a padded person slot is all 0), depth [B, N]
// finite float64. Outputs are caller-allocated contiguous float32 and are
// fully overwritten (zeros where nothing is written).
//
// Shared rules: a joint is used iff valid and its nearest pixel
// (floor(x + 0.5), floor(y + 0.5)) lies in [0, W-1] x [0, H-1]. Discs are the
// pixels with dx^2 + dy^2 <= r^2 around that pixel, clipped to the map.
// People are written in the order of a stable sort by depth descending, each
// overwriting what was there: nearer people win, equal depths -> the higher
// index wins. num_threads: 0 = hardware concurrency, 1 = calling thread only;
// fewer threads are used when there is little work; results never depend on it.
#pragma once

#include <cstdint>

namespace ssmp3d {

/// Gaussian heatmaps out [B, K, H, W]: max over people of
/// float32(exp(-(dx*dx + dy*dy) / ((2*sigma)*sigma))) (float64, libm exp) on
/// the square window |x - px|, |y - py| <= ceil(3*sigma) around each used joint.
void encode_heatmaps_cpu(const double* joints_map, const uint8_t* valid, int64_t B, int64_t N,
                         int64_t K, int64_t H, int64_t W, double sigma, float* out,
                         int num_threads);

/// ORPM targets: map m of person p holds bones32[p, m] (float32 [B, N, K, 3])
/// on discs around every used location l = chains[m, c] (int64 [K, C], -1 =
/// none), written only where bones_valid[p, m]. orpm [B, K, 3, H, W],
/// weight [B, K, H, W] (1 where map m was written, else 0).
void encode_orpm_cpu(const double* joints_map, const float* bones32, const uint8_t* valid,
                     const uint8_t* bones_valid, const double* depth, const int64_t* chains,
                     int64_t B, int64_t N, int64_t K, int64_t C, int64_t H, int64_t W,
                     int64_t radius, float* orpm, float* weight, int num_threads);

/// Tag maps out [B, K, H, W]: tags32[b, p] (float32 [B, N]) on a disc around
/// each used joint k of person p in map k.
void encode_tag_maps_cpu(const double* joints_map, const uint8_t* valid, const double* depth,
                         const float* tags32, int64_t B, int64_t N, int64_t K, int64_t H,
                         int64_t W, int64_t radius, float* out, int num_threads);

}  // namespace ssmp3d

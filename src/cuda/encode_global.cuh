// The target encoders' __global__ kernels (launched by encode.cu, which
// describes the work split; contract in encode.cuh): one thread per output
// pixel running the bodies of encode_kernels.cuh. They live in this header,
// apart from the host launch code, so that tests/cuda_host/ can compile
// exactly this code with a host compiler and a CUDA emulation shim.
#pragma once

#include <cstdint>

#include "encode_kernels.cuh"

namespace ssmp3d {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) heatmaps_kernel(kernels::HeatmapArgs a, int64_t total) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < total) kernels::heatmap_thread(a, i);
}

__global__ void __launch_bounds__(kThreads) orpm_kernel(kernels::OrpmArgs a, int64_t total) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < total) kernels::orpm_thread(a, i);
}

__global__ void __launch_bounds__(kThreads) tag_maps_kernel(kernels::TagArgs a, int64_t total) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (i < total) kernels::tag_thread(a, i);
}

}  // namespace
}  // namespace cuda
}  // namespace ssmp3d

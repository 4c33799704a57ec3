// The ORPM read-out __global__ kernel (launched by readout.cu, which
// describes the work split; contract in readout.cuh): one thread per
// (image, slot) running readout_thread (readout_kernel.cuh). It lives in this
// header, apart from the host launch code, so that tests/cuda_host/ can
// compile exactly this code with a host compiler and a CUDA emulation shim.
#pragma once

#include <cstdint>

#include "readout_kernel.cuh"

namespace ssmp3d {
namespace cuda {
namespace {

constexpr int kThreads = 128;

__global__ void __launch_bounds__(kThreads)
    orpm_readout_kernel(const __grid_constant__ ReadoutSkeleton sk,
                        const __grid_constant__ ReadoutArgs args, int32_t* __restrict__ status) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= args.B * args.S) return;
  const ReadoutThreadResult r = readout_thread(sk, args, t);
  if (r.nans) atomicAdd(status, r.nans);
  if (r.bad) atomicOr(status + 1, r.bad);
}

}  // namespace
}  // namespace cuda
}  // namespace ssmp3d

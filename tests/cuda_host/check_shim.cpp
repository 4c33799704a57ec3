// Self-test of the emulation shim's warp intrinsics and block barrier, which
// the kernels may start using (nms_block.cuh is being vectorised): a small
// kernel written here with __shfl_*_sync, __ballot_sync, __any/__all_sync and
// __syncthreads, run on full warps, compared with the values the CUDA
// programming guide defines, computed directly.
#include <string>
#include <vector>

#include "emu_runtime.h"
#include "harness.h"

namespace harness {
namespace {

constexpr int kOutputs = 8;

// out[t * kOutputs + i]: the i-th intrinsic's result in thread t.
__global__ void warp_kernel(int* out, int* block_sum) {
  const unsigned t = threadIdx.x, lane = t % 32;
  const int v = static_cast<int>(t * 7 + 3);
  int* o = out + t * kOutputs;
  o[0] = __shfl_sync(0xFFFFFFFFu, v, 5);
  o[1] = __shfl_down_sync(0xFFFFFFFFu, v, 3);
  o[2] = __shfl_up_sync(0xFFFFFFFFu, v, 2);
  o[3] = __shfl_xor_sync(0xFFFFFFFFu, v, 9);
  o[4] = static_cast<int>(__ballot_sync(0xFFFFFFFFu, lane % 3 == 0));
  o[5] = __any_sync(0xFFFFFFFFu, lane == 31 && t >= 32);
  o[6] = __all_sync(0xFFFFFFFFu, lane < 31);
  o[7] = __shfl_sync(0xFFFFFFFFu, v, lane + 1, 8);  // width 8: wraps within groups of 8
  __shared__ int partial;
  if (t == 0) partial = 0;
  __syncthreads();
  atomicAdd(&partial, v);
  __syncthreads();
  if (t == 0) *block_sum = partial;
}

}  // namespace

void run_shim_checks(Report& rep) {
  const unsigned block = 96;
  std::vector<int> got(block * kOutputs, -1), want(block * kOutputs);
  int sum = -1, want_sum = 0;
  for (unsigned t = 0; t < block; ++t) {
    const unsigned lane = t % 32, base = t - lane;
    auto v = [](unsigned u) { return static_cast<int>(u * 7 + 3); };
    int* w = want.data() + t * kOutputs;
    w[0] = v(base + 5);
    w[1] = lane + 3 < 32 ? v(t + 3) : v(t);
    w[2] = lane >= 2 ? v(t - 2) : v(t);
    w[3] = v(base + (lane ^ 9));
    w[4] = static_cast<int>(0x49249249u);  // lanes 0, 3, 6, ..., 30
    w[5] = t >= 32;
    w[6] = 0;
    w[7] = v(t - lane % 8 + (lane + 1) % 8);
    want_sum += v(t);
  }
  emu::launch(2, block, [&] { warp_kernel(got.data(), &sum); });
  rep.check("shim", "warp_intrinsics", got, want);
  rep.check_value("shim", "block_reduction", sum, want_sum);
  ++rep.cases;
}

}  // namespace harness

// ORPM read-out on the GPU; see readout.cuh for the contract.
//
// Work split: one thread per (image b, slot s), s < S = max(P, Q), so B * S
// threads in blocks of 128; the thread body is readout_thread in
// readout_kernel.cuh (shared with a host build, see there). Thread (b, s)
//   * checks row s of the formed people (its detected joints inside the map),
//     and, for s == 0, num_formed[b] and num_people[b]: device-side flags in
//     status[1] instead of host reads;
//   * for s < num_people[b], reads person q = people[b, s] alone: first one
//     brute-force pass over every detected joint l' of the image's other
//     formed people q' < num_formed[b] (dropped people included) that lies in
//     some read-out set, testing dx^2 + dy^2 < d^2 in float64 against each
//     own confident joint l and OR-ing the maps {m : S[m, l']} into l's
//     "crowded" mask; then per map j the first chain entry that is confident
//     and not crowded for j; then the bones summed in topological order
//     X_j = X_parent + v_j * 1000.0f (float32, built with --fmad=false),
//     reading orpm [B, K, 3, H, W] at 3 scattered addresses per read joint.
//   * for P > s >= num_people[b], writes the padding row (0, -1, -1).
// Cost per person thread: at most K * num_formed * K distance tests (19 * 30
// * 19 ~ 11k for 30 formed people of PANOPTIC19; in practice only confident
// own joints against detected joints, and none in naive mode), plus K chain
// walks and 3K loads. The CPU sorts locations by y and finds the (rare)
// crowded pairs in about n log n; on a GPU the plain scan runs in parallel
// over people and is cheap for the people counts of one image. Only B * P
// threads do real work: small batches occupy a fraction of the GPU, so this
// op is latency-bound (one launch) rather than throughput-bound.
//
// The skeleton (chains, parents, order, read-out sets as 32-bit masks, host
// mean bones) travels by value as a __grid_constant__ kernel parameter
// (1.6 KB): no device copy is needed, which keeps the op capturable in a CUDA
// graph, and K <= 32.
#include "readout.cuh"
#include "readout_global.cuh"
#include "readout_kernel.cuh"

#include <climits>

namespace ssmp3d {
namespace cuda {

static_assert(kReadoutMaxK == kReadoutMaxJoints, "one bound on K");

const char* readout_table_error(const int64_t* table, int64_t K, int64_t neck,
                                int64_t pelvis) noexcept {
  if (!table) return "null pointer";
  ReadoutSkeleton sk;
  return pack_readout_skeleton(table, K, neck, pelvis, nullptr, &sk);
}

cudaError_t orpm_readout_cuda(const float* orpm, const int64_t* positions, const float* scores,
                              const uint8_t* detected, const int64_t* num_formed,
                              const int64_t* people, const int64_t* num_people, int64_t B,
                              int64_t Q, int64_t P, int64_t K, int64_t H, int64_t W,
                              const int64_t* table, int64_t neck, int64_t pelvis, bool naive,
                              double readout_threshold, double readout_min_dist,
                              const float* mean_bones_host, const float* mean_bones_dev,
                              float* joints3d, int8_t* rule, int16_t* joint, int32_t* status,
                              cudaStream_t stream) noexcept {
  if (B <= 0 || Q <= 0 || P <= 0 || K <= 0 || H <= 0 || W <= 0 || !orpm || !positions ||
      !scores || !detected || !num_formed || !people || !num_people || !table ||
      (!mean_bones_host && !mean_bones_dev) || !joints3d || !rule || !joint || !status)
    return cudaErrorInvalidValue;
  const int64_t S = P > Q ? P : Q;
  if (B > INT_MAX / S) return cudaErrorInvalidValue;
  ReadoutSkeleton sk;
  if (*pack_readout_skeleton(table, K, neck, pelvis, mean_bones_host, &sk))
    return cudaErrorInvalidValue;
  ReadoutArgs args{orpm, positions, scores, detected, num_formed, people, num_people,
                   mean_bones_dev, joints3d, rule, joint, B, Q, P, H, W, S,
                   readout_threshold_f32(readout_threshold), readout_min_dist * readout_min_dist, naive};
  const int64_t n = B * S;
  orpm_readout_kernel<<<static_cast<unsigned int>((n + kThreads - 1) / kThreads), kThreads, 0,
                        stream>>>(sk, args, status);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace ssmp3d

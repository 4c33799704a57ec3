// The back half of the CUDA decoder on the host; see decode.h for the contract.
//
// The GPU has found the peaks and gathered, at each, the tags, the ORPM
// vectors its read-out may need and the refinement signs; one device-to-host
// copy brought the tables here. Work split: images are independent; threads
// claim whole images (parallel.h), widen the tags to float64 (the grouper's
// precision), then run the same finish_image as decode_cpu, reading ORPM
// values from the gathered table instead of the maps.
#include <algorithm>
#include <atomic>

#include "decode.h"
#include "decode_image.h"
#include "parallel.h"

namespace ssmp3d {

DecodeStatus decode_candidates_cpu(const CandidateTables& c, int64_t B, int64_t /*H*/, int64_t W,
                                   const DecodeParams& params, const SkeletonTables& skeleton,
                                   const float* mean_bones, const DecodeOutputs& out,
                                   int num_threads) {
  const GroupParams& gp = params.group;
  const int64_t K = gp.K, M = gp.M, D = gp.D, T = c.gather_start[K];
  std::atomic<int64_t> first_bad[4];
  for (auto& f : first_bad) f.store(B, std::memory_order_relaxed);

  parallel_items<ImageScratch>(B, thread_count(num_threads, B), [&](int64_t b, ImageScratch& s) {
    int32_t any = 0;
    for (int64_t k = 0; k < K; ++k) any |= c.flags[b * K + k];
    int kind = (any & 1) ? 1 : (any & 2) ? 2 : 0;
    if (!kind) {
      s.counts.resize(K);
      for (int64_t k = 0; k < K; ++k)
        s.counts[k] = std::clamp<int32_t>(c.counts[b * K + k], 0, static_cast<int32_t>(M));
      const float* tg = c.tags_at + b * K * M * D;
      s.tags.resize(K * M * D);
      std::transform(tg, tg + K * M * D, s.tags.begin(),
                     [](float v) { return static_cast<double>(v); });
      ImageCandidates ic;
      ic.scores = c.scores + b * K * M;
      ic.indices = c.indices + b * K * M;
      ic.counts = s.counts.data();
      ic.tags = s.tags.data();
      ic.refine = c.refine + b * K * M * 2;
      OrpmSource src;
      src.at = c.orpm_at + b * M * T * 3;
      src.start = c.gather_start;
      src.slot = c.gather_slot;
      src.M = M;
      kind = finish_image(params, skeleton, mean_bones, ic, src, b, W, s, out);
    } else {
      pad_image(params, b, out);
    }
    if (kind) atomic_min(first_bad[kind], b);
  });
  return status_of(first_bad, B);
}

}  // namespace ssmp3d

// The per-image back half of the decoders (internal): grouping, read-out and
// the output rows, shared by decode_cpu (candidates from its own NMS) and
// decode_candidates_cpu (candidate tables gathered on the GPU).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "decode.h"

namespace ssmp3d {

/// Working memory of one thread, reused across its images.
struct ImageScratch {
  std::vector<float> scores;     // [K, M]
  std::vector<int64_t> indices;  // [K, M]
  std::vector<int32_t> counts;   // [K]
  std::vector<double> tags;      // [K, M, D]
  std::vector<float> heat;       // [H, W] one widened float16 / bfloat16 heatmap
  std::vector<int8_t> refine;    // [K, M, 2] refinement signs of the candidates
  GroupScratch group_scratch;
  Grouping grouping;
  std::vector<int64_t> pos;      // [Q, K, 2]
  std::vector<float> jscores;    // [Q, K]
  std::vector<uint8_t> det;      // [Q, K]
  std::vector<int64_t> people;   // kept rows
  ReadoutScratch readout;
};

/// One image's candidate tables.
struct ImageCandidates {
  const float* scores = nullptr;    // [K, M]
  const int64_t* indices = nullptr; // [K, M] flat y*W+x
  const int32_t* counts = nullptr;  // [K], in [0, M]
  const double* tags = nullptr;     // [K, M, D]
  const int8_t* refine = nullptr;   // [K, M, 2] refinement signs (x, y) of the candidates
};

/// Groups image b's candidates, reads out the kept people (src: the image's
/// ORPM values; for a gathered source its `ranks` is set here), and writes
/// the output rows of image b, padding included. Returns 0, or 3 when a NaN
/// was read from the ORPM values (the image then gets no people).
int finish_image(const DecodeParams& params, const SkeletonTables& skeleton,
                 const float* mean_bones, const ImageCandidates& c, OrpmSource src, int64_t b,
                 int64_t W, ImageScratch& s, const DecodeOutputs& out);

/// Writes image b's rows as padding (no people).
void pad_image(const DecodeParams& params, int64_t b, const DecodeOutputs& out);

/// a = min(a, v), atomically.
void atomic_min(std::atomic<int64_t>& a, int64_t v);

/// The batch status from the first failing image per kind (B = none).
DecodeStatus status_of(std::atomic<int64_t> (&first_bad)[4], int64_t B);

}  // namespace ssmp3d

// The fused CPU decoder (backend "cpu", DESIGN.md section 6): heatmaps to 3D
// people in one call, equal to the Python reference decoder
// (ssmp3d/decoding/reference.py). No libtorch.
//
// Per image: NMS of each joint's heatmap (heatmap_nms_slice<float>), tags
// gathered at the peaks (float32 values used in float64), grouping
// (grouping.h: the paper's greedy or the assignment strategy), ORPM read-out reading the maps only at the chosen locations
// (readout.h), quarter-pixel refinement of the 2D output, fixed-size outputs.
#pragma once

#include <cstdint>

#include "grouping.h"
#include "map_strides.h"
#include "readout.h"

namespace ssmp3d {

struct DecodeParams {
  double det_threshold = 0.1;  // rounded to float32 like the NMS op
  int64_t radius = 1;
  bool refine = true;
  GroupParams group;           // K, M (= max_candidates), D, neck, thresholds, P
  ReadoutParams readout;
};

/// Caller-allocated contiguous outputs; P = group.max_people.
struct DecodeOutputs {
  double* coords;        // [B, P, K, 2] refined map coordinates (x, y), NaN where absent
  float* scores;         // [B, P, K] 0 where absent
  uint8_t* detected;     // [B, P, K] 0/1 (numpy bool)
  int64_t* peaks;        // [B, P, K] flat map index, -1 where absent
  float* joints3d;       // [B, P, K, 3] pelvis-relative mm, 0 padding
  int8_t* rule;          // [B, P, K] ReadoutRuleCode, -1 padding
  int16_t* joint;        // [B, P, K] read-out location joint, -1 for mean / root / padding
  float* person_scores;  // [B, P] float32 of the float64 mean, 0 padding
  double* tags;          // [B, P, D] reference tags, 0 padding
  int32_t* num_people;   // [B]
};

/// What went wrong, if anything: kind 0 = fine; 1 = NaN in the heatmaps
/// (anywhere; `image` is the first such image); 2 = NaN in a tag gathered at
/// a candidate peak; 3 = NaN in an ORPM value read. For kinds 2 and 3,
/// `image` is the first image (in batch order) that failed, as the Python
/// reference decoder, which goes image by image, would report it.
struct DecodeStatus {
  int kind = 0;
  int64_t image = -1;
};

/// heatmaps [B, K, H, W], tags [B, K, D, H, W], orpm [B, K, 3, H, W]:
/// float32, float16 or bfloat16 (each input its own `type`), each [H, W] map
/// contiguous, read in place through `hs`, `ts` and `os` (map_strides.h,
/// map_types.h: values widened to float32 as read, so every dtype decodes
/// as its float32 copy would; orpm null when params.readout.none: 2D only, the
/// people's joints3d NaN and rules kRuleNone). mean_bones [K, 3] float32 metres. Images are split
/// across threads (num_threads: 0 = hardware concurrency).
DecodeStatus decode_cpu(const void* heatmaps, const MapStrides& hs, const void* tags,
                        const MapStrides& ts, const void* orpm, const MapStrides& os, int64_t B,
                        int64_t H, int64_t W, const DecodeParams& params,
                        const SkeletonTables& skeleton, const float* mean_bones,
                        const DecodeOutputs& out, int num_threads);

/// Candidate tables of a batch gathered on the GPU (host copies of the
/// outputs of the CUDA nms_gather, src/cuda/nms_gather.cuh), contiguous.
struct CandidateTables {
  const float* scores = nullptr;       // [B, K, M]
  const int64_t* indices = nullptr;    // [B, K, M] flat y*W+x
  const int32_t* counts = nullptr;     // [B, K]
  const int32_t* flags = nullptr;      // [B, K]: 1 heatmap NaN, 2 NaN tag at a kept peak
  const float* tags_at = nullptr;      // [B, K, M, D]
  const float* orpm_at = nullptr;      // [B, M * T, 3]
  const int8_t* refine = nullptr;      // [B, K, M, 2] quarter-pixel shift signs
  const int32_t* gather_start = nullptr;  // [K + 1] gather list offsets (T = gather_start[K])
  const int32_t* gather_slot = nullptr;   // [K, K] entry of map m in location l's list, -1
};

/// The back half of the decoder on gathered candidate tables: grouping,
/// read-out from the gathered ORPM values, refinement from the gathered
/// signs and the outputs, equal to decode_cpu on the maps the tables were
/// gathered from. The gather lists must hold map m at every location l with
/// S[m, l] (checked by the caller). Images are split across threads.
DecodeStatus decode_candidates_cpu(const CandidateTables& c, int64_t B, int64_t H, int64_t W,
                                   const DecodeParams& params, const SkeletonTables& skeleton,
                                   const float* mean_bones, const DecodeOutputs& out,
                                   int num_threads);

}  // namespace ssmp3d

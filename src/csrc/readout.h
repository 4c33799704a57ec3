// ORPM read-out of 3D poses on the CPU (DESIGN.md section 6.4; the exact
// specification is the Python reference ssmp3d/decoding/readout.py).
//
// A detected joint l of person q is a valid read-out location for map m iff
// score > float32(readout_threshold) and no detected joint l' of another
// person formed by grouping (dropped people included) with S[m, l'] lies at
// dx^2 + dy^2 < readout_min_dist^2 (float64, integer map pixels). Joint
// j != pelvis is read in map j at the first detected, valid location of its
// read-out chain, else takes the mean bone vector; naive mode reads every
// detected joint at its own position. The pelvis is the root (zero, ROOT).
// 3D: X_j = X_parent + v_j * 1000.0f in float32, topological order (built
// without FMA contraction).
#pragma once

#include <cstdint>
#include <vector>

#include "map_types.h"

namespace ssmp3d {

/// Read-out rule codes, equal to ssmp3d.decoding.ReadoutRule.
enum ReadoutRuleCode : int8_t {
  kRuleNone = -1, kRuleOwn = 0, kRuleLimb = 1, kRuleNeck = 2, kRulePelvis = 3, kRuleMean = 4,
  kRuleRoot = 5,
};

/// A skeleton as tables. `table` is the packed int64 [2 + 2K, K] array built by
/// ssmp3d.ops.readout.skeleton_table: row 0 parents (-1 for the root), row 1
/// the topological order, rows 2 .. K+1 the read-out chain of each map (-1
/// padded), rows K+2 .. 2K+1 the read-out sets S[m, l] as 0/1.
struct SkeletonTables {
  int64_t K = 0, neck = 0, pelvis = 0;
  const int64_t* parents = nullptr;  // [K]
  const int64_t* topo = nullptr;     // [K]
  const int64_t* chains = nullptr;   // [K, K]
  const int64_t* sets = nullptr;     // [K, K]

  static SkeletonTables from_table(const int64_t* table, int64_t K, int64_t neck, int64_t pelvis) {
    return SkeletonTables{K, neck, pelvis, table, table + K, table + 2 * K, table + (2 + K) * K};
  }
  /// Empty string when the tables are well formed (indices in range, topo a
  /// permutation with parents first, pelvis the root); otherwise the problem.
  const char* check() const;
};

struct ReadoutParams {
  bool naive = false;
  bool none = false;               // 2D-only decoding: no read-out (decoders only)
  float readout_threshold = 0.1f;  // already rounded to float32 (threshold_as<float>)
  double readout_min_dist = 3.0;
};

struct ReadoutScratch {
  std::vector<int32_t> loc_of;             // [Q * K] location index of (q, l), -1 if undetected
  std::vector<int32_t> lq, ll, lx, ly;     // per location: person, joint, pixel
  std::vector<uint8_t> confident;          // per location: score above threshold
  std::vector<int32_t> by_y, cursor;       // locations sorted by y; CSR write cursors
  std::vector<int32_t> nstart, nbr;        // CSR: crowding locations of other people
  std::vector<int32_t> pair_a, pair_b;
  std::vector<float> X;                    // [K, 3] joints of one person
  std::vector<int32_t> loc;                // [K]
};

/// Where the read-out takes one image's ORPM values: the full maps, or the
/// values gathered at the candidate peaks (the orpm_at layout of the CUDA
/// nms_gather: joint l's peak r, its s-th listed map, at
/// ((start[l] * M + r * L_l + s) * 3 + c), L_l = start[l + 1] - start[l]).
struct OrpmSource {
  const void* maps = nullptr;      // [K, 3, H, W] (each [H, W] map contiguous), or null when gathered
  int64_t H = 0, W = 0;
  MapType type = MapType::kFloat32;  // element type of `maps`
  const float* at = nullptr;       // [M * T, 3] gathered values of the image
  const int32_t* ranks = nullptr;  // [Q, K] candidate rank of (person, joint), -1 none
  const int32_t* start = nullptr;  // [K + 1] gather list offsets
  const int32_t* slot = nullptr;   // [K, K]: entry s of map m in location l's list, -1
  int64_t M = 0;
  int64_t joint_stride = 0;        // elements between the joints' maps (3 * H * W if contiguous)
  int64_t channel_stride = 0;      // elements between the 3 components (H * W if contiguous)

  /// The 3 values of map m at the location of joint l of person q (pixel
  /// xy), widened to float32, into v.
  void read(int64_t K, int64_t q, int64_t l, int64_t m, const int64_t* xy, float v[3]) const {
    if (maps) {
      const int64_t i = m * joint_stride + xy[1] * W + xy[0];
      for (int c = 0; c < 3; ++c) v[c] = load_float(maps, type, i + c * channel_stride);
      return;
    }
    const int64_t len = start[l + 1] - start[l];
    const float* p = at + (start[l] * M + ranks[q * K + l] * len + slot[m * K + l]) * 3;
    for (int c = 0; c < 3; ++c) v[c] = p[c];
  }
};

/// The source of one image's contiguous float32 maps [K, 3, H, W].
inline OrpmSource maps_source(const float* maps, int64_t H, int64_t W) {
  OrpmSource src{maps, H, W};
  src.joint_stride = 3 * H * W;
  src.channel_stride = H * W;
  return src;
}

/// Reads the 3D poses of `P` people (rows `people[0..P)` of the Q formed).
///
/// pos [Q, K, 2] int64 (x, y) inside the map where detected; scores [Q, K]
/// float32; det [Q, K] (0/1); src the image's ORPM values (a gathered source
/// must list map m at every location l with S[m, l]); mean_bones [K, 3]
/// float32 metres. Writes joints3d [P, K, 3] float32, rule [P, K] int8 and
/// joint [P, K] int16. Returns the number of NaN values read (the outputs
/// are then still well defined).
int64_t readout_image(const SkeletonTables& sk, const ReadoutParams& rp, int64_t Q,
                      const int64_t* pos, const float* scores, const uint8_t* det,
                      const int64_t* people, int64_t P, const OrpmSource& src,
                      const float* mean_bones, ReadoutScratch& s, float* joints3d, int8_t* rule,
                      int16_t* joint);

/// Batched read-out, images split across threads. pos [B, Q, K, 2],
/// scores [B, Q, K], det [B, Q, K], num_formed [B], people [B, P],
/// num_people [B], orpm [B, K, 3, H, W]; outputs joints3d [B, P, K, 3]
/// (0 padding), rule [B, P, K] (-1 padding), joint [B, P, K] (-1 padding).
/// Returns the number of NaN values read from `orpm`.
int64_t orpm_readout_cpu(const SkeletonTables& sk, const ReadoutParams& rp, int64_t B, int64_t Q,
                         int64_t P, int64_t H, int64_t W, const float* orpm, const int64_t* pos,
                         const float* scores, const uint8_t* det, const int64_t* num_formed,
                         const int64_t* people, const int64_t* num_people,
                         const float* mean_bones, float* joints3d, int8_t* rule, int16_t* joint,
                         int num_threads);

}  // namespace ssmp3d

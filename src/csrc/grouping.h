// Greedy associative-embedding grouping of one image's joint candidates
// (DESIGN.md section 6.3; the exact specification is the Python reference
// ssmp3d/decoding/grouping.py). No libtorch, no globals: everything the grouper
// needs is in GroupParams and the candidate table.
//
// Candidates: for joint type k, ranks r = 0 .. counts[k]-1 of a [K, M] table.
// Global order: score descending, then joint ascending, then rank ascending
// (NaN scores, which the checked callers never pass, sort last). People are
// seeded by the neck candidates in rank order, each grown fully; then the
// first free candidate in global order seeds the next person, until none is
// left. Growing takes the first candidate in global order that is free, of
// a joint type the person lacks and whose tag distance to the person's
// reference tag (float64 running mean) is strictly below tag_threshold.
#pragma once

#include <cstdint>
#include <vector>

#include "assignment.h"

namespace ssmp3d {

enum GroupingCode : int { kGroupPaper = 0, kGroupAssign = 1 };
enum PersonScoreCode : int { kScoreDetected = 0, kScoreAll = 1 };

struct GroupParams {
  int64_t K = 0;             // joint types
  int64_t M = 0;             // candidate slots per joint type
  int64_t D = 1;             // tag dimension
  int64_t neck = -1;         // seeds people first (paper); outside [0, K): no neck seeding
  double tag_threshold = 1;  // a candidate joins when distance < tag_threshold
  int64_t min_joints = 2;    // people with fewer joints are not kept
  int64_t max_people = 30;   // at most this many people are kept
  int strategy = kGroupPaper;
  double geometry_weight = 0;      // assignment: weight of the geometric cue
  int person_score = kScoreDetected;
  double min_person_score = 0;     // when > 0, people scoring below are not kept (NaN scores are)
  TreeTables tree;                 // assignment: parents, order, path lengths
  int64_t W = 0;                   // assignment: map width (candidate pixels from flat indices)
};

/// Every person formed in one image, in creation order, and the kept subset.
struct Grouping {
  int64_t Q = 0;                  // people formed
  std::vector<int32_t> assignment;  // [Q, K] candidate rank, -1 none
  std::vector<double> score;        // [Q] person score (sum of joint scores / count or / K)
  std::vector<double> tag;          // [Q, D] running sum of member tags / count
  std::vector<int32_t> num_joints;  // [Q]
  std::vector<int32_t> kept;        // kept rows in output order (score desc, creation order)
};

/// Working memory of the grouper, reused across images by one thread.
struct GroupScratch {
  std::vector<uint64_t> keys;     // sort keys: (descending score key << 32) | (k * M + r)
  std::vector<int32_t> ck, cr;    // joint and rank of global position g
  std::vector<float> cs;          // score of g
  std::vector<double> ct;         // [N, D] tag of g
  std::vector<int32_t> jstart;    // [K + 1] CSR offsets into jlist
  std::vector<int32_t> jlist;     // per joint type: its global positions, ascending
  std::vector<int32_t> jhead;     // [K] first possibly free entry of each joint's list
  std::vector<int32_t> pos_of;    // [K * M] global position of (k, r), -1 when absent
  std::vector<uint8_t> is_free;   // [N]
  std::vector<uint8_t> has;       // [K] joint types of the person being grown
  std::vector<double> tag_sum, ref;  // [D]
  std::vector<int32_t> clamped;     // [K] counts clamped to [0, M] (assignment)
  AssignScratch assign;             // the assignment strategy's
};

/// Groups one image with p.strategy. scores [K, M] float32, tags [K, M, D]
/// float64, counts [K] (clamped to [0, M]), indices [K, M] flat y*W+x (read
/// by the assignment strategy only; may be null for the paper's). Overwrites
/// `out`: the people in creation order, their scores (p.person_score) and
/// the kept subset (min_joints, min_person_score, then max_people by score).
void group_image(const GroupParams& p, const float* scores, const double* tags,
                 const int32_t* counts, const int64_t* indices, GroupScratch& s, Grouping& out);

/// Batched grouping with fixed-size outputs, images split across threads.
/// scores [B, K, M], tags [B, K, M, D], counts [B, K], indices [B, K, M]
/// (null for the paper's strategy). Outputs (contiguous):
/// assignment [B, K*M, K] int64 (-1 padding), person_scores [B, K*M] float64
/// (0 padding), person_tags [B, K*M, D] float64 (0 padding), num_formed [B]
/// int32, kept [B, P] int64 (-1 padding, P = max_people), num_kept [B] int32.
void group_candidates_cpu(const GroupParams& p, int64_t B, const float* scores,
                          const double* tags, const int32_t* counts, const int64_t* indices,
                          int64_t* assignment,
                          double* person_scores, double* person_tags, int32_t* num_formed,
                          int64_t* kept, int32_t* num_kept, int num_threads);

}  // namespace ssmp3d

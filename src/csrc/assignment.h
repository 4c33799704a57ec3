// Grouping by optimal assignment with a geometric cue (DESIGN.md section 6.3,
// DecodeConfig.grouping = "assign"). The exact specification, step by step,
// is ssmp3d/decoding/assignment.py; this code performs the same float64
// operations in the same order, so both form the same people bit for bit.
//
// 1. Scale prior s0: median over candidates of (distance to the nearest
//    parent-joint candidate) / bone length.
// 2. Per joint type in topological order: an optimal assignment (lap.h) of
//    the type's candidates to the people formed so far, cost = tag distance
//    + geometry_weight * (distance to the person's nearest grouped joint /
//    (tree path length * person scale)), gated by tag distance <
//    tag_threshold, leaving a candidate out costing tag_threshold +
//    geometry_weight; only the first max_people people take joints;
//    left-out candidates start new people.
// 3. With geometry_weight > 0: fragments with disjoint joint types, close
//    tags and compatible positions merge, best pair first.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "lap.h"

namespace ssmp3d {

/// Tag distance in float64 (grouping.py: tag_distance): |t - r| for D = 1, else
/// the Euclidean norm with the squares summed in order of d. Both strategies use it.
inline double tag_distance(const double* t, const double* r, int64_t D) {
  double diff = t[0] - r[0];
  if (D == 1) return std::fabs(diff);
  double acc = diff * diff;
  for (int64_t d = 1; d < D; ++d) {
    diff = t[d] - r[d];
    acc = acc + diff * diff;
  }
  return std::sqrt(acc);
}

/// Largest normalised gap between two fragments that may merge (assignment.py: MERGE_LIMIT).
constexpr double kMergeLimit = 1.5;

/// sqrt(dx * dx + dy * dy) between pixels a and b (assignment.py: _dist(a, b)).
inline double pixel_dist(const double* a, const double* b) {
  const double dx = a[0] - b[0];
  const double dy = a[1] - b[1];
  return std::sqrt(dx * dx + dy * dy);
}

/// The skeleton tree as the assignment strategy reads it.
struct TreeTables {
  const int64_t* parents = nullptr;  // [K], -1 for the root
  const int64_t* order = nullptr;    // [K] topological order, the root first
  const double* path = nullptr;      // [K, K] tree path lengths in metres (> 0 off the diagonal)
};

/// The people the assignment strategy formed (creation order, merged ones removed).
struct AssignPeople {
  int64_t Q = 0;
  std::vector<int32_t> rows;       // [Q, K] candidate rank, -1 none
  std::vector<double> pos;         // [Q, K, 2] pixel of each grouped joint
  std::vector<double> tag_sum;     // [Q, D]
  std::vector<int32_t> count;      // [Q]
  std::vector<double> score_sum;   // [Q]
  std::vector<double> scale;       // [Q] pixels per metre, 0 unknown
};

/// Working memory, reused across images by one thread.
struct AssignScratch {
  AssignPeople people;
  std::vector<double> xy;          // [K, M, 2] candidate pixels
  std::vector<double> prior;       // scale-prior values
  std::vector<double> ref;         // [Q, D]
  std::vector<double> dist;        // [n, Q] tag distances of one joint type
  std::vector<int32_t> rows, cols; // candidates and people in the assignment
  std::vector<uint8_t> allowed;    // [Q] some candidate of the type is within the gate
  std::vector<double> col_geo;     // [cols, 3] anchor x, y, path * scale (0: no anchor)
  std::vector<double> cost;        // [rows, cols + rows]
  std::vector<int32_t> col_of_row;
  std::vector<int32_t> joined;     // [n] person joined, -1
  int64_t words = 1;               // 64-bit words of a joint-type mask
  std::vector<int32_t> members;    // [Q, K] joint types of each person, count[q] of them
  std::vector<uint64_t> mask;      // [Q, words] joint-type bits
  std::vector<double> best_key;    // [Q] each row's smallest merge key
  std::vector<int32_t> best_b;     // [Q] and its partner, -1
  std::vector<uint8_t> alive;      // [Q]
  std::vector<int32_t> child_start; // [K + 1] offsets into children
  std::vector<int32_t> children;   // the tree's children, grouped by parent
  std::vector<int32_t> child_fill; // [K] write cursors while filling children
  std::vector<int32_t> near;       // [K, K] row k: joints by (path[j, k], j)
  LapScratch lap;
};

/// Step 3 (assignment_merge.cpp): with s.people formed by the per-type
/// assignments and s.words set, merges fragments among the first max_people
/// people, best pair first, and compacts the survivors in creation order.
void merge_fragments(int64_t K, int64_t D, const TreeTables& tree, double thr, double w, double s0,
                     int64_t max_people, AssignScratch& s);

/// Forms one image's people. scores [K, M] float32, tags [K, M, D] float64,
/// counts [K] in [0, M], indices [K, M] flat y*W+x. The result is in
/// s.people.
void group_by_assignment(int64_t K, int64_t M, int64_t D, int64_t W, const TreeTables& tree,
                         double tag_threshold, double geometry_weight, int64_t max_people,
                         const float* scores, const double* tags, const int32_t* counts,
                         const int64_t* indices, AssignScratch& s);

}  // namespace ssmp3d

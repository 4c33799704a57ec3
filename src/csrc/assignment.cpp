// Grouping by optimal assignment; see assignment.h for the contract and
// ssmp3d/decoding/assignment.py for the specification it reproduces.
//
// Work split: one image per call, single-threaded (group_candidates_cpu and
// the decoders hand whole images to threads). Cost per joint type: the tag
// distances of its n candidates to the Q people, the geometric term for the
// pairs within the tag gate, and one assignment over the candidates and
// people that have such a pair (lap.h). Step 3, the merging of fragments,
// is in assignment_merge.cpp.
#include "assignment.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ssmp3d {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// person_scale of person q after joint k joined it, from its scale before:
// only the pairs (k, parent k) and (child c, k) are new.
double person_scale_with(const AssignPeople& P, int64_t q, int64_t k, int64_t K, const TreeTables& tree,
                         const AssignScratch& s) {
  const int32_t* row = P.rows.data() + q * K;
  const double* pos = P.pos.data() + q * K * 2;
  double best = P.scale[q];
  const int64_t p = tree.parents[k];
  if (p >= 0 && row[p] >= 0) best = std::max(best, pixel_dist(pos + 2 * k, pos + 2 * p) / tree.path[k * K + p]);
  for (int32_t i = s.child_start[k]; i < s.child_start[k + 1]; ++i) {
    const int64_t c = s.children[i];
    if (row[c] >= 0) best = std::max(best, pixel_dist(pos + 2 * c, pos + 2 * k) / tree.path[c * K + k]);
  }
  return best;
}

// Per image: children lists of the tree, and for each joint type k the joints in
// order of (path[j, k], j): a person's anchor for k is the first one it has.
void tree_orders(int64_t K, const TreeTables& tree, AssignScratch& s) {
  s.child_start.assign(K + 1, 0);
  for (int64_t j = 0; j < K; ++j)
    if (tree.parents[j] >= 0) ++s.child_start[tree.parents[j] + 1];
  for (int64_t k = 0; k < K; ++k) s.child_start[k + 1] += s.child_start[k];
  s.children.resize(s.child_start[K]);
  std::vector<int32_t>& fill = s.child_fill;  // write cursors
  fill.assign(s.child_start.begin(), s.child_start.end() - 1);
  for (int64_t j = 0; j < K; ++j)
    if (tree.parents[j] >= 0) s.children[fill[tree.parents[j]]++] = static_cast<int32_t>(j);
  s.near.resize(K * K);
  for (int64_t k = 0; k < K; ++k) {
    int32_t* order = s.near.data() + k * K;
    for (int64_t j = 0; j < K; ++j) order[j] = static_cast<int32_t>(j);
    // Stable insertion sort by path length (K is small; no allocation, unlike std::stable_sort).
    for (int64_t i = 1; i < K; ++i) {
      const int32_t j = order[i];
      const double key = tree.path[j * K + k];
      int64_t pos = i;
      for (; pos > 0 && key < tree.path[order[pos - 1] * K + k]; --pos) order[pos] = order[pos - 1];
      order[pos] = j;
    }
  }
}

// Step 1: the image's scale prior s0.
double scale_prior(int64_t K, int64_t M, const TreeTables& tree, const int32_t* counts,
                   AssignScratch& s) {
  s.prior.clear();
  for (int64_t k = 0; k < K; ++k) {
    const int64_t p = tree.parents[k];
    if (p < 0 || counts[k] == 0 || counts[p] == 0) continue;
    for (int64_t i = 0; i < counts[k]; ++i) {
      // sqrt is correctly rounded and monotone, so the square root of the
      // smallest squared distance is the smallest distance, bit for bit.
      const double* a = &s.xy[2 * (k * M + i)];
      double nearest2 = kInf;
      for (int64_t j = 0; j < counts[p]; ++j) {
        const double* b = &s.xy[2 * (p * M + j)];
        const double dx = a[0] - b[0], dy = a[1] - b[1];
        nearest2 = std::min(nearest2, dx * dx + dy * dy);
      }
      s.prior.push_back(std::sqrt(nearest2) / tree.path[k * K + p]);
    }
  }
  if (s.prior.empty()) return 0.0;
  // The median: the element of rank h (and, for an even count, the largest
  // of the ranks below it) are the values a full sort would put there.
  const size_t h = s.prior.size() / 2;
  std::nth_element(s.prior.begin(), s.prior.begin() + h, s.prior.end());
  if (s.prior.size() % 2) return s.prior[h];
  const double below = *std::max_element(s.prior.begin(), s.prior.begin() + h);
  return (below + s.prior[h]) / 2.0;
}

void new_person(AssignPeople& P, int64_t K, int64_t D, int64_t k, int32_t r, const double* tag,
                float score, const double* xy) {
  const int64_t q = P.Q++;
  P.rows.resize((q + 1) * K, -1);
  P.pos.resize((q + 1) * K * 2, 0.0);
  P.rows[q * K + k] = r;
  P.pos[(q * K + k) * 2] = xy[0];
  P.pos[(q * K + k) * 2 + 1] = xy[1];
  for (int64_t d = 0; d < D; ++d) P.tag_sum.push_back(0.0 + tag[d]);
  P.count.push_back(1);
  P.score_sum.push_back(0.0 + static_cast<double>(score));
  P.scale.push_back(0.0);
}

}  // namespace

void group_by_assignment(int64_t K, int64_t M, int64_t D, int64_t W, const TreeTables& tree,
                         double tag_threshold, double geometry_weight, int64_t max_people,
                         const float* scores, const double* tags, const int32_t* counts,
                         const int64_t* indices, AssignScratch& s) {
  AssignPeople& P = s.people;
  P.Q = 0;
  P.rows.clear();
  P.pos.clear();
  P.tag_sum.clear();
  P.count.clear();
  P.score_sum.clear();
  P.scale.clear();
  const double thr = tag_threshold, w = geometry_weight;
  s.xy.resize(K * M * 2);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t r = 0; r < counts[k]; ++r) {
      const int64_t f = indices[k * M + r];
      s.xy[2 * (k * M + r)] = static_cast<double>(f % W);
      s.xy[2 * (k * M + r) + 1] = static_cast<double>(f / W);
    }
  const double s0 = w > 0 ? scale_prior(K, M, tree, counts, s) : 0.0;
  tree_orders(K, tree, s);

  for (int64_t oi = 0; oi < K; ++oi) {
    const int64_t k = tree.order[oi];
    const int64_t n = counts[k];
    if (n == 0) continue;
    const int64_t Q = std::min(P.Q, max_people);  // the people that may take a joint
    s.joined.assign(n, -1);
    if (Q > 0) {
      // Tag distances to every person's reference tag, and the gate.
      s.ref.resize(Q * D);
      for (int64_t q = 0; q < Q; ++q)
        for (int64_t d = 0; d < D; ++d)
          s.ref[q * D + d] = P.tag_sum[q * D + d] / static_cast<double>(P.count[q]);
      s.dist.resize(n * Q);
      s.rows.clear();
      s.allowed.assign(Q, 0);
      uint8_t* allowed = s.allowed.data();
      for (int64_t i = 0; i < n; ++i) {
        double* dist = s.dist.data() + i * Q;
        uint8_t any = 0;
        if (D == 1) {  // |t - r|, as tag_distance; loops the compiler vectorises
          const double t = tags[k * M + i];
          const double* ref = s.ref.data();
          for (int64_t q = 0; q < Q; ++q) dist[q] = std::fabs(t - ref[q]);
        } else {
          for (int64_t q = 0; q < Q; ++q) dist[q] = tag_distance(tags + (k * M + i) * D, s.ref.data() + q * D, D);
        }
        for (int64_t q = 0; q < Q; ++q) {
          const uint8_t in = dist[q] < thr;
          allowed[q] |= in;
          any |= in;
        }
        if (any) s.rows.push_back(static_cast<int32_t>(i));
      }
      if (!s.rows.empty()) {
        // People allowed for no candidate of this type take no column (every
        // candidate within the gate of someone is a row).
        s.cols.clear();
        for (int64_t q = 0; q < Q; ++q)
          if (allowed[q]) s.cols.push_back(static_cast<int32_t>(q));
        const int64_t nr = static_cast<int64_t>(s.rows.size());
        const int64_t nc = static_cast<int64_t>(s.cols.size());
        const int64_t m = nc + nr;
        // Per column: the anchor (the grouped joint with the smallest
        // (path[j, k], j)) and path * scale, the geometric term's divisor;
        // 0 there when the person has no scale (path > 0 off the diagonal).
        s.col_geo.assign(nc * 3, 0.0);
        if (w > 0) {
          for (int64_t ci = 0; ci < nc; ++ci) {
            const int64_t q = s.cols[ci];
            const double sc = P.scale[q] > 0 ? P.scale[q] : s0;
            if (!(sc > 0)) continue;
            const int32_t* row = P.rows.data() + q * K;
            const int32_t* order = s.near.data() + k * K;
            int64_t best = order[0];
            for (int64_t i = 1; row[best] < 0; ++i) best = order[i];
            double* geo = s.col_geo.data() + ci * 3;
            geo[0] = P.pos[(q * K + best) * 2];
            geo[1] = P.pos[(q * K + best) * 2 + 1];
            geo[2] = tree.path[best * K + k] * sc;
          }
        }
        s.cost.resize(nr * m);
        for (int64_t ri = 0; ri < nr; ++ri) {
          const int64_t i = s.rows[ri];
          const double* dist = s.dist.data() + i * Q;
          const double* xy = &s.xy[2 * (k * M + i)];
          double* cost = s.cost.data() + ri * m;
          for (int64_t ci = 0; ci < nc; ++ci) {
            const double d = dist[s.cols[ci]];
            double c = kInf;
            if (d < thr) {
              if (w > 0) {
                const double* geo = s.col_geo.data() + ci * 3;
                const double g = geo[2] > 0.0 ? pixel_dist(xy, geo) / geo[2] : 0.0;
                c = d + w * g;
              } else {
                c = d;
              }
            }
            cost[ci] = c;
          }
          std::fill(cost + nc, cost + m, thr + w);  // the leave-out columns
        }
        s.col_of_row.resize(nr);
        solve_assignment(s.cost.data(), nr, m, nr, s.lap, s.col_of_row.data());
        for (int64_t ri = 0; ri < nr; ++ri)
          if (s.col_of_row[ri] < nc) s.joined[s.rows[ri]] = s.cols[s.col_of_row[ri]];
      }
    }
    for (int64_t r = 0; r < n; ++r) {
      const int64_t q = s.joined[r];
      if (q < 0) continue;
      P.rows[q * K + k] = static_cast<int32_t>(r);
      P.pos[(q * K + k) * 2] = s.xy[2 * (k * M + r)];
      P.pos[(q * K + k) * 2 + 1] = s.xy[2 * (k * M + r) + 1];
      const double* t = tags + (k * M + r) * D;
      for (int64_t d = 0; d < D; ++d) P.tag_sum[q * D + d] = P.tag_sum[q * D + d] + t[d];
      P.count[q] += 1;
      P.score_sum[q] += static_cast<double>(scores[k * M + r]);
      P.scale[q] = person_scale_with(P, q, k, K, tree, s);
    }
    for (int64_t r = 0; r < n; ++r)
      if (s.joined[r] < 0)
        new_person(P, K, D, k, static_cast<int32_t>(r), tags + (k * M + r) * D, scores[k * M + r],
                   &s.xy[2 * (k * M + r)]);
  }
  s.words = (K + 63) / 64;
  if (w > 0) merge_fragments(K, D, tree, thr, w, s0, max_people, s);
}

}  // namespace ssmp3d

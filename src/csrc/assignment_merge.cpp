// Step 3 of the assignment grouping: merging fragments (assignment.py: _merge);
// see assignment.h for the contract.
//
// Work split: one image per call, single-threaded, like group_by_assignment.
// Each of the first max_people people keeps its best partner (smallest key,
// ties to the smallest index); a merge updates O(Q) rows, so merging costs
// O(Q^2) key updates in all.
#include <algorithm>
#include <cmath>
#include <limits>

#include "assignment.h"

namespace ssmp3d {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Largest dist(j, parent j) / path[j, parent j] over the person's grouped pairs, 0 if none.
// (A maximum of the same values in any order is the same double: joins update it
// with the new joint's pairs only, person_scale_with.)
double person_scale(const AssignPeople& P, int64_t q, int64_t K, const TreeTables& tree) {
  const int32_t* row = P.rows.data() + q * K;
  const double* pos = P.pos.data() + q * K * 2;
  double best = 0.0;
  for (int64_t j = 0; j < K; ++j) {
    const int64_t p = tree.parents[j];
    if (p >= 0 && row[j] >= 0 && row[p] >= 0)
      best = std::max(best, pixel_dist(pos + 2 * j, pos + 2 * p) / tree.path[j * K + p]);
  }
  return best;
}

// Step 3: dt + w * gb of merging b into a (a < b), or inf when they may not merge.
double merge_key(const AssignScratch& s, int64_t a, int64_t b, int64_t K, int64_t D,
                 const TreeTables& tree, double thr, double w, double s0, double* ref_a,
                 double* ref_b) {
  const AssignPeople& P = s.people;
  const int64_t nw = s.words;
  for (int64_t i = 0; i < nw; ++i)
    if (s.mask[a * nw + i] & s.mask[b * nw + i]) return kInf;
  for (int64_t d = 0; d < D; ++d) {
    ref_a[d] = P.tag_sum[a * D + d] / static_cast<double>(P.count[a]);
    ref_b[d] = P.tag_sum[b * D + d] / static_cast<double>(P.count[b]);
  }
  const double dt = tag_distance(ref_a, ref_b, D);
  if (!(dt < thr)) return kInf;
  double sc = std::max(P.scale[a], P.scale[b]);
  if (sc == 0.0) sc = s0;
  if (sc == 0.0) return kInf;
  double ratio = kInf;
  const double* pa = P.pos.data() + a * K * 2;
  const double* pb = P.pos.data() + b * K * 2;
  const int32_t* ma = s.members.data() + a * K;
  const int32_t* mb = s.members.data() + b * K;
  for (int32_t i = 0; i < P.count[a]; ++i) {
    const int64_t x = ma[i];
    for (int32_t j = 0; j < P.count[b]; ++j) {
      const int64_t y = mb[j];
      ratio = std::min(ratio, pixel_dist(pa + 2 * x, pb + 2 * y) / tree.path[x * K + y]);
    }
  }
  const double gb = ratio / sc;
  if (!(gb <= kMergeLimit)) return kInf;
  return dt + w * gb;
}

// Row o's best pair: the smallest key over alive b > o, ties to the smallest b.
void refresh_row(AssignScratch& s, int64_t o, int64_t Qm, int64_t K, int64_t D, const TreeTables& tree,
                 double thr, double w, double s0) {
  double* ra = s.ref.data();
  double* rb = ra + D;
  double best = kInf;
  int64_t at = -1;
  for (int64_t b = o + 1; b < Qm; ++b) {
    if (!s.alive[b]) continue;
    const double key = merge_key(s, o, b, K, D, tree, thr, w, s0, ra, rb);
    if (key < best) {
      best = key;
      at = b;
    }
  }
  s.best_key[o] = best;
  s.best_b[o] = static_cast<int32_t>(at);
}

// Step 3 (assignment.py: _merge): among the first max_people people, the pair
// with the smallest key merges first, ties to the smallest a, then b; each row
// keeps its best pair.
}  // namespace

void merge_fragments(int64_t K, int64_t D, const TreeTables& tree, double thr, double w, double s0,
                     int64_t max_people, AssignScratch& s) {
  AssignPeople& P = s.people;
  const int64_t Q = std::min(P.Q, max_people);  // the people that may merge
  if (Q < 2) return;
  const int64_t nw = s.words;
  // Joint lists and masks of the people.
  s.members.assign(Q * K, -1);
  s.mask.assign(Q * nw, 0);
  for (int64_t q = 0; q < Q; ++q) {
    int32_t n = 0;
    for (int64_t k = 0; k < K; ++k)
      if (P.rows[q * K + k] >= 0) {
        s.members[q * K + n++] = static_cast<int32_t>(k);
        s.mask[q * nw + k / 64] |= uint64_t{1} << (k % 64);
      }
  }
  s.alive.assign(Q, 1);
  s.best_key.assign(Q, kInf);
  s.best_b.assign(Q, -1);
  s.ref.resize(2 * D);
  for (int64_t o = 0; o < Q; ++o) refresh_row(s, o, Q, K, D, tree, thr, w, s0);
  double* ra = s.ref.data();
  double* rb = ra + D;
  for (;;) {
    int64_t a = 0;
    for (int64_t o = 1; o < Q; ++o)
      if (s.best_key[o] < s.best_key[a]) a = o;
    if (!(s.best_key[a] < kInf)) break;
    const int64_t b = s.best_b[a];
    for (int32_t i = 0; i < P.count[b]; ++i) {
      const int64_t k = s.members[b * K + i];
      P.rows[a * K + k] = P.rows[b * K + k];
      P.pos[(a * K + k) * 2] = P.pos[(b * K + k) * 2];
      P.pos[(a * K + k) * 2 + 1] = P.pos[(b * K + k) * 2 + 1];
      s.members[a * K + P.count[a] + i] = static_cast<int32_t>(k);
    }
    for (int64_t i = 0; i < nw; ++i) s.mask[a * nw + i] |= s.mask[b * nw + i];
    for (int64_t d = 0; d < D; ++d) P.tag_sum[a * D + d] = P.tag_sum[a * D + d] + P.tag_sum[b * D + d];
    P.count[a] += P.count[b];
    P.score_sum[a] += P.score_sum[b];
    P.scale[a] = person_scale(P, a, K, tree);
    s.alive[b] = 0;
    s.best_key[b] = kInf;
    s.best_b[b] = -1;
    refresh_row(s, a, Q, K, D, tree, thr, w, s0);
    for (int64_t o = 0; o < a; ++o) {
      if (!s.alive[o]) continue;
      const double key = merge_key(s, o, a, K, D, tree, thr, w, s0, ra, rb);
      if (s.best_b[o] == a || s.best_b[o] == b) {
        refresh_row(s, o, Q, K, D, tree, thr, w, s0);
      } else if (key < s.best_key[o] || (key == s.best_key[o] && a < s.best_b[o])) {
        s.best_key[o] = key;
        s.best_b[o] = static_cast<int32_t>(a);
      }
    }
    for (int64_t o = a + 1; o < b; ++o)
      if (s.alive[o] && s.best_b[o] == b) refresh_row(s, o, Q, K, D, tree, thr, w, s0);
  }
  // Compact the survivors in creation order (people beyond Q never merge).
  int64_t n = 0;
  for (int64_t q = 0; q < P.Q; ++q) {
    if (q < Q && !s.alive[q]) continue;
    if (n != q) {
      std::copy(P.rows.begin() + q * K, P.rows.begin() + (q + 1) * K, P.rows.begin() + n * K);
      std::copy(P.pos.begin() + q * K * 2, P.pos.begin() + (q + 1) * K * 2, P.pos.begin() + n * K * 2);
      std::copy(P.tag_sum.begin() + q * D, P.tag_sum.begin() + (q + 1) * D, P.tag_sum.begin() + n * D);
      P.count[n] = P.count[q];
      P.score_sum[n] = P.score_sum[q];
      P.scale[n] = P.scale[q];
    }
    ++n;
  }
  P.Q = n;
  P.rows.resize(n * K);
  P.pos.resize(n * K * 2);
  P.tag_sum.resize(n * D);
  P.count.resize(n);
  P.score_sum.resize(n);
  P.scale.resize(n);
}

}  // namespace ssmp3d

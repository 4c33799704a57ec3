// Greedy grouping; see grouping.h for the contract.
//
// Work split (group_candidates_cpu): images are independent; threads claim
// whole images from an atomic counter (parallel.h), each with its own
// GroupScratch and Grouping, and write only their images' output rows.
//
// Per image: one sort of the N candidates into global order (64-bit keys),
// then per joint type the list of its global positions in ascending order.
// Growing a person needs the first candidate in global order that is free,
// of a missing joint type and within the tag threshold. Per joint type that
// is the first qualifying entry of its list; the person takes the smallest
// of these over the missing types. Each list scan stops as soon as it passes
// the best position found so far, and skips the assigned prefix of the list.
#include "grouping.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "parallel.h"

namespace ssmp3d {

namespace {

// Sort key: ascending key == descending score; -0.0 and 0.0 are equal; NaN last.
inline uint32_t descending_score_key(float s) {
  if (std::isnan(s)) return 0xFFFFFFFFu;
  if (s == 0.0f) s = 0.0f;  // -0.0 -> +0.0
  uint32_t bits;
  std::memcpy(&bits, &s, sizeof bits);
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return ~ascending;
}

// Person order: score descending, NaN last (numpy argsort(-score) order).
inline bool ranks_before(double a, double b) {
  return !std::isnan(a) && (std::isnan(b) || a > b);
}

}  // namespace

namespace {

// Person scores from the float64 score sums (held in out.score), then the
// kept subset: min_joints, min_person_score (0 drops nobody; NaN scores pass),
// max_people by score (ties in creation order). grouping.py: _finish.
void finish_grouping(const GroupParams& p, Grouping& out) {
  for (int64_t q = 0; q < out.Q; ++q)
    out.score[q] = out.score[q] / static_cast<double>(p.person_score == kScoreAll ? p.K : out.num_joints[q]);
  out.kept.clear();
  for (int64_t q = 0; q < out.Q; ++q)
    if (out.num_joints[q] >= p.min_joints &&
        (p.min_person_score <= 0 || !(out.score[q] < p.min_person_score)))
      out.kept.push_back(static_cast<int32_t>(q));
  std::stable_sort(out.kept.begin(), out.kept.end(), [&](int32_t a, int32_t b) {
    return ranks_before(out.score[a], out.score[b]);
  });
  if (static_cast<int64_t>(out.kept.size()) > p.max_people) out.kept.resize(p.max_people);
}

void group_assign(const GroupParams& p, const float* scores, const double* tags,
                  const int32_t* counts, const int64_t* indices, GroupScratch& s, Grouping& out) {
  const int64_t K = p.K, M = p.M, D = p.D;
  s.clamped.resize(K);
  for (int64_t k = 0; k < K; ++k)
    s.clamped[k] = static_cast<int32_t>(std::min<int64_t>(std::max<int32_t>(counts[k], 0), M));
  group_by_assignment(K, M, D, p.W, p.tree, p.tag_threshold, p.geometry_weight, p.max_people,
                      scores, tags, s.clamped.data(), indices, s.assign);
  const AssignPeople& P = s.assign.people;
  out.Q = P.Q;
  out.assignment.assign(P.rows.begin(), P.rows.end());
  out.score.assign(P.score_sum.begin(), P.score_sum.end());
  out.num_joints.assign(P.count.begin(), P.count.end());
  out.tag.resize(P.Q * D);
  for (int64_t q = 0; q < P.Q; ++q)
    for (int64_t d = 0; d < D; ++d) out.tag[q * D + d] = P.tag_sum[q * D + d] / static_cast<double>(P.count[q]);
  finish_grouping(p, out);
}

}  // namespace

void group_image(const GroupParams& p, const float* scores, const double* tags,
                 const int32_t* counts, const int64_t* indices, GroupScratch& s, Grouping& out) {
  if (p.strategy == kGroupAssign) {
    group_assign(p, scores, tags, counts, indices, s, out);
    return;
  }
  const int64_t K = p.K, M = p.M, D = p.D;
  // ---- candidates in global order
  s.keys.clear();
  for (int64_t k = 0; k < K; ++k) {
    const int64_t n = std::min<int64_t>(std::max<int32_t>(counts[k], 0), M);
    for (int64_t r = 0; r < n; ++r) {
      const uint64_t id = static_cast<uint64_t>(k * M + r);
      s.keys.push_back((static_cast<uint64_t>(descending_score_key(scores[k * M + r])) << 32) | id);
    }
  }
  std::sort(s.keys.begin(), s.keys.end());
  const int64_t N = static_cast<int64_t>(s.keys.size());
  s.ck.resize(N);
  s.cr.resize(N);
  s.cs.resize(N);
  s.ct.resize(N * D);
  s.is_free.assign(N, 1);
  s.pos_of.assign(K * M, -1);
  s.jstart.assign(K + 1, 0);
  for (int64_t g = 0; g < N; ++g) {
    const int64_t id = static_cast<int64_t>(s.keys[g] & 0xFFFFFFFFu);
    const int64_t k = id / M, r = id % M;
    s.ck[g] = static_cast<int32_t>(k);
    s.cr[g] = static_cast<int32_t>(r);
    s.cs[g] = scores[id];
    std::copy(tags + id * D, tags + id * D + D, s.ct.begin() + g * D);
    s.pos_of[id] = static_cast<int32_t>(g);
    ++s.jstart[k + 1];
  }
  for (int64_t k = 0; k < K; ++k) s.jstart[k + 1] += s.jstart[k];
  s.jlist.resize(N);
  s.jhead.assign(s.jstart.begin(), s.jstart.end() - 1);
  {
    std::vector<int32_t>& fill = s.jhead;  // used as write cursors, then reset
    for (int64_t g = 0; g < N; ++g) s.jlist[fill[s.ck[g]]++] = static_cast<int32_t>(g);
    s.jhead.assign(s.jstart.begin(), s.jstart.end() - 1);
  }

  out.Q = 0;
  out.assignment.clear();
  out.score.clear();
  out.tag.clear();
  out.num_joints.clear();
  out.kept.clear();
  s.has.resize(K);
  s.tag_sum.resize(D);
  s.ref.resize(D);
  const double thr = p.tag_threshold;

  auto grow = [&](int64_t g) {
    const int64_t q = out.Q++;
    out.assignment.resize((q + 1) * K, -1);
    int32_t* row = out.assignment.data() + q * K;
    std::fill(s.has.begin(), s.has.end(), 0);
    std::fill(s.tag_sum.begin(), s.tag_sum.end(), 0.0);
    double score_sum = 0.0;
    int64_t count = 0;
    for (;;) {
      const int32_t k = s.ck[g];
      row[k] = s.cr[g];
      s.is_free[g] = 0;
      s.has[k] = 1;
      const double* t = s.ct.data() + g * D;
      for (int64_t d = 0; d < D; ++d) s.tag_sum[d] = s.tag_sum[d] + t[d];
      score_sum += static_cast<double>(s.cs[g]);
      ++count;
      for (int64_t d = 0; d < D; ++d) s.ref[d] = s.tag_sum[d] / static_cast<double>(count);
      int64_t best = N;
      for (int64_t kk = 0; kk < K; ++kk) {
        if (s.has[kk]) continue;
        int32_t i = s.jhead[kk];
        const int32_t end = s.jstart[kk + 1];
        while (i < end && !s.is_free[s.jlist[i]]) ++i;  // assigned prefix: skip for good
        s.jhead[kk] = i;
        for (; i < end; ++i) {
          const int32_t g2 = s.jlist[i];
          if (g2 >= best) break;
          if (!s.is_free[g2]) continue;
          if (tag_distance(s.ct.data() + g2 * D, s.ref.data(), D) < thr) {
            best = g2;
            break;
          }
        }
      }
      if (best == N) break;
      g = best;
    }
    out.score.push_back(score_sum);  // the sum; finish_grouping divides
    out.tag.insert(out.tag.end(), s.ref.begin(), s.ref.end());
    out.num_joints.push_back(static_cast<int32_t>(count));
  };

  if (p.neck >= 0 && p.neck < K) {
    const int64_t n = std::min<int64_t>(std::max<int32_t>(counts[p.neck], 0), M);
    for (int64_t r = 0; r < n; ++r) {
      const int32_t g = s.pos_of[p.neck * M + r];
      if (s.is_free[g]) grow(g);
    }
  }
  for (int64_t g = 0; g < N; ++g)
    if (s.is_free[g]) grow(g);

  finish_grouping(p, out);
}

void group_candidates_cpu(const GroupParams& p, int64_t B, const float* scores,
                          const double* tags, const int32_t* counts, const int64_t* indices,
                          int64_t* assignment,
                          double* person_scores, double* person_tags, int32_t* num_formed,
                          int64_t* kept, int32_t* num_kept, int num_threads) {
  const int64_t K = p.K, M = p.M, D = p.D, Qcap = K * M, P = p.max_people;
  struct Scratch {
    GroupScratch s;
    Grouping g;
  };
  parallel_items<Scratch>(B, thread_count(num_threads, B), [&](int64_t b, Scratch& w) {
    group_image(p, scores + b * K * M, tags + b * K * M * D, counts + b * K,
                indices ? indices + b * K * M : nullptr, w.s, w.g);
    const Grouping& g = w.g;
    int64_t* a = assignment + b * Qcap * K;
    std::copy(g.assignment.begin(), g.assignment.end(), a);
    std::fill(a + g.Q * K, a + Qcap * K, int64_t{-1});
    double* ps = person_scores + b * Qcap;
    std::copy(g.score.begin(), g.score.end(), ps);
    std::fill(ps + g.Q, ps + Qcap, 0.0);
    double* pt = person_tags + b * Qcap * D;
    std::copy(g.tag.begin(), g.tag.end(), pt);
    std::fill(pt + g.Q * D, pt + Qcap * D, 0.0);
    num_formed[b] = static_cast<int32_t>(g.Q);
    int64_t* kp = kept + b * P;
    std::copy(g.kept.begin(), g.kept.end(), kp);
    std::fill(kp + g.kept.size(), kp + P, int64_t{-1});
    num_kept[b] = static_cast<int32_t>(g.kept.size());
  });
}

}  // namespace ssmp3d

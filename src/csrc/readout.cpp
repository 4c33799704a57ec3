// ORPM read-out; see readout.h for the contract.
//
// Work split (orpm_readout_cpu): images are independent; threads claim whole
// images from an atomic counter (parallel.h), each with its own
// ReadoutScratch, and write only their images' output rows. The fused
// decoder (decode.cpp) calls readout_image from its own per-image loop.
//
// Validity: the detected locations of all formed people are sorted by y; a
// sweep pairs each with the later ones while dy^2 < d^2 and records the
// pairs of different people at distance < d (both directions, CSR lists).
// Such crowding is rare, so a location's validity for map m is then a short
// walk over its crowding list: valid iff confident and no crowding location
// l' has S[m, l'].
#include "readout.h"

#include <algorithm>
#include <cmath>

#include "parallel.h"

namespace ssmp3d {

const char* SkeletonTables::check() const {
  if (K <= 0) return "K must be > 0";
  if (neck < 0 || neck >= K) return "neck out of range";
  if (pelvis < 0 || pelvis >= K) return "pelvis out of range";
  if (parents[pelvis] >= 0) return "the pelvis must be the root";
  std::vector<uint8_t> placed(K, 0);
  for (int64_t i = 0; i < K; ++i) {
    const int64_t j = topo[i];
    if (j < 0 || j >= K || placed[j]) return "topological order is not a permutation";
    const int64_t par = parents[j];
    if (par >= K || par < -1 || (par >= 0 && !placed[par]) || (par < 0 && j != pelvis))
      return "parents out of range or not before their children";
    placed[j] = 1;
  }
  for (int64_t i = 0; i < K * K; ++i) {
    if (chains[i] < -1 || chains[i] >= K) return "read-out chain entry out of range";
    if (sets[i] != 0 && sets[i] != 1) return "read-out set entries must be 0 or 1";
  }
  return "";
}

namespace {

void build_crowding(const SkeletonTables& sk, const ReadoutParams& rp, int64_t Q,
                    const int64_t* pos, const float* scores, const uint8_t* det,
                    ReadoutScratch& s) {
  const int64_t K = sk.K;
  s.loc_of.assign(Q * K, -1);
  s.lq.clear();
  s.ll.clear();
  s.lx.clear();
  s.ly.clear();
  s.confident.clear();
  for (int64_t q = 0; q < Q; ++q) {
    for (int64_t l = 0; l < K; ++l) {
      const int64_t i = q * K + l;
      if (!det[i]) continue;
      s.loc_of[i] = static_cast<int32_t>(s.lq.size());
      s.lq.push_back(static_cast<int32_t>(q));
      s.ll.push_back(static_cast<int32_t>(l));
      s.lx.push_back(static_cast<int32_t>(pos[2 * i]));
      s.ly.push_back(static_cast<int32_t>(pos[2 * i + 1]));
      s.confident.push_back(scores[i] > rp.readout_threshold);
    }
  }
  const int64_t n = static_cast<int64_t>(s.lq.size());
  s.by_y.resize(n);
  for (int64_t a = 0; a < n; ++a) s.by_y[a] = static_cast<int32_t>(a);
  std::sort(s.by_y.begin(), s.by_y.end(), [&](int32_t a, int32_t b) {
    return s.ly[a] < s.ly[b] || (s.ly[a] == s.ly[b] && a < b);
  });
  const double d2 = rp.readout_min_dist * rp.readout_min_dist;
  s.pair_a.clear();
  s.pair_b.clear();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t a = s.by_y[i];
    for (int64_t j = i + 1; j < n; ++j) {
      const int32_t b = s.by_y[j];
      const double dy = static_cast<double>(s.ly[b]) - static_cast<double>(s.ly[a]);
      if (dy * dy >= d2) break;  // and so is every later one (rounding is monotonic)
      if (s.lq[a] == s.lq[b]) continue;
      const double dx = static_cast<double>(s.lx[b]) - static_cast<double>(s.lx[a]);
      if (dx * dx + dy * dy < d2) {
        s.pair_a.push_back(a);
        s.pair_b.push_back(b);
      }
    }
  }
  s.nstart.assign(n + 1, 0);
  for (size_t e = 0; e < s.pair_a.size(); ++e) {
    ++s.nstart[s.pair_a[e] + 1];
    ++s.nstart[s.pair_b[e] + 1];
  }
  for (int64_t a = 0; a < n; ++a) s.nstart[a + 1] += s.nstart[a];
  s.nbr.resize(s.nstart[n]);
  s.cursor.assign(s.nstart.begin(), s.nstart.end() - 1);
  for (size_t e = 0; e < s.pair_a.size(); ++e) {
    s.nbr[s.cursor[s.pair_a[e]]++] = s.pair_b[e];
    s.nbr[s.cursor[s.pair_b[e]]++] = s.pair_a[e];
  }
}

inline bool valid_for(const SkeletonTables& sk, const ReadoutScratch& s, int32_t a, int64_t m) {
  if (!s.confident[a]) return false;
  for (int32_t e = s.nstart[a]; e < s.nstart[a + 1]; ++e)
    if (sk.sets[m * sk.K + s.ll[s.nbr[e]]]) return false;
  return true;
}

}  // namespace

int64_t readout_image(const SkeletonTables& sk, const ReadoutParams& rp, int64_t Q,
                      const int64_t* pos, const float* scores, const uint8_t* det,
                      const int64_t* people, int64_t P, const OrpmSource& src,
                      const float* mean_bones, ReadoutScratch& s, float* joints3d, int8_t* rule,
                      int16_t* joint) {
  const int64_t K = sk.K;
  if (P <= 0) return 0;
  if (!rp.naive) build_crowding(sk, rp, Q, pos, scores, det, s);
  s.loc.resize(K);
  s.X.resize(K * 3);
  int64_t nans = 0;
  for (int64_t p = 0; p < P; ++p) {
    const int64_t q = people[p];
    const uint8_t* dq = det + q * K;
    float* X = joints3d + p * K * 3;
    int8_t* rl = rule + p * K;
    int16_t* jt = joint + p * K;
    for (int64_t j = 0; j < K; ++j) {
      int32_t loc = -1;
      if (j == sk.pelvis) {
      } else if (rp.naive) {
        loc = dq[j] ? static_cast<int32_t>(j) : -1;
      } else {
        const int64_t* chain = sk.chains + j * K;
        for (int64_t c = 0; c < K && chain[c] >= 0; ++c) {
          const int32_t a = s.loc_of[q * K + chain[c]];
          if (a >= 0 && valid_for(sk, s, a, j)) {
            loc = static_cast<int32_t>(chain[c]);
            break;
          }
        }
      }
      s.loc[j] = loc;
      jt[j] = static_cast<int16_t>(loc);
      if (j == sk.pelvis) rl[j] = kRuleRoot;
      else if (loc < 0) rl[j] = kRuleMean;
      else if (loc == j) rl[j] = kRuleOwn;
      else if (loc == sk.neck) rl[j] = kRuleNeck;
      else if (loc == sk.pelvis) rl[j] = kRulePelvis;
      else rl[j] = kRuleLimb;
    }
    // Bones in topological order, summed into X (float32, no FMA).
    for (int64_t i = 0; i < K; ++i) {
      const int64_t j = sk.topo[i], par = sk.parents[j];
      float v[3];
      const int32_t loc = s.loc[j];
      if (j == sk.pelvis) {
        v[0] = v[1] = v[2] = 0.0f;
      } else if (loc >= 0) {
        src.read(K, q, loc, j, pos + 2 * (q * K + loc), v);
        for (int c = 0; c < 3; ++c) nans += std::isnan(v[c]);
      } else {
        for (int c = 0; c < 3; ++c) v[c] = mean_bones[j * 3 + c];
      }
      for (int c = 0; c < 3; ++c) {
        if (par >= 0) {
          const float scaled = v[c] * 1000.0f;
          X[j * 3 + c] = X[par * 3 + c] + scaled;
        } else {
          X[j * 3 + c] = 0.0f;
        }
      }
    }
  }
  return nans;
}

int64_t orpm_readout_cpu(const SkeletonTables& sk, const ReadoutParams& rp, int64_t B, int64_t Q,
                         int64_t P, int64_t H, int64_t W, const float* orpm, const int64_t* pos,
                         const float* scores, const uint8_t* det, const int64_t* num_formed,
                         const int64_t* people, const int64_t* num_people,
                         const float* mean_bones, float* joints3d, int8_t* rule, int16_t* joint,
                         int num_threads) {
  const int64_t K = sk.K;
  std::atomic<int64_t> nan_total{0};
  parallel_items<ReadoutScratch>(B, thread_count(num_threads, B), [&](int64_t b,
                                                                       ReadoutScratch& s) {
    const int64_t n = num_people[b];
    float* X = joints3d + b * P * K * 3;
    int8_t* rl = rule + b * P * K;
    int16_t* jt = joint + b * P * K;
    const int64_t nans = readout_image(
        sk, rp, num_formed[b], pos + b * Q * K * 2, scores + b * Q * K, det + b * Q * K,
        people + b * P, n, maps_source(orpm + b * K * 3 * H * W, H, W), mean_bones, s, X, rl, jt);
    std::fill(X + n * K * 3, X + P * K * 3, 0.0f);
    std::fill(rl + n * K, rl + P * K, int8_t{kRuleNone});
    std::fill(jt + n * K, jt + P * K, int16_t{-1});
    if (nans) nan_total.fetch_add(nans, std::memory_order_relaxed);
  });
  return nan_total.load();
}

}  // namespace ssmp3d

// ORPM read-out: the work of one GPU thread, as a __host__ __device__ body.
//
// Included by readout_global.cuh (the kernel calls readout_thread for its
// thread index) and compilable by a host C++ compiler too (the shim below):
// tests/cuda_host/test_cuda_host_emulation.py runs the kernel thread by
// thread on the CPU and compares it with the C++ CPU op. Contract and rules:
// src/csrc/readout.h, DESIGN.md 6.4.
#pragma once

#include <cfloat>
#include <cstdint>
#include <limits>

#ifndef __CUDACC__
#define __host__
#define __device__
#define __forceinline__ inline
#endif

namespace ssmp3d {
namespace cuda {

/// Largest K on CUDA: the skeleton travels by value in the kernel parameters
/// and the read-out sets are 32-bit masks.
constexpr int kReadoutMaxJoints = 32;

/// Bits of the bad-input word (status[1]), one per argument.
enum ReadoutBad : int32_t {
  kBadNumFormed = 1, kBadNumPeople = 2, kBadPeople = 4, kBadPositions = 8,
};

/// The skeleton as a kernel parameter (by value, __grid_constant__).
struct ReadoutSkeleton {
  int32_t K, neck, pelvis;
  int8_t parents[kReadoutMaxJoints];                      // [K], -1 for the root
  int8_t topo[kReadoutMaxJoints];                         // [K] topological order
  int8_t chains[kReadoutMaxJoints * kReadoutMaxJoints];   // [K, K] chain of map m, -1 padded
  uint32_t crowd_maps[kReadoutMaxJoints];                 // [K] bit m set iff S[m, l]
  float mean_bones[kReadoutMaxJoints * 3];                // [K, 3] metres (host mean bones)
};

/// Device pointers (contiguous) and sizes of one call.
struct ReadoutArgs {
  const float* orpm;            // [B, K, 3, H, W]
  const int64_t* positions;     // [B, Q, K, 2] (x, y)
  const float* scores;          // [B, Q, K]
  const uint8_t* detected;      // [B, Q, K] 0/1
  const int64_t* num_formed;    // [B]
  const int64_t* people;        // [B, P]
  const int64_t* num_people;    // [B]
  const float* mean_bones;      // [K, 3] on the device, or null: ReadoutSkeleton::mean_bones
  float* joints3d;              // [B, P, K, 3]
  int8_t* rule;                 // [B, P, K]
  int16_t* joint;               // [B, P, K]
  int64_t B, Q, P, H, W, S;     // S = max(P, Q): threads per image
  float threshold;              // float32(readout_threshold)
  double min_dist2;             // readout_min_dist^2 (float64)
  bool naive;
};

/// What one thread found: NaN values read, ReadoutBad bits.
struct ReadoutThreadResult {
  int32_t nans;
  int32_t bad;
};

/// Host only: the float32 rounding torch applies to a Python float threshold
/// (as threshold_as<float> of the CPU ops: finite values beyond FLT_MAX go to
/// FLT_MAX or infinity by round-to-nearest-even, without undefined behaviour).
inline float readout_threshold_f32(double t) {
  constexpr double kOverflow = 0x1.ffffffp+127;  // midpoint between FLT_MAX and 2^128
  if (t >= kOverflow) return std::numeric_limits<float>::infinity();
  if (t <= -kOverflow) return -std::numeric_limits<float>::infinity();
  if (t > static_cast<double>(FLT_MAX)) return FLT_MAX;
  if (t < -static_cast<double>(FLT_MAX)) return -FLT_MAX;
  return static_cast<float>(t);
}

/// Host only: checks a skeleton table (int64 [2 + 2K, K], see
/// ssmp3d.ops.skeleton_table) as SkeletonTables::check does, plus K <= 32,
/// and packs it with the host mean bones ([K, 3] or null) into `out`.
/// Returns "" when well formed, else the problem.
inline const char* pack_readout_skeleton(const int64_t* table, int64_t K, int64_t neck,
                                         int64_t pelvis, const float* mean_bones,
                                         ReadoutSkeleton* out) {
  if (K <= 0) return "K must be > 0";
  if (K > kReadoutMaxJoints) return "K must be <= 32 on CUDA";
  if (neck < 0 || neck >= K) return "neck out of range";
  if (pelvis < 0 || pelvis >= K) return "pelvis out of range";
  const int64_t *parents = table, *topo = table + K, *chains = table + 2 * K,
                *sets = table + (2 + K) * K;
  if (parents[pelvis] >= 0) return "the pelvis must be the root";
  bool placed[kReadoutMaxJoints] = {};
  for (int64_t i = 0; i < K; ++i) {
    const int64_t j = topo[i];
    if (j < 0 || j >= K || placed[j]) return "topological order is not a permutation";
    const int64_t par = parents[j];
    if (par >= K || par < -1 || (par >= 0 && !placed[par]) || (par < 0 && j != pelvis))
      return "parents out of range or not before their children";
    placed[j] = true;
  }
  for (int64_t i = 0; i < K * K; ++i) {
    if (chains[i] < -1 || chains[i] >= K) return "read-out chain entry out of range";
    if (sets[i] != 0 && sets[i] != 1) return "read-out set entries must be 0 or 1";
  }
  *out = ReadoutSkeleton{};
  out->K = static_cast<int32_t>(K);
  out->neck = static_cast<int32_t>(neck);
  out->pelvis = static_cast<int32_t>(pelvis);
  for (int64_t j = 0; j < K; ++j) {
    out->parents[j] = static_cast<int8_t>(parents[j]);
    out->topo[j] = static_cast<int8_t>(topo[j]);
    for (int64_t c = 0; c < K; ++c) out->chains[j * K + c] = static_cast<int8_t>(chains[j * K + c]);
    for (int64_t m = 0; m < K; ++m)
      if (sets[m * K + j]) out->crowd_maps[j] |= uint32_t{1} << m;
    for (int c = 0; c < 3; ++c) out->mean_bones[j * 3 + c] = mean_bones ? mean_bones[j * 3 + c] : 0.0f;
  }
  return "";
}

/// Thread t = b * S + s of the grid (0 <= t < B * S).
///
/// Checks (never reading out of bounds on bad input): s == 0 checks
/// num_formed[b] and num_people[b]; s < num_formed[b] checks that the detected
/// joints of row s lie inside the map. Slot s < P reads person people[b, s]
/// when s < num_people[b] (valid index, own joints inside the map), else
/// writes the padding row (0, -1, -1).
__host__ __device__ __forceinline__ ReadoutThreadResult readout_thread(const ReadoutSkeleton& sk,
                                                                       const ReadoutArgs& a,
                                                                       int64_t t) {
  ReadoutThreadResult res{0, 0};
  const int64_t K = sk.K, Q = a.Q, P = a.P, H = a.H, W = a.W;
  const int64_t b = t / a.S, s = t - b * a.S;
  const int64_t nf = a.num_formed[b], np = a.num_people[b];
  const bool nf_ok = nf >= 0 && nf <= Q, np_ok = np >= 0 && np <= P;
  if (s == 0) res.bad |= (nf_ok ? 0 : kBadNumFormed) | (np_ok ? 0 : kBadNumPeople);
  const int64_t* pos_b = a.positions + b * Q * K * 2;
  const uint8_t* det_b = a.detected + b * Q * K;
  const float* sc_b = a.scores + b * Q * K;
  if (nf_ok && s < nf) {
    for (int64_t l = 0; l < K; ++l) {
      const int64_t* xy = pos_b + (s * K + l) * 2;
      if (det_b[s * K + l] && (xy[0] < 0 || xy[0] >= W || xy[1] < 0 || xy[1] >= H))
        res.bad |= kBadPositions;
    }
  }
  if (s >= P) return res;
  float* X = a.joints3d + (b * P + s) * K * 3;
  int8_t* rl = a.rule + (b * P + s) * K;
  int16_t* jt = a.joint + (b * P + s) * K;
  const int64_t q = a.people[b * P + s];
  bool live = nf_ok && np_ok && s < np;
  if (live && (q < 0 || q >= nf)) {
    res.bad |= kBadPeople;
    live = false;
  }
  // Own detected joints: pixel and whether a location there can be valid.
  int32_t ox[kReadoutMaxJoints], oy[kReadoutMaxJoints];
  uint32_t own = 0, confident = 0;
  for (int64_t l = 0; live && l < K; ++l) {
    if (!det_b[q * K + l]) continue;
    const int64_t x = pos_b[(q * K + l) * 2], y = pos_b[(q * K + l) * 2 + 1];
    if (x < 0 || x >= W || y < 0 || y >= H) live = false;  // flagged by thread (b, q)
    ox[l] = static_cast<int32_t>(x);
    oy[l] = static_cast<int32_t>(y);
    own |= uint32_t{1} << l;
    if (sc_b[q * K + l] > a.threshold) confident |= uint32_t{1} << l;
  }
  if (!live) {
    for (int64_t i = 0; i < K * 3; ++i) X[i] = 0.0f;
    for (int64_t j = 0; j < K; ++j) {
      rl[j] = -1;
      jt[j] = -1;
    }
    return res;
  }
  // crowded[l]: maps m for which own location l is invalid, i.e. some
  // detected joint l' of another formed person with S[m, l'] lies at
  // dx^2 + dy^2 < d^2 (float64). One pass over the image's formed people.
  uint32_t crowded[kReadoutMaxJoints];
  for (int64_t l = 0; l < K; ++l) crowded[l] = 0;
  if (!a.naive && confident) {
    for (int64_t q2 = 0; q2 < nf; ++q2) {
      if (q2 == q) continue;
      for (int64_t l2 = 0; l2 < K; ++l2) {
        const uint32_t maps = sk.crowd_maps[l2];
        if (!maps || !det_b[q2 * K + l2]) continue;
        const double x2 = static_cast<double>(static_cast<int32_t>(pos_b[(q2 * K + l2) * 2]));
        const double y2 = static_cast<double>(static_cast<int32_t>(pos_b[(q2 * K + l2) * 2 + 1]));
        for (int64_t l = 0; l < K; ++l) {
          if (!((confident >> l) & 1u) || (crowded[l] & maps) == maps) continue;
          const double dx = x2 - static_cast<double>(ox[l]), dy = y2 - static_cast<double>(oy[l]);
          const double dx2 = dx * dx, dy2 = dy * dy;
          if (dx2 + dy2 < a.min_dist2) crowded[l] |= maps;
        }
      }
    }
  }
  // Read-out joint and rule of every map j (map order, as the CPU).
  for (int64_t j = 0; j < K; ++j) {
    int32_t loc = -1;
    if (j == sk.pelvis) {
    } else if (a.naive) {
      loc = ((own >> j) & 1u) ? static_cast<int32_t>(j) : -1;
    } else {
      const int8_t* chain = sk.chains + j * K;
      for (int64_t c = 0; c < K && chain[c] >= 0; ++c) {
        const int32_t l = chain[c];
        if (((confident >> l) & 1u) && !((crowded[l] >> j) & 1u)) {
          loc = l;
          break;
        }
      }
    }
    jt[j] = static_cast<int16_t>(loc);
    int8_t r;
    if (j == sk.pelvis) r = 5;             // ROOT
    else if (loc < 0) r = 4;               // MEAN
    else if (loc == j) r = 0;              // OWN
    else if (loc == sk.neck) r = 2;        // NECK
    else if (loc == sk.pelvis) r = 3;      // PELVIS
    else r = 1;                            // LIMB
    rl[j] = r;
  }
  // Bones in topological order, summed into X (float32, no FMA contraction).
  const float* mb = a.mean_bones ? a.mean_bones : sk.mean_bones;
  const int64_t HW = H * W;
  const float* om = a.orpm + b * K * 3 * HW;
  for (int64_t i = 0; i < K; ++i) {
    const int64_t j = sk.topo[i], par = sk.parents[j];
    const int32_t loc = jt[j];
    float v[3];
    if (j == sk.pelvis) {
      v[0] = v[1] = v[2] = 0.0f;
    } else if (loc >= 0) {
      const int64_t* xy = pos_b + (q * K + loc) * 2;
      const float* src = om + j * 3 * HW + xy[1] * W + xy[0];
      for (int c = 0; c < 3; ++c) {
        v[c] = src[c * HW];
        res.nans += (v[c] != v[c]);
      }
    } else {
      for (int c = 0; c < 3; ++c) v[c] = mb[j * 3 + c];
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
  return res;
}

}  // namespace cuda
}  // namespace ssmp3d

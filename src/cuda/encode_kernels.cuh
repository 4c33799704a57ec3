// Per-thread bodies of the CUDA target encoders (encode.cu), written once for
// the device and the host: every function is __host__ __device__ and uses
// only operations that IEEE 754 defines exactly (+ - * / on double, fma,
// floor, rint, ldexp, float conversions, integer maths), so a host compiler
// with -ffp-contract=off computes the same bits as nvcc with --fmad=false.
// That is how the kernels are checked on a machine without a GPU:
// tests/cuda_host/test_cuda_host_emulation.py compiles the __global__
// kernels of encode_global.cuh (which call these bodies) with g++ and a CUDA
// emulation shim, runs every thread, and compares the outputs bit for bit
// with the CPU encoders (src/csrc/encode.cpp).
//
// Contract: src/csrc/encode.h. Thread i of an encoder owns output pixel
// i = ((b * K + k) * H + y) * W + x of map k of image b and loops over the
// people of image b; see encode.cu for why.
//
// The one non-IEEE step of the CPU is the heatmap's exp (glibc, float64,
// then rounded to float32). exp_to_float32 below reproduces its float32
// result: a fast float64 exp whose error is far below the margin of a
// float32-midpoint test decides almost every value; the rest (values whose
// exp lies within 2^-49 relative of a float32 rounding midpoint, about 3 in
// 1e8) are recomputed in double-double and rounded like a correctly rounded
// exp. docs/decisions.md states the resulting guarantee.
#pragma once

#include <math.h>

#include <cstdint>

#ifndef __CUDACC__  // host compiler: the CUDA qualifiers mean nothing
#define __host__
#define __device__
#define __forceinline__ inline __attribute__((always_inline))
#define SSMP3D_NOINLINE __attribute__((noinline))
#else
#define SSMP3D_NOINLINE __noinline__
#endif

namespace ssmp3d {
namespace cuda {
namespace kernels {

#define SSMP3D_HD __host__ __device__ __forceinline__

// ---------------------------------------------------------------- exp

// exp(a) <= 2^-288 below this: far below float32's smallest subnormal (2^-149),
// so float32(exp(a)) is +0 for any exp within a few ulps.
constexpr double kExpZeroBelow = -200.0;
constexpr double kInvLn2 = 0x1.71547652b82fep0;
// ln 2 split for Cody-Waite reduction: kLn2Hi has 32 significant bits, so k *
// kLn2Hi is exact for |k| < 2^21 (here |k| <= 289).
constexpr double kLn2Hi = 0x1.62e42feep-1;
constexpr double kLn2Lo = 0x1.a39ef35793c76p-33;
// ln 2 as a triple-double for the double-double path.
constexpr double kLn2A = 0x1.62e42fefa39efp-1;
constexpr double kLn2B = 0x1.abc9e3b39803fp-56;
constexpr double kLn2C = 0x1.7b57a079a1934p-111;

// Double-double helpers (hi + lo, |lo| <= ulp(hi) / 2 after normalisation).
struct DD {
  double hi, lo;
};

SSMP3D_HD DD two_sum(double a, double b) {
  const double s = a + b;
  const double bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}

SSMP3D_HD DD two_prod(double a, double b) {
  const double p = a * b;
  return {p, fma(a, b, -p)};
}

SSMP3D_HD DD dd_add(DD x, DD y) {
  const DD s = two_sum(x.hi, y.hi);
  const DD t = two_sum(x.lo, y.lo);
  DD u = two_sum(s.hi, s.lo + t.hi);
  return two_sum(u.hi, u.lo + t.lo);
}

SSMP3D_HD DD dd_mul(DD x, DD y) {
  const DD p = two_prod(x.hi, y.hi);
  return two_sum(p.hi, p.lo + (x.hi * y.lo + x.lo * y.hi));
}

SSMP3D_HD DD dd_div(DD x, double d) {  // x / d for a small positive integer d
  const double q1 = x.hi / d;
  const DD p = two_prod(q1, d);
  const double rem = ((x.hi - p.hi) - p.lo) + x.lo;
  return two_sum(q1, rem / d);
}

// exp(a) for a in (kExpZeroBelow, 0]: reduction a = k ln2 + r, |r| <= ln2/2
// (Cody-Waite), degree-13 Taylor polynomial (truncation < 2^-57), scaled
// by 2^k. Measured error at most 1.17 ulps (6e7 random arguments against
// a binary128 exp); exp_to_float32 needs less than 6.5.
SSMP3D_HD double exp_fast(double a) {
  const double k = rint(a * kInvLn2);
  const double r = (a - k * kLn2Hi) - k * kLn2Lo;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  return ldexp(p, static_cast<int>(k));
}

// The float64 nearest to exp(a), a in (kExpZeroBelow, 0], from a
// double-double evaluation (relative error about 2^-100): exact unless
// exp(a) lies within that distance of a float64 rounding midpoint.
SSMP3D_NOINLINE __host__ __device__ inline double exp_nearest(double a) {
  const double k = rint(a * kInvLn2);
  // r = a - k ln2 in double-double. a - k*kLn2A is exact (Sterbenz: the two
  // are within a factor 2, or k = 0), the other products are exact by fma.
  const DD ka = two_prod(k, kLn2A);
  DD r = two_sum(a - ka.hi, -ka.lo);
  r = dd_add(r, two_prod(-k, kLn2B));
  r = dd_add(r, DD{-k * kLn2C, 0.0});
  // exp(r) = sum r^n / n!, |r| <= 0.35: 27 terms leave < 2^-110.
  DD sum{1.0, 0.0}, term{1.0, 0.0};
  for (int n = 1; n <= 27; ++n) {
    term = dd_div(dd_mul(term, r), static_cast<double>(n));
    sum = dd_add(sum, term);
  }
  const DD s = two_sum(sum.hi, sum.lo);  // s.hi = RN(sum); the result stays normal
  return ldexp(s.hi, static_cast<int>(k));
}

// float32(exp(a)) as the CPU computes it (float32 of a float64 exp), for
// a <= 0 or NaN. If exp_fast's value g and every float64 within 7 ulps of it
// round to the same float32 (checked on g(1 -+ 2^-49)), that float32 is the
// rounding of the CPU's exp too (glibc: < 1 ulp) and of the exact exp(a).
// Otherwise the result is float32(exp_nearest(a)): the rounding of the
// correctly rounded float64 exp, which is glibc's wherever glibc's exp is
// correctly rounded.
SSMP3D_HD float exp_to_float32(double a) {
  if (!(a > kExpZeroBelow)) return a != a ? static_cast<float>(a) : 0.0f;
  const double g = exp_fast(a);
  const float below = static_cast<float>(g * (1.0 - 0x1p-49));
  const float above = static_cast<float>(g * (1.0 + 0x1p-49));
  if (below == above) return below;
  return static_cast<float>(exp_nearest(a));
}

// ---------------------------------------------------------------- pixels

// Nearest pixel floor(c + 0.5) of map coordinates c = (x, y), in float64
// like the CPU; false when it lies outside the map (or c is NaN).
SSMP3D_HD bool nearest_pixel(const double* c, int64_t H, int64_t W, int64_t& px, int64_t& py) {
  const double fx = floor(c[0] + 0.5), fy = floor(c[1] + 0.5);
  if (!(fx >= 0.0 && fx <= static_cast<double>(W - 1) && fy >= 0.0 &&
        fy <= static_cast<double>(H - 1)))
    return false;
  px = static_cast<int64_t>(fx);
  py = static_cast<int64_t>(fy);
  return true;
}

// Whether person p (after q, p > q, both covering the pixel) is written
// after q by the CPU's stable sort by depth descending: then p wins.
// Written !(dp > dq), the negation of the CPU's comparator.
SSMP3D_HD bool writes_later(double dp, double dq) { return !(dp > dq); }

// ---------------------------------------------------------------- encoders

struct HeatmapArgs {
  const double* joints;  // [B, N, K, 2]
  const uint8_t* valid;  // [B, N, K]
  float* out;            // [B, K, H, W]
  int64_t N, K, H, W;
  int64_t R;     // window half-width ceil(3 sigma), clamped to max(H, W)
  double denom;  // (2 sigma) sigma
};

// out[i] = max over people of the Gaussian of joint k at pixel (x, y)
// (0 if none): the CPU's std::max(v, g) = (v < g ? g : v), in person order.
SSMP3D_HD void heatmap_thread(const HeatmapArgs& a, int64_t i) {
  const int64_t hw = a.H * a.W;
  const int64_t map = i / hw, pix = i - map * hw;
  const int64_t b = map / a.K, k = map - b * a.K;
  const int64_t y = pix / a.W, x = pix - y * a.W;
  float v = 0.0f;
  for (int64_t n = 0; n < a.N; ++n) {
    const int64_t j = (b * a.N + n) * a.K + k;
    int64_t px, py;
    if (!a.valid[j] || !nearest_pixel(a.joints + 2 * j, a.H, a.W, px, py)) continue;
    if (x - px > a.R || px - x > a.R || y - py > a.R || py - y > a.R) continue;
    const double dx = static_cast<double>(x) - a.joints[2 * j];
    const double dy = static_cast<double>(y) - a.joints[2 * j + 1];
    const double dy2 = dy * dy;
    const float g = exp_to_float32(-(dx * dx + dy2) / a.denom);
    v = v < g ? g : v;
  }
  a.out[i] = v;
}

struct OrpmArgs {
  const double* joints;        // [B, N, K, 2]
  const float* bones32;        // [B, N, K, 3]
  const uint8_t* valid;        // [B, N, K]
  const uint8_t* bones_valid;  // [B, N, K]
  const double* depth;         // [B, N]
  const int64_t* chains;       // [K, C], -1 = none (any entry outside [0, K) is none)
  float* orpm;                 // [B, K, 3, H, W]
  float* weight;               // [B, K, H, W]
  int64_t N, K, C, H, W;
  int64_t r2;  // squared disc radius, radius clamped to H + W
};

// Whether a used read-out location of map m (chain = chains[m]) of the
// person whose joints start at flat joint index pk has pixel (x, y) in its disc.
SSMP3D_HD bool orpm_covers(const OrpmArgs& a, const int64_t* chain, int64_t pk, int64_t x,
                           int64_t y) {
  for (int64_t c = 0; c < a.C; ++c) {
    const int64_t l = chain[c];
    int64_t px, py;
    if (l < 0 || l >= a.K || !a.valid[pk + l] ||
        !nearest_pixel(a.joints + 2 * (pk + l), a.H, a.W, px, py))
      continue;
    if ((x - px) * (x - px) + (y - py) * (y - py) <= a.r2) return true;
  }
  return false;
}

// Pixel (x, y) of ORPM map m: the bone vector of the last person, in the
// CPU's write order, with bones_valid and a used read-out location whose
// disc holds the pixel; zeros and weight 0 if nobody.
SSMP3D_HD void orpm_thread(const OrpmArgs& a, int64_t i) {
  const int64_t hw = a.H * a.W;
  const int64_t map = i / hw, pix = i - map * hw;
  const int64_t b = map / a.K, m = map - b * a.K;
  const int64_t y = pix / a.W, x = pix - y * a.W;
  const int64_t* chain = a.chains + m * a.C;
  int64_t winner = -1;
  double wdepth = 0.0;
  for (int64_t p = 0; p < a.N; ++p) {
    const int64_t pk = (b * a.N + p) * a.K;  // first joint of person p
    if (!a.bones_valid[pk + m]) continue;
    if (!orpm_covers(a, chain, pk, x, y)) continue;
    const double d = a.depth[b * a.N + p];
    if (winner < 0 || writes_later(d, wdepth)) {
      winner = p;
      wdepth = d;
    }
  }
  float* o = a.orpm + map * 3 * hw + pix;
  if (winner < 0) {
    o[0] = o[hw] = o[2 * hw] = 0.0f;
    a.weight[i] = 0.0f;
    return;
  }
  const float* v = a.bones32 + 3 * ((b * a.N + winner) * a.K + m);
  o[0] = v[0];
  o[hw] = v[1];
  o[2 * hw] = v[2];
  a.weight[i] = 1.0f;
}

struct TagArgs {
  const double* joints;  // [B, N, K, 2]
  const uint8_t* valid;  // [B, N, K]
  const double* depth;   // [B, N]
  const float* tags32;   // [B, N]
  float* out;            // [B, K, H, W]
  int64_t N, K, H, W;
  int64_t r2;  // squared disc radius, radius clamped to H + W
};

// Pixel (x, y) of tag map k: the tag of the last person, in the CPU's write
// order, whose used joint k has the pixel in its disc; 0 if nobody.
SSMP3D_HD void tag_thread(const TagArgs& a, int64_t i) {
  const int64_t hw = a.H * a.W;
  const int64_t map = i / hw, pix = i - map * hw;
  const int64_t b = map / a.K, k = map - b * a.K;
  const int64_t y = pix / a.W, x = pix - y * a.W;
  int64_t winner = -1;
  double wdepth = 0.0;
  for (int64_t p = 0; p < a.N; ++p) {
    const int64_t j = (b * a.N + p) * a.K + k;
    int64_t px, py;
    if (!a.valid[j] || !nearest_pixel(a.joints + 2 * j, a.H, a.W, px, py)) continue;
    if ((x - px) * (x - px) + (y - py) * (y - py) > a.r2) continue;
    const double d = a.depth[b * a.N + p];
    if (winner < 0 || writes_later(d, wdepth)) {
      winner = p;
      wdepth = d;
    }
  }
  a.out[i] = winner < 0 ? 0.0f : a.tags32[b * a.N + winner];
}

#undef SSMP3D_HD

// ---------------------------------------------------------------- launch arguments (host)

// The CPU's derived constants (encode.cpp), computed once per launch.
inline HeatmapArgs heatmap_args(const double* joints, const uint8_t* valid, float* out, int64_t N,
                                int64_t K, int64_t H, int64_t W, double sigma) {
  // R = ceil(3 sigma) clamped to max(H, W) (a wider window is clipped anyway).
  const double rd = ceil(3.0 * sigma);
  const int64_t rmax = H > W ? H : W;
  const int64_t R = rd >= static_cast<double>(rmax) ? rmax : static_cast<int64_t>(rd);
  return {joints, valid, out, N, K, H, W, R, (2.0 * sigma) * sigma};
}

// Disc radius clamped to H + W like the CPU's Disc (same pixels), squared.
inline int64_t disc_r2(int64_t radius, int64_t H, int64_t W) {
  const int64_t r = radius < H + W ? radius : H + W;
  return r * r;
}

}  // namespace kernels
}  // namespace cuda
}  // namespace ssmp3d

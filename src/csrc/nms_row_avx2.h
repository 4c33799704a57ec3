// AVX2 scan of one interior row of a float32 map for heatmap NMS at radius 1
// (heatmap_nms.cpp). Internal header: include only from heatmap_nms.cpp.
//
// Work split: one call per row, on the calling thread; 8 pixels per AVX2
// vector. Row y must have rows y - 1 and y + 1 (0 < y < H - 1). Pixels 1 ..
// W - 2 are tested 8 at a time: a branch-free pass marks the vectors with a
// pixel above the threshold or a NaN (one compare each); the exact
// 8-neighbour test runs, 8 lanes at once, on the marked vectors only; the
// few pixels left before W - 1 are one more
// vector ending at W - 2, its lanes already seen masked off. Pixels 0 and
// W - 1 (and all pixels of rows narrower than 10) go to `other(x)`, the
// caller's scalar test. Peaks reach
// `push(x)` and `other` in increasing x, so the caller's top-M sees the
// pixels in raster order, as the scalar scan does.
//
// Exactness: every lane compare is the scalar one. _CMP_GT_OQ, _CMP_LT_OQ
// and _CMP_LE_OQ are false on NaN like C's >, < and <=, so a NaN pixel is
// never a peak and a NaN neighbour rejects the pixel; NaN pixels are counted
// with _CMP_UNORD_Q (v != v).
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SSMP3D_HAVE_AVX2_SCAN 1
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace ssmp3d {

/// Whether the AVX2 scan runs: the CPU has AVX2 and the environment variable
/// SSMP3D_NO_AVX2 is unset or "0" (read once, at the first scan; it lets the
/// tests check the SSE2 path on an AVX2 machine).
inline bool cpu_has_avx2() noexcept {
  static const bool use = [] {
    const char* off = std::getenv("SSMP3D_NO_AVX2");
    return __builtin_cpu_supports("avx2") && !(off && *off && std::strcmp(off, "0") != 0);
  }();
  return use;
}

/// Peak bits of the 8 pixels row[x .. x + 7] (1 <= x, x + 8 < W): bit i set
/// iff pixel x + i is above `thr` and passes the exact r = 1 window test.
__attribute__((target("avx2"))) inline unsigned peaks8_avx2(const float* row, int64_t W, int64_t x,
                                                            __m256 v, __m256 thr) {
  const float* up = row - W + x;
  const float* dn = row + W + x;
  __m256 m = _mm256_cmp_ps(v, thr, _CMP_GT_OQ);
  m = _mm256_and_ps(m, _mm256_cmp_ps(_mm256_loadu_ps(up - 1), v, _CMP_LT_OQ));
  m = _mm256_and_ps(m, _mm256_cmp_ps(_mm256_loadu_ps(up), v, _CMP_LT_OQ));
  m = _mm256_and_ps(m, _mm256_cmp_ps(_mm256_loadu_ps(up + 1), v, _CMP_LT_OQ));
  m = _mm256_and_ps(m, _mm256_cmp_ps(_mm256_loadu_ps(row + x - 1), v, _CMP_LT_OQ));
  m = _mm256_and_ps(m, _mm256_cmp_ps(_mm256_loadu_ps(row + x + 1), v, _CMP_LE_OQ));
  m = _mm256_and_ps(m, _mm256_cmp_ps(_mm256_loadu_ps(dn - 1), v, _CMP_LE_OQ));
  m = _mm256_and_ps(m, _mm256_cmp_ps(_mm256_loadu_ps(dn), v, _CMP_LE_OQ));
  m = _mm256_and_ps(m, _mm256_cmp_ps(_mm256_loadu_ps(dn + 1), v, _CMP_LE_OQ));
  return static_cast<unsigned>(_mm256_movemask_ps(m));
}

/// Exact test of the 8 pixels at x, lanes in `keep` only: peaks to push in
/// increasing x, NaNs counted.
template <typename Push>
__attribute__((target("avx2"))) inline void look8_avx2(const float* row, int64_t W, int64_t x, __m256 v,
                                                       __m256 thr, unsigned keep, Push& push, int64_t& nans) {
  const unsigned nan_bits = keep & static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
  if (nan_bits) nans += __builtin_popcount(nan_bits);
  for (unsigned bits = keep & peaks8_avx2(row, W, x, v, thr); bits; bits &= bits - 1)
    push(x + __builtin_ctz(bits));
}

/// Lanes of v above thr or NaN (!(v <= thr)): the ones that need a look.
__attribute__((target("avx2"))) inline unsigned need_look8(__m256 v, __m256 thr) {
  return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(v, thr, _CMP_NLE_UQ)));
}

/// Scans interior row `row` (see the file comment). `push(x)` records pixel x
/// as a peak; `other(x)` tests pixel x the scalar way (and counts its NaN).
template <typename Push, typename Other>
__attribute__((target("avx2"))) void scan_row_r1_avx2(const float* row, int64_t W, float threshold,
                                                      Push& push, Other& other, int64_t& nans) {
  const __m256 thr = _mm256_set1_ps(threshold);
  other(0);
  int64_t x = 1;
  // Blocks of up to 64 vectors: first a branch-free pass that sets bit j of
  // `live` when vector j (pixels x + 8j .. x + 8j + 7, their right
  // neighbours inside the row) has a pixel above thr or NaN, then the exact
  // test of the live vectors only, in increasing x. One unpredictable
  // branch per live vector instead of one per 16 pixels.
  while (x + 8 < W) {
    const int64_t n = std::min<int64_t>(64, (W - 1 - x) / 8);  // vectors whose x + 8 < W
    uint64_t live = 0;
    for (int64_t j = 0; j < n; ++j)
      live |= static_cast<uint64_t>(need_look8(_mm256_loadu_ps(row + x + 8 * j), thr) != 0) << j;
    for (; live; live &= live - 1) {
      const int64_t xv = x + 8 * __builtin_ctzll(live);
      look8_avx2(row, W, xv, _mm256_loadu_ps(row + xv), thr, 0xFFu, push, nans);
    }
    x += 8 * n;
  }
  // The rest of pixels 1 .. W - 2 (at most 7): one vector ending at W - 2,
  // the lanes before x (1 to 7 of them) masked off.
  if (x < W - 1 && W >= 10) {
    const int64_t xs = W - 9;
    const unsigned keep = 0xFFu & (0xFFu << (x - xs));
    const __m256 a = _mm256_loadu_ps(row + xs);
    if (need_look8(a, thr) & keep) look8_avx2(row, W, xs, a, thr, keep, push, nans);
    x = W - 1;
  }
  for (; x < W; ++x) other(x);
}

}  // namespace ssmp3d

#endif

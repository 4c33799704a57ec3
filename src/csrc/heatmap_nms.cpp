// Heatmap NMS on the CPU; see heatmap_nms.h for the exact contract.
//
// Work split: the B*K maps ("slices") are independent; each is one
// contiguous [H, W] map found through its batch and joint strides. Threads (the caller
// plus up to num_threads-1 std::threads) claim whole slices one at a time
// from a shared atomic counter, so uneven slices balance themselves; one
// slice is never split (parallel.h). Each thread writes only its slices'
// outputs; a slice that saw NaNs adds its count to a shared atomic.
//
// Per slice, one raster pass: 16-pixel chunks are rejected with a branch-free
// (vectorisable) "any pixel above threshold or NaN" test; surviving pixels
// get the exact window test (a straight 8-neighbour compare for r = 1 away
// from the border) and peaks go, in increasing flat index order, into a
// bounded top-M collector: sorted insertion for small M, a heap otherwise.
// float32 maps at r = 1 on a CPU with AVX2 (checked at run time) scan their
// interior rows 8 pixels per vector (nms_row_avx2.h); the SSE2 path serves
// the others (SSMP3D_NO_AVX2=1 forces it, for tests). float16 / bfloat16
// maps are widened, one map at a time, into the thread's float32 scratch
// (map_types.h: exact) and scanned as float32.
#include "heatmap_nms.h"

#include "nms_row_avx2.h"
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ssmp3d {

template <>
float threshold_as<float>(double t) noexcept {
  // FLT_MAX = 2^128 - 2^104. Values from the midpoint 2^128 - 2^103 up round
  // to infinity (ties to even); values between FLT_MAX and it round to FLT_MAX.
  constexpr double kOverflow = 0x1.ffffffp+127;
  if (t >= kOverflow) return std::numeric_limits<float>::infinity();
  if (t <= -kOverflow) return -std::numeric_limits<float>::infinity();
  if (t > static_cast<double>(FLT_MAX)) return FLT_MAX;
  if (t < -static_cast<double>(FLT_MAX)) return -FLT_MAX;
  return static_cast<float>(t);
}

template <>
double threshold_as<double>(double t) noexcept {
  return t;
}

namespace {

constexpr int64_t kChunk = 16;               // pixels per threshold-reject chunk
constexpr int64_t kInsertionMax = 64;        // top-M by sorted insertion up to this M
constexpr int64_t kMinPixelsPerThread = 1 << 15;  // below this a thread costs more than it saves
constexpr int64_t kPrefetchBytes = 4096;       // the scan asks for the row this far ahead

// Asks the cache for the row kPrefetchBytes past `row` (W values), one
// request per 64-byte line. The hardware prefetchers stop at 4 KiB page
// boundaries, so a cold map (one just written by the network, or decoded
// once) otherwise stalls at every page. Past the map's end this reaches into
// the next map of a contiguous batch; a prefetch never faults.
template <typename T>
inline void prefetch_ahead(const T* row, int64_t W) {
  const char* p = reinterpret_cast<const char*>(row) + kPrefetchBytes;
  const int64_t bytes = W * static_cast<int64_t>(sizeof(T));
  for (int64_t i = 0; i < bytes; i += 64) __builtin_prefetch(p + i, 0, 3);
}

// Top-M of candidates pushed in increasing flat index order, kept sorted
// (score desc, index asc) in the output arrays themselves. A candidate that
// ties the current last one has a larger index, so it ranks after it.
template <typename T>
struct InsertionTopM {
  T* s;
  int64_t* id;
  int64_t m;
  int64_t n = 0;

  void push(T v, int64_t idx) {
    int64_t pos;
    if (n == m) {
      if (!(v > s[n - 1])) return;
      pos = n - 1;  // the last one drops out
    } else {
      pos = n++;
    }
    while (pos > 0 && s[pos - 1] < v) {
      s[pos] = s[pos - 1];
      id[pos] = id[pos - 1];
      --pos;
    }
    s[pos] = v;
    id[pos] = idx;
  }
  void finish() {}
};

// Top-M for large M: a heap whose root is the worst kept candidate (lowest
// score, then highest index), stored in the output arrays; finish() heapsorts
// it in place into (score desc, index asc) order.
template <typename T>
struct HeapTopM {
  T* s;
  int64_t* id;
  int64_t m;
  int64_t n = 0;

  bool worse(int64_t a, int64_t b) const {  // a ranks after b
    return s[a] < s[b] || (s[a] == s[b] && id[a] > id[b]);
  }
  void swap_at(int64_t a, int64_t b) {
    std::swap(s[a], s[b]);
    std::swap(id[a], id[b]);
  }
  void sift_down(int64_t i, int64_t size) {
    for (;;) {
      int64_t w = i, l = 2 * i + 1, r = l + 1;
      if (l < size && worse(l, w)) w = l;
      if (r < size && worse(r, w)) w = r;
      if (w == i) return;
      swap_at(i, w);
      i = w;
    }
  }
  void push(T v, int64_t idx) {
    if (n < m) {
      int64_t i = n++;
      s[i] = v;
      id[i] = idx;
      while (i > 0 && worse(i, (i - 1) / 2)) {
        swap_at(i, (i - 1) / 2);
        i = (i - 1) / 2;
      }
    } else if (v > s[0]) {  // on a tie the newcomer (larger index) is worse
      s[0] = v;
      id[0] = idx;
      sift_down(0, n);
    }
  }
  void finish() {
    for (int64_t end = n - 1; end > 0; --end) {
      swap_at(0, end);
      sift_down(0, end);
    }
  }
};

// Whether any of the kChunk values at p is above thr or NaN, i.e. !(v <= thr):
// those pixels need the exact test. SSE2 (baseline on x86-64) compares 4
// floats / 2 doubles at once; the compiler does not vectorise the scalar form.
template <typename T>
inline bool chunk_needs_look(const T* p, T thr) {
  unsigned any = 0;
  for (int64_t i = 0; i < kChunk; ++i) any |= static_cast<unsigned>(!(p[i] <= thr));
  return any != 0;
}

#if defined(__SSE2__)
template <>
inline bool chunk_needs_look<float>(const float* p, float thr) {
  static_assert(kChunk == 16, "four SSE registers of 4 floats");
  const __m128 t = _mm_set1_ps(thr);
  __m128 m = _mm_cmpnle_ps(_mm_loadu_ps(p), t);
  m = _mm_or_ps(m, _mm_cmpnle_ps(_mm_loadu_ps(p + 4), t));
  m = _mm_or_ps(m, _mm_cmpnle_ps(_mm_loadu_ps(p + 8), t));
  m = _mm_or_ps(m, _mm_cmpnle_ps(_mm_loadu_ps(p + 12), t));
  return _mm_movemask_ps(m) != 0;
}

template <>
inline bool chunk_needs_look<double>(const double* p, double thr) {
  const __m128d t = _mm_set1_pd(thr);
  __m128d m = _mm_cmpnle_pd(_mm_loadu_pd(p), t);
  for (int64_t i = 2; i < kChunk; i += 2) m = _mm_or_pd(m, _mm_cmpnle_pd(_mm_loadu_pd(p + i), t));
  return _mm_movemask_pd(m) != 0;
}
#endif

// Exact window test for any radius, clipped at the border. Earlier pixels
// (smaller flat index) must be strictly lower, later ones lower or equal.
// Written as !(a < b) so that a NaN neighbour also rejects the pixel.
template <typename T>
inline bool is_peak_window(const T* map, int64_t H, int64_t W, int64_t y, int64_t x, int64_t r,
                           T v) {
  const int64_t y0 = std::max<int64_t>(0, y - r), y1 = std::min<int64_t>(H - 1, y + r);
  const int64_t x0 = std::max<int64_t>(0, x - r), x1 = std::min<int64_t>(W - 1, x + r);
  for (int64_t yy = y0; yy <= y1; ++yy) {
    const T* row = map + yy * W;
    if (yy < y) {
      for (int64_t xx = x0; xx <= x1; ++xx)
        if (!(row[xx] < v)) return false;
    } else if (yy == y) {
      for (int64_t xx = x0; xx < x; ++xx)
        if (!(row[xx] < v)) return false;
      for (int64_t xx = x + 1; xx <= x1; ++xx)
        if (!(row[xx] <= v)) return false;
    } else {
      for (int64_t xx = x0; xx <= x1; ++xx)
        if (!(row[xx] <= v)) return false;
    }
  }
  return true;
}

// r = 1 away from the border: the 8 neighbours, no clipping.
template <typename T>
inline bool is_peak_r1_interior(const T* row, int64_t W, int64_t x, T v) {
  const T* up = row - W;
  const T* dn = row + W;
  return up[x - 1] < v && up[x] < v && up[x + 1] < v && row[x - 1] < v && row[x + 1] <= v &&
         dn[x - 1] <= v && dn[x] <= v && dn[x + 1] <= v;
}

// r = 1, interior rows, 4 pixels x .. x+3 with x >= 1 and x + 4 < W: bit i of
// the result is set iff pixel x+i is a peak (the exact 8-neighbour test, NaN
// never a peak); *nans gets the number of NaN pixels among the four.
#if defined(__SSE2__)
inline int peaks_r1_interior4(const float* row, int64_t W, int64_t x, __m128 thr, int64_t* nans) {
  const __m128 v = _mm_loadu_ps(row + x);
  const float* up = row - W;
  const float* dn = row + W;
  __m128 m = _mm_cmpgt_ps(v, thr);
  m = _mm_and_ps(m, _mm_cmplt_ps(_mm_loadu_ps(up + x - 1), v));
  m = _mm_and_ps(m, _mm_cmplt_ps(_mm_loadu_ps(up + x), v));
  m = _mm_and_ps(m, _mm_cmplt_ps(_mm_loadu_ps(up + x + 1), v));
  m = _mm_and_ps(m, _mm_cmplt_ps(_mm_loadu_ps(row + x - 1), v));
  m = _mm_and_ps(m, _mm_cmple_ps(_mm_loadu_ps(row + x + 1), v));
  m = _mm_and_ps(m, _mm_cmple_ps(_mm_loadu_ps(dn + x - 1), v));
  m = _mm_and_ps(m, _mm_cmple_ps(_mm_loadu_ps(dn + x), v));
  m = _mm_and_ps(m, _mm_cmple_ps(_mm_loadu_ps(dn + x + 1), v));
  const int nan_bits = _mm_movemask_ps(_mm_cmpunord_ps(v, v));
  if (nan_bits) *nans += __builtin_popcount(static_cast<unsigned>(nan_bits));
  return _mm_movemask_ps(m);
}
#endif

// The scalar exact test of pixel (y, x): pushes it if it is a peak, counts it if NaN.
template <typename T, typename TopM>
inline void test_pixel(const T* map, int64_t H, int64_t W, int64_t y, int64_t x, T thr, int64_t r,
                       TopM& top, int64_t& nan_count) {
  const T v = map[y * W + x];
  if (!(v > thr)) {
    nan_count += (v != v);
    return;
  }
  const bool peak = (r == 1 && y > 0 && y < H - 1 && x > 0 && x < W - 1)
                        ? is_peak_r1_interior(map + y * W, W, x, v)
                        : is_peak_window(map, H, W, y, x, r, v);
  if (peak) top.push(v, y * W + x);
}

template <typename T, typename TopM>
void scan_slice(const T* map, int64_t H, int64_t W, T thr, int64_t r, TopM& top,
                int64_t& nan_count) {
#if defined(SSMP3D_HAVE_AVX2_SCAN)
  // Radius 1 on an AVX2 CPU: interior rows 8 pixels per vector (nms_row_avx2.h).
  if constexpr (std::is_same<T, float>::value) {
    if (r == 1 && H >= 3 && cpu_has_avx2()) {
      int64_t y = 0;
      auto other = [&](int64_t x) { test_pixel(map, H, W, y, x, thr, r, top, nan_count); };
      for (int64_t x = 0; x < W; ++x) other(x);
      for (y = 1; y < H - 1; ++y) {
        const float* row = map + y * W;
        const int64_t base = y * W;
        prefetch_ahead(row, W);
        auto push = [&](int64_t x) { top.push(row[x], base + x); };
        scan_row_r1_avx2(row, W, thr, push, other, nan_count);
      }
      for (int64_t x = 0; x < W; ++x) other(x);  // y = H - 1
      return;
    }
  }
#endif
  for (int64_t y = 0; y < H; ++y) {
    const T* row = map + y * W;
    prefetch_ahead(row, W);
    const bool r1_row = (r == 1) && y > 0 && y < H - 1;
    int64_t x = 0;
    while (x < W) {
      const int64_t end = std::min(x + kChunk, W);
      // !(v <= thr) is true for v > thr and for NaN: both need a closer look.
      if (end - x == kChunk && !chunk_needs_look(row + x, thr)) {
        x = end;
        continue;
      }
#if defined(__SSE2__)
      if constexpr (std::is_same<T, float>::value) {
        if (r1_row && x >= 1 && end < W && end - x == kChunk) {
          const __m128 t4 = _mm_set1_ps(thr);
          for (; x < end; x += 4) {
            int bits = peaks_r1_interior4(row, W, x, t4, &nan_count);
            for (; bits; bits &= bits - 1) {
              const int64_t xi = x + __builtin_ctz(static_cast<unsigned>(bits));
              top.push(row[xi], y * W + xi);
            }
          }
          continue;
        }
      }
#endif
      for (; x < end; ++x) test_pixel(map, H, W, y, x, thr, r, top, nan_count);
    }
  }
}

}  // namespace

template <typename T>
int32_t heatmap_nms_slice(const T* map, int64_t H, int64_t W, T threshold, int64_t radius,
                          int64_t max_candidates, T* scores, int64_t* indices,
                          int64_t* nan_count) noexcept {
  int64_t nans = 0, n;
  if (max_candidates <= kInsertionMax) {
    InsertionTopM<T> top{scores, indices, max_candidates};
    scan_slice(map, H, W, threshold, radius, top, nans);
    top.finish();
    n = top.n;
  } else {
    HeapTopM<T> top{scores, indices, max_candidates};
    scan_slice(map, H, W, threshold, radius, top, nans);
    top.finish();
    n = top.n;
  }
  for (int64_t j = n; j < max_candidates; ++j) {
    scores[j] = T(0);
    indices[j] = -1;
  }
  *nan_count += nans;
  return static_cast<int32_t>(n);
}

namespace {

// The B*K slices, claimed whole by the threads; map_of(s, scratch) gives
// slice s's contiguous [H, W] map of T (read in place, or widened into the
// thread's scratch). Returns the NaN count.
template <typename T, typename Scratch, typename MapOf>
int64_t nms_slices(int64_t B, int64_t K, int64_t H, int64_t W, T thr, int64_t radius, int64_t m, T* scores,
                   int64_t* indices, int32_t* counts, int num_threads, MapOf map_of) {
  const int64_t slices = B * K, hw = H * W;
  if (slices <= 0 || hw <= 0) return 0;
  // A window wider than the map is the whole map: clamp so index maths cannot overflow.
  radius = std::min(radius, std::max(H, W));
  const int64_t threads =
      thread_count(num_threads, slices, std::max<int64_t>(1, slices * hw / kMinPixelsPerThread));
  std::atomic<int64_t> nan_total{0};
  parallel_items<Scratch>(slices, threads, [&](int64_t s, Scratch& scratch) {
    int64_t nans = 0;
    counts[s] = heatmap_nms_slice(map_of(s, scratch), H, W, thr, radius, m, scores + s * m, indices + s * m, &nans);
    if (nans) nan_total.fetch_add(nans, std::memory_order_relaxed);
  });
  return nan_total.load();
}

struct NoScratch {};

}  // namespace

template <typename T>
int64_t heatmap_nms_cpu(const T* heatmaps, const MapStrides& strides, int64_t B, int64_t K,
                        int64_t H, int64_t W, double threshold, int64_t radius, int64_t max_candidates, T* scores,
                        int64_t* indices, int32_t* counts, int num_threads) {
  return nms_slices<T, NoScratch>(B, K, H, W, threshold_as<T>(threshold), radius, max_candidates, scores, indices,
                                  counts, num_threads, [&](int64_t s, NoScratch&) {
                                    return strides.map(heatmaps, s / K, s % K);
                                  });
}

int64_t heatmap_nms_cpu(const void* heatmaps, const MapStrides& strides, int64_t B, int64_t K, int64_t H,
                        int64_t W, double threshold, int64_t radius, int64_t max_candidates, float* scores,
                        int64_t* indices, int32_t* counts, int num_threads) {
  if (strides.type == MapType::kFloat32)
    return heatmap_nms_cpu(static_cast<const float*>(heatmaps), strides, B, K, H, W, threshold, radius,
                           max_candidates, scores, indices, counts, num_threads);
  const int64_t hw = H * W;
  return nms_slices<float, std::vector<float>>(
      B, K, H, W, threshold_as<float>(threshold), radius, max_candidates, scores, indices, counts, num_threads,
      [&](int64_t s, std::vector<float>& heat) -> const float* {
        heat.resize(hw);  // this thread's map, widened exactly to float32
        widen_map(strides.map_at(heatmaps, s / K, s % K), strides.type, hw, heat.data());
        return heat.data();
      });
}

template int32_t heatmap_nms_slice<float>(const float*, int64_t, int64_t, float, int64_t, int64_t,
                                          float*, int64_t*, int64_t*) noexcept;
template int32_t heatmap_nms_slice<double>(const double*, int64_t, int64_t, double, int64_t,
                                           int64_t, double*, int64_t*, int64_t*) noexcept;
template int64_t heatmap_nms_cpu<float>(const float*, const MapStrides&, int64_t, int64_t, int64_t, int64_t, double,
                                        int64_t, int64_t, float*, int64_t*, int32_t*, int);
template int64_t heatmap_nms_cpu<double>(const double*, const MapStrides&, int64_t, int64_t, int64_t, int64_t,
                                         double, int64_t, int64_t, double*, int64_t*, int32_t*,
                                         int);

}  // namespace ssmp3d

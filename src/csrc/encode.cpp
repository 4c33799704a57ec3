// Training-target encoders on the CPU; see encode.h for the exact contract.
//
// Work split: every output map is independent, so a work item is one
// (image b, joint map k) pair: B*K items. Threads (the caller plus up to
// num_threads-1 std::threads) claim items one at a time from a shared atomic
// counter; a thread zero-fills its item's map(s) and then applies every
// person of image b to them, in the image's depth write order. No two items
// touch the same output bytes, so there are no locks and the result does not
// depend on the number of threads. The depth orders (a stable sort per
// image) are computed once, before the threads start. The caller (the
// pybind11 binding) releases the GIL.
#include "encode.h"

#include "parallel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

namespace ssmp3d {

namespace {

constexpr double kMinWorkPerThread = 1 << 15;  // below this a thread costs more than it saves

struct NoScratch {};

// Runs fn(item) for item in [0, items) through parallel_items (parallel.h),
// with no more threads than the work justifies (num_threads: 0 = all cores).
template <typename Fn>
void run_items(int64_t items, double work_per_item, int num_threads, const Fn& fn) {
  if (items <= 0) return;
  const double total = work_per_item * static_cast<double>(items);
  const int64_t by_work = total >= 1e15 ? items : static_cast<int64_t>(total / kMinWorkPerThread);
  parallel_items<NoScratch>(items, thread_count(num_threads, items, std::max<int64_t>(1, by_work)),
                            [&](int64_t item, NoScratch&) { fn(item); });
}

// Nearest pixel floor(c + 0.5) of map coordinates c = (x, y), computed in
// float64 exactly like the reference; false when it lies outside the map.
inline bool nearest_pixel(const double* c, int64_t H, int64_t W, int64_t& px, int64_t& py) {
  const double fx = std::floor(c[0] + 0.5), fy = std::floor(c[1] + 0.5);
  if (!(fx >= 0.0 && fx <= static_cast<double>(W - 1) && fy >= 0.0 &&
        fy <= static_cast<double>(H - 1)))
    return false;
  px = static_cast<int64_t>(fx);
  py = static_cast<int64_t>(fy);
  return true;
}

// Integer disc dx^2 + dy^2 <= r^2: half[|dy|] = largest dx with dx^2 <= r^2 - dy^2.
// r is clamped to H + W first: from a pixel inside the map every other map
// pixel is closer than that, so the clipped disc is unchanged.
struct Disc {
  int64_t r;
  std::vector<int64_t> half;

  Disc(int64_t radius, int64_t H, int64_t W) : r(std::min(radius, H + W)), half(r + 1) {
    for (int64_t dy = 0; dy <= r; ++dy) {
      const int64_t rem = r * r - dy * dy;
      auto h = static_cast<int64_t>(std::sqrt(static_cast<double>(rem)));
      while (h > 0 && h * h > rem) --h;
      while ((h + 1) * (h + 1) <= rem) ++h;
      half[dy] = h;
    }
  }

  // fn(y, x0, x1) for every row span [x0, x1] of the disc around (px, py), clipped.
  template <typename Fn>
  void spans(int64_t px, int64_t py, int64_t H, int64_t W, const Fn& fn) const {
    const int64_t y0 = std::max<int64_t>(0, py - r), y1 = std::min(H - 1, py + r);
    for (int64_t y = y0; y <= y1; ++y) {
      const int64_t h = half[std::abs(y - py)];
      const int64_t x0 = std::max<int64_t>(0, px - h), x1 = std::min(W - 1, px + h);
      if (x0 <= x1) fn(y, x0, x1);
    }
  }
};

// Write order of every image: person indices sorted by depth descending,
// stable (= numpy argsort(-depth, kind="stable")).
std::vector<int64_t> depth_orders(const double* depth, int64_t B, int64_t N) {
  std::vector<int64_t> order(static_cast<size_t>(B * N));
  for (int64_t b = 0; b < B; ++b) {
    int64_t* o = order.data() + b * N;
    const double* d = depth + b * N;
    std::iota(o, o + N, int64_t{0});
    std::stable_sort(o, o + N, [d](int64_t i, int64_t j) { return d[i] > d[j]; });
  }
  return order;
}

}  // namespace

void encode_heatmaps_cpu(const double* joints_map, const uint8_t* valid, int64_t B, int64_t N,
                         int64_t K, int64_t H, int64_t W, double sigma, float* out,
                         int num_threads) {
  const int64_t hw = H * W;
  // R = ceil(3 * sigma), clamped to the map (a wider window is clipped anyway).
  const double rd = std::ceil(3.0 * sigma);
  const int64_t rmax = std::max(H, W);
  const int64_t R = rd >= static_cast<double>(rmax) ? rmax : static_cast<int64_t>(rd);
  const double denom = (2.0 * sigma) * sigma;
  const double side = static_cast<double>(std::min(2 * R + 1, rmax));
  const double per_item = static_cast<double>(hw) + 16.0 * static_cast<double>(N) * side * side;

  run_items(B * K, per_item, num_threads, [&](int64_t item) {
    const int64_t b = item / K, k = item % K;
    float* map = out + item * hw;
    std::memset(map, 0, static_cast<size_t>(hw) * sizeof(float));
    for (int64_t n = 0; n < N; ++n) {
      const int64_t j = (b * N + n) * K + k;
      int64_t px, py;
      if (!valid[j] || !nearest_pixel(joints_map + 2 * j, H, W, px, py)) continue;
      const double cx = joints_map[2 * j], cy = joints_map[2 * j + 1];
      const int64_t y0 = std::max<int64_t>(0, py - R), y1 = std::min(H - 1, py + R);
      const int64_t x0 = std::max<int64_t>(0, px - R), x1 = std::min(W - 1, px + R);
      for (int64_t y = y0; y <= y1; ++y) {
        const double dy = static_cast<double>(y) - cy;
        const double dy2 = dy * dy;
        float* row = map + y * W;
        for (int64_t x = x0; x <= x1; ++x) {
          const double dx = static_cast<double>(x) - cx;
          const auto g = static_cast<float>(std::exp(-(dx * dx + dy2) / denom));
          row[x] = std::max(row[x], g);
        }
      }
    }
  });
}

void encode_orpm_cpu(const double* joints_map, const float* bones32, const uint8_t* valid,
                     const uint8_t* bones_valid, const double* depth, const int64_t* chains,
                     int64_t B, int64_t N, int64_t K, int64_t C, int64_t H, int64_t W,
                     int64_t radius, float* orpm, float* weight, int num_threads) {
  const int64_t hw = H * W;
  const Disc disc(radius, H, W);
  const std::vector<int64_t> order = depth_orders(depth, B, N);
  const double d = static_cast<double>(std::min(2 * disc.r + 1, std::max(H, W)));
  const double per_item = 4.0 * static_cast<double>(hw) + static_cast<double>(N * C) * d * d;

  run_items(B * K, per_item, num_threads, [&](int64_t item) {
    const int64_t b = item / K, m = item % K;
    float* o = orpm + item * 3 * hw;
    float* wt = weight + item * hw;
    std::memset(o, 0, static_cast<size_t>(3 * hw) * sizeof(float));
    std::memset(wt, 0, static_cast<size_t>(hw) * sizeof(float));
    const int64_t* chain = chains + m * C;
    for (int64_t i = 0; i < N; ++i) {
      const int64_t p = order[b * N + i];
      const int64_t pk = (b * N + p) * K;  // first joint of person p
      if (!bones_valid[pk + m]) continue;
      const float v0 = bones32[3 * (pk + m)], v1 = bones32[3 * (pk + m) + 1],
                  v2 = bones32[3 * (pk + m) + 2];
      for (int64_t c = 0; c < C; ++c) {
        const int64_t l = chain[c];
        int64_t px, py;
        if (l < 0 || !valid[pk + l] || !nearest_pixel(joints_map + 2 * (pk + l), H, W, px, py))
          continue;
        disc.spans(px, py, H, W, [&](int64_t y, int64_t x0, int64_t x1) {
          const int64_t s = y * W;
          std::fill(o + s + x0, o + s + x1 + 1, v0);
          std::fill(o + hw + s + x0, o + hw + s + x1 + 1, v1);
          std::fill(o + 2 * hw + s + x0, o + 2 * hw + s + x1 + 1, v2);
          std::fill(wt + s + x0, wt + s + x1 + 1, 1.0f);
        });
      }
    }
  });
}

void encode_tag_maps_cpu(const double* joints_map, const uint8_t* valid, const double* depth,
                         const float* tags32, int64_t B, int64_t N, int64_t K, int64_t H,
                         int64_t W, int64_t radius, float* out, int num_threads) {
  const int64_t hw = H * W;
  const Disc disc(radius, H, W);
  const std::vector<int64_t> order = depth_orders(depth, B, N);
  const double d = static_cast<double>(std::min(2 * disc.r + 1, std::max(H, W)));
  const double per_item = static_cast<double>(hw) + static_cast<double>(N) * d * d;

  run_items(B * K, per_item, num_threads, [&](int64_t item) {
    const int64_t b = item / K, k = item % K;
    float* map = out + item * hw;
    std::memset(map, 0, static_cast<size_t>(hw) * sizeof(float));
    for (int64_t i = 0; i < N; ++i) {
      const int64_t p = order[b * N + i];
      const int64_t j = (b * N + p) * K + k;
      int64_t px, py;
      if (!valid[j] || !nearest_pixel(joints_map + 2 * j, H, W, px, py)) continue;
      const float v = tags32[b * N + p];
      disc.spans(px, py, H, W, [&](int64_t y, int64_t x0, int64_t x1) {
        std::fill(map + y * W + x0, map + y * W + x1 + 1, v);
      });
    }
  });
}

}  // namespace ssmp3d

// Hungarian algorithm (shortest augmenting paths with potentials); see lap.h.
//
// Work split: single-threaded; the callers run one image per thread. Cost:
// O(n^2 m) in the worst case; a row whose cheapest column is free costs one
// pass over the columns searched (the head and the used tail columns plus one).
#include "lap.h"

#include <algorithm>
#include <limits>

namespace ssmp3d {

void solve_assignment(const double* cost, int64_t n, int64_t m, int64_t tail, LapScratch& s,
                      int32_t* col_of_row) {
  const double inf = std::numeric_limits<double>::infinity();
  s.u.assign(n + 1, 0.0);
  s.v.assign(m + 1, 0.0);
  s.p.assign(m + 1, 0);    // p[j]: 1-based row holding column j (0: free); column 0 is virtual
  s.way.assign(m + 1, 0);
  s.minv.resize(m + 1);
  s.used.resize(m + 1);
  double* u = s.u.data();
  double* v = s.v.data();
  double* minv = s.minv.data();
  int32_t* p = s.p.data();
  int32_t* way = s.way.data();
  uint8_t* used = s.used.data();
  s.ucols.resize(m + 1);
  int32_t* ucols = s.ucols.data();
  // The tail columns are identical in every row; the free ones keep v = 0 (a
  // column's potential moves only while it holds a row), so they carry equal
  // running minima and ties go to the lowest index: only the first free one
  // can win. Columns are never freed, and the tail fills from its left, so a
  // search over the columns up to that one (me) takes the same steps as one
  // over all m.
  const int64_t head = m - tail;
  int64_t tail_used = 0;
  for (int64_t i = 1; i <= n; ++i) {
    const int64_t me = std::min(m, head + tail_used + 1);
    p[0] = static_cast<int32_t>(i);
    int64_t j0 = 0, nused = 0;
    std::fill(minv, minv + me + 1, inf);
    std::fill(used, used + me + 1, uint8_t{0});
    do {
      used[j0] = 1;
      ucols[nused++] = static_cast<int32_t>(j0);
      const int64_t i0 = p[j0];
      const double* row = cost + (i0 - 1) * m;
      double delta = inf;
      int64_t j1 = 0;
      for (int64_t j = 1; j <= me; ++j) {
        if (used[j]) continue;
        const double cur = (row[j - 1] - u[i0]) - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = static_cast<int32_t>(j0);
        }
        if (j1 == 0 || minv[j] < delta) {  // first minimum; the first free column seeds it
          delta = minv[j];
          j1 = j;
        }
      }
      // Used columns (distinct rows p[j], so the order of the updates does not
      // matter) move their potentials; every column's running minimum drops by
      // delta in one vectorisable pass. A used column's minv is never read
      // again in this row's search, so changing it too is harmless.
      for (int64_t t = 0; t < nused; ++t) {
        const int64_t j = ucols[t];
        u[p[j]] += delta;
        v[j] -= delta;
      }
      for (int64_t j = 0; j <= me; ++j) minv[j] -= delta;
      j0 = j1;
    } while (p[j0] != 0);
    if (j0 > head) ++tail_used;  // the augmenting path ends in the first free tail column
    do {
      const int64_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  for (int64_t j = 1; j <= m; ++j)
    if (p[j]) col_of_row[p[j] - 1] = static_cast<int32_t>(j - 1);
}

}  // namespace ssmp3d

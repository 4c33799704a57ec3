// Minimum-cost linear assignment of a dense rectangular matrix (the exact
// twin of ssmp3d/decoding/lap.py: same operations in the same order, so both
// return the same assignment bit for bit).
//
// Shortest-augmenting-path Hungarian algorithm with row and column
// potentials: rows are added one at a time; each addition runs a Dijkstra
// search over the columns until it reaches a free one. Reduced cost
// (cost - u[i]) - v[j] in float64; the column with the smallest running
// minimum wins, ties to the lowest column index; a running minimum changes
// only on a strictly smaller value. +inf marks a forbidden pair; a finite
// assignment must exist.
#pragma once

#include <cstdint>
#include <vector>

namespace ssmp3d {

/// Working memory of the solver, reused across calls by one thread.
struct LapScratch {
  std::vector<double> u, v, minv;
  std::vector<int32_t> p, way;
  std::vector<int32_t> ucols;  // the columns used in the current row's search
  std::vector<uint8_t> used;
};

/// Assigns each row of `cost` ([n, m] row-major, n <= m) to a distinct
/// column at least total cost; writes col_of_row [n]. The last `tail`
/// columns (0 <= tail <= m) must hold one value per row (the grouping's
/// leave-out columns); the solver then searches only the first free one of
/// them, which gives the same assignment as searching all (lap.cpp).
void solve_assignment(const double* cost, int64_t n, int64_t m, int64_t tail, LapScratch& s,
                      int32_t* col_of_row);

}  // namespace ssmp3d

// Shared work splitting for the batched CPU ops: the calling thread plus up to
// want-1 std::threads each claim whole items (images, maps) one at a time from
// an atomic counter, so uneven items balance themselves. An exception thrown
// by any worker (e.g. std::bad_alloc) is rethrown on the calling thread after
// every worker has joined.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ssmp3d {

/// Threads to use for `items` independent items: num_threads (0 = hardware
/// concurrency), at most one per item and at most `cap`, at least 1.
inline int64_t thread_count(int num_threads, int64_t items, int64_t cap = INT64_MAX) {
  int64_t want = num_threads > 0 ? num_threads
                                 : std::max<int64_t>(1, std::thread::hardware_concurrency());
  return std::max<int64_t>(1, std::min({want, items, cap}));
}

/// Calls body(item, scratch) for every item in [0, n), on `threads` threads;
/// each thread owns one default-constructed Scratch, reused across its items.
template <typename Scratch, typename Body>
void parallel_items(int64_t n, int64_t threads, Body&& body) {
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&]() noexcept {
    try {
      Scratch scratch;
      for (int64_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) body(i, scratch);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      next.store(n, std::memory_order_relaxed);  // the others stop claiming
    }
  };
  std::vector<std::thread> pool;
  if (threads > 1) {
    try {
      pool.reserve(static_cast<size_t>(threads - 1));
      for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work);
    } catch (...) {
      // Could not start more threads: the ones running and this one finish the job.
    }
  }
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace ssmp3d

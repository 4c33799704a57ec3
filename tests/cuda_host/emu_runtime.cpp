// The CUDA host emulation's runtime: per-thread coordinates, block and warp
// barriers, and the launcher (emu_runtime.h).
//
// Work split: a process-wide pool of worker threads (grown to the largest
// block size seen) runs every launch; a launch wakes only its block's
// threads, each through its own ticket word. Worker t plays thread t of each block
// of the launch in turn: blocks run one after another, separated by an
// end-of-block barrier of all the block's threads, so one block's shared
// memory is never touched by the next. The launching thread only publishes
// the launch and waits for it to finish.
//
// Barriers are a counter and a generation word (C++20 atomic wait/notify):
// cheaper than std::barrier with hundreds of threads on few cores, and they
// let a thread that returns from the kernel drop out of the block's and its
// warp's barriers (as an exited CUDA thread does) for the rest of that block
// only. All hand-offs are acquire/release atomics, which ThreadSanitizer
// understands.
#include "emu_runtime.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace emu {

thread_local uint3 thread_idx, block_idx;
thread_local dim3 block_dim, grid_dim;

namespace {

// A reusable barrier whose participant count can shrink within a phase
// sequence (drop) and be reset when every participant is stopped elsewhere.
class Barrier {
 public:
  void reset(int n) {
    remaining_.store(n, std::memory_order_relaxed);
    next_.store(n, std::memory_order_relaxed);
  }
  void arrive_and_wait() {
    const unsigned int g = gen_.load(std::memory_order_acquire);
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      complete();
      return;
    }
    for (unsigned int now = g; now == g; now = gen_.load(std::memory_order_acquire))
      gen_.wait(g, std::memory_order_acquire);
  }
  void drop() {
    next_.fetch_sub(1, std::memory_order_relaxed);
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) complete();
  }

 private:
  void complete() {
    remaining_.store(next_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    gen_.fetch_add(1, std::memory_order_release);
    gen_.notify_all();
  }
  std::atomic<int> remaining_{0}, next_{0};
  std::atomic<unsigned int> gen_{0};
};

struct Warp {
  Barrier bar;
  unsigned long long slot[32] = {};
  std::atomic<unsigned int> alive{0};
};

// One launch, as the workers see it.
struct Launch {
  unsigned int grid = 0, block = 0;
  const std::function<void()>* body = nullptr;
  const std::function<void()>* before_block = nullptr;
  Barrier in_block;        // __syncthreads()
  Barrier end_of_block;    // all threads of the block, never dropped
  Warp warps[32];
  std::atomic<unsigned int> done{0};
};

Launch* current = nullptr;  // published to the workers by their tickets

std::string skip_file;
int skip_line = -1;
std::atomic<long> skip_hits{0};

bool ends_with(const char* s, const std::string& suffix) {
  const size_t n = std::strlen(s);
  return n >= suffix.size() &&
         std::memcmp(s + n - suffix.size(), suffix.data(), suffix.size()) == 0;
}

void reset_block(Launch& L) {
  L.in_block.reset(static_cast<int>(L.block));
  for (unsigned int w = 0; w * 32 < L.block; ++w) {
    const unsigned int lanes = L.block - w * 32 < 32 ? L.block - w * 32 : 32;
    L.warps[w].bar.reset(static_cast<int>(lanes));
    const unsigned int mask = lanes == 32 ? 0xFFFFFFFFu : (1u << lanes) - 1u;
    L.warps[w].alive.store(mask, std::memory_order_relaxed);
  }
}

void play(Launch& L, unsigned int t) {
  thread_idx = uint3{t, 0, 0};
  block_dim = dim3(L.block, 1, 1);
  grid_dim = dim3(L.grid, 1, 1);
  for (unsigned int b = 0; b < L.grid; ++b) {
    block_idx = uint3{b, 0, 0};
    (*L.body)();
    // This thread has exited the kernel: it no longer holds up the barriers.
    Warp& w = L.warps[t / 32];
    w.alive.fetch_and(~(1u << (t % 32)), std::memory_order_relaxed);
    w.bar.drop();
    L.in_block.drop();
    // Thread 0 prepares the next block once everyone is out of this one.
    L.end_of_block.arrive_and_wait();
    if (t == 0 && b + 1 < L.grid) {
      reset_block(L);
      if (*L.before_block) (*L.before_block)();
    }
    L.end_of_block.arrive_and_wait();
  }
}

class Pool {
 public:
  ~Pool() {
    stop_.store(true, std::memory_order_release);
    for (size_t id = 0; id < threads_.size(); ++id) wake(id);
    for (auto& th : threads_) th.join();
  }
  /// The launch object, reused: a worker may still be returning from it when
  /// run() returns, so it must outlive every launch.
  Launch& launch_slot() { return launch_; }
  void run() {
    Launch& L = launch_;
    while (threads_.size() < L.block) {
      const size_t id = threads_.size();
      threads_.emplace_back([this, id] { worker(id); });
    }
    current = &L;
    for (size_t id = 0; id < L.block; ++id) wake(id);  // only the block's threads
    for (unsigned int d = L.done.load(std::memory_order_acquire); d < L.block;
         d = L.done.load(std::memory_order_acquire))
      L.done.wait(d, std::memory_order_acquire);
  }

 private:
  void wake(size_t id) {
    ticket_[id].fetch_add(1, std::memory_order_release);
    ticket_[id].notify_one();
  }
  void worker(size_t id) {
    unsigned int seen = 0;
    for (;;) {
      unsigned int now;
      while ((now = ticket_[id].load(std::memory_order_acquire)) == seen)
        ticket_[id].wait(seen, std::memory_order_acquire);
      seen = now;
      if (stop_.load(std::memory_order_acquire)) return;
      play(launch_, static_cast<unsigned int>(id));
      launch_.done.fetch_add(1, std::memory_order_release);
      launch_.done.notify_all();
    }
  }
  Launch launch_;
  std::atomic<unsigned int> ticket_[1024] = {};
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
};

}  // namespace

void set_skip_barrier(const std::string& site) {
  const size_t colon = site.rfind(':');
  if (site.empty() || colon == std::string::npos) {
    skip_file.clear();
    skip_line = -1;
    return;
  }
  skip_file = site.substr(0, colon);
  skip_line = std::atoi(site.c_str() + colon + 1);
}

long skipped_barrier_hits() { return skip_hits.load(); }

void syncthreads(const char* file, int line) {
  if (line == skip_line && ends_with(file, skip_file)) {
    skip_hits.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  current->in_block.arrive_and_wait();
}

void warp_exchange(unsigned long long v, unsigned long long* lanes, unsigned int* active) {
  Warp& w = current->warps[thread_idx.x / 32];
  w.slot[thread_idx.x % 32] = v;
  w.bar.arrive_and_wait();  // every live lane has published
  std::memcpy(lanes, w.slot, sizeof(w.slot));
  *active = w.alive.load(std::memory_order_relaxed);
  w.bar.arrive_and_wait();  // every lane has read before anyone writes again
}

void launch(unsigned int grid, unsigned int block, const std::function<void()>& body,
            const std::function<void()>& before_block) {
  if (block == 0 || block > 1024) {
    std::fprintf(stderr, "emu::launch: bad block size %u\n", block);
    std::abort();
  }
  if (grid == 0) return;
  static Pool pool;
  static std::mutex one_launch_at_a_time;
  std::lock_guard<std::mutex> lock(one_launch_at_a_time);
  Launch& L = pool.launch_slot();
  L.grid = grid;
  L.block = block;
  L.body = &body;
  L.before_block = &before_block;
  L.done.store(0, std::memory_order_relaxed);
  L.end_of_block.reset(static_cast<int>(block));
  reset_block(L);
  if (before_block) before_block();
  pool.run();
}

}  // namespace emu

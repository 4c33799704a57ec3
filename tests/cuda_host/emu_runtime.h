// Launcher of the CUDA host emulation (see cuda_shim.h for the model).
//
// emu::launch(grid, block, body) runs `body` (one call = one CUDA thread) for
// every thread of every block: blocks one after another, the block's threads
// as std::threads (a reused pool) that share one barrier for __syncthreads()
// and one per warp for the warp intrinsics. `before_block` runs before each
// block starts, while no thread of the launch runs (the harness refills
// dynamic shared memory there).
#pragma once

#include <functional>
#include <string>

#include "cuda_shim.h"

namespace emu {

/// Runs a 1-D launch of `grid` blocks of `block` threads.
void launch(unsigned int grid, unsigned int block, const std::function<void()>& body,
            const std::function<void()>& before_block = {});

/// The mutation hook: "file:line" of a __syncthreads() to skip ("" = none);
/// the file matches by suffix (e.g. "nms_block.cuh:223").
void set_skip_barrier(const std::string& site);
/// How many times the skipped barrier was reached (0: the site never ran).
long skipped_barrier_hits();

}  // namespace emu

// Host emulation of the CUDA device language, enough to compile the project's
// real kernel sources (src/cuda/*_kernel.cuh, *_global.cuh, nms_block.cuh)
// with g++ -std=c++20 and run them on the CPU.
//
// Model: a launch runs its blocks one after another; the threads of one block
// are std::threads (emu_runtime.cpp), so their interleaving is real and
// ThreadSanitizer can see every shared-memory access. threadIdx, blockIdx,
// blockDim and gridDim are thread_local. `__syncthreads()` is a barrier of
// the block (C++20 atomic wait/notify); a thread that returns from the
// kernel drops out of it, as an exited CUDA thread does. Static `__shared__`
// variables become function statics (one block at a time, so one copy is
// enough; they keep the previous block's values, which catches a kernel that
// assumes zeroed shared memory). Dynamic shared memory (`extern __shared__`,
// which the test's source copy spells SSMP3D_EMU_DYNAMIC_SHARED because
// `extern static` is not C++) is an array the harness defines at namespace
// scope and refills with garbage before every block. Warp intrinsics use a
// per-warp barrier and one 64-bit slot per lane. Atomics are GCC __atomic
// builtins (relaxed, like CUDA's). __half / __nv_bfloat16 are the CUDA
// headers' own host implementations.
//
// Mutation hook: emu::set_skip_barrier("file:line") (harness --skip-barrier)
// makes the __syncthreads() at that site a no-op, to prove the tests notice.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <vector_types.h>

// The CUDA headers define these for the host compiler; the kernel headers
// define their own when __CUDACC__ is not set, so start from a clean slate.
#undef __host__
#undef __device__
#undef __forceinline__
#undef __global__
#undef __shared__
#undef __launch_bounds__
#undef __grid_constant__
#define __host__
#define __device__
#define __forceinline__ inline  // as readout_kernel.cuh defines it for host compilers
#define __global__
#define __shared__ static
#define __launch_bounds__(...)
#define __grid_constant__
// Dynamic shared memory: a block-scope extern declaration of the harness's array.
#define SSMP3D_EMU_DYNAMIC_SHARED extern

namespace emu {

// Per-thread coordinates (set by the launcher for every emulated thread).
extern thread_local uint3 thread_idx, block_idx;
extern thread_local dim3 block_dim, grid_dim;

/// Barrier of the calling thread's block; `file`/`line` name the call site.
void syncthreads(const char* file, int line);
/// Warp collective: publishes `v` for the lane, waits for the warp, returns
/// the values of all lanes of the warp in `lanes[0, 32)` and the mask of
/// lanes still running in `*active`.
void warp_exchange(unsigned long long v, unsigned long long* lanes, unsigned int* active);

template <typename T>
unsigned long long to_bits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
  unsigned long long u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <typename T>
T from_bits(unsigned long long u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}
template <typename To, typename From>
To bit_cast(From f) {
  static_assert(sizeof(To) == sizeof(From));
  To t;
  std::memcpy(&t, &f, sizeof(To));
  return t;
}

}  // namespace emu

#define threadIdx (::emu::thread_idx)
#define blockIdx (::emu::block_idx)
#define blockDim (::emu::block_dim)
#define gridDim (::emu::grid_dim)
#define __syncthreads() ::emu::syncthreads(__FILE__, __LINE__)

// ---------------------------------------------------------------- loads, casts, maths

template <typename T>
inline T __ldg(const T* p) {
  return *p;
}
inline float __uint_as_float(unsigned int u) { return emu::bit_cast<float>(u); }
inline unsigned int __float_as_uint(float f) { return emu::bit_cast<unsigned int>(f); }
inline float __int_as_float(int u) { return emu::bit_cast<float>(u); }
inline int __float_as_int(float f) { return emu::bit_cast<int>(f); }
inline double __longlong_as_double(long long u) { return emu::bit_cast<double>(u); }
inline long long __double_as_longlong(double d) { return emu::bit_cast<long long>(d); }
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x ? __builtin_clz(static_cast<unsigned>(x)) : 32; }
inline int __clzll(long long x) {
  return x ? __builtin_clzll(static_cast<unsigned long long>(x)) : 64;
}
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned int __brev(unsigned int x) {
  unsigned int r = 0;
  for (int i = 0; i < 32; ++i) r |= ((x >> i) & 1u) << (31 - i);
  return r;
}
inline int max(int a, int b) { return a > b ? a : b; }
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }

// ---------------------------------------------------------------- atomics (return the old value)

template <typename T, typename U>
inline T atomicAdd(T* p, U v) {
  if constexpr (std::is_floating_point_v<T>) {
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(p, &old, static_cast<T>(old + static_cast<T>(v)), false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
  } else {
    return __atomic_fetch_add(p, static_cast<T>(v), __ATOMIC_RELAXED);
  }
}
template <typename T, typename U>
inline T atomicSub(T* p, U v) { return __atomic_fetch_sub(p, static_cast<T>(v), __ATOMIC_RELAXED); }
template <typename T, typename U>
inline T atomicOr(T* p, U v) { return __atomic_fetch_or(p, static_cast<T>(v), __ATOMIC_RELAXED); }
template <typename T, typename U>
inline T atomicAnd(T* p, U v) { return __atomic_fetch_and(p, static_cast<T>(v), __ATOMIC_RELAXED); }
template <typename T, typename U>
inline T atomicXor(T* p, U v) { return __atomic_fetch_xor(p, static_cast<T>(v), __ATOMIC_RELAXED); }
template <typename T, typename U>
inline T atomicExch(T* p, U v) {
  return __atomic_exchange_n(p, static_cast<T>(v), __ATOMIC_RELAXED);
}
template <typename T, typename U>
inline T atomicMax(T* p, U v) { return __atomic_fetch_max(p, static_cast<T>(v), __ATOMIC_RELAXED); }
template <typename T, typename U>
inline T atomicMin(T* p, U v) { return __atomic_fetch_min(p, static_cast<T>(v), __ATOMIC_RELAXED); }
template <typename T, typename U, typename V>
inline T atomicCAS(T* p, U expected, V desired) {
  T e = static_cast<T>(expected);
  __atomic_compare_exchange_n(p, &e, static_cast<T>(desired), false, __ATOMIC_RELAXED,
                              __ATOMIC_RELAXED);
  return e;
}
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// ---------------------------------------------------------------- warp intrinsics
// Every lane of the warp must take part (the kernels use full masks).


template <typename T>
inline T __shfl_sync(unsigned int, T v, int src, int width = 32) {
  unsigned long long lanes[32];
  unsigned int active;
  emu::warp_exchange(emu::to_bits(v), lanes, &active);
  const unsigned int lane = threadIdx.x % 32u;
  const unsigned int base = lane - lane % width;
  return emu::from_bits<T>(lanes[base + (static_cast<unsigned int>(src) % width)]);
}
template <typename T>
inline T __shfl_down_sync(unsigned int, T v, unsigned int delta, int width = 32) {
  unsigned long long lanes[32];
  unsigned int active;
  emu::warp_exchange(emu::to_bits(v), lanes, &active);
  const unsigned int lane = threadIdx.x % 32u;
  if (lane % width + delta >= static_cast<unsigned int>(width)) return v;
  return emu::from_bits<T>(lanes[lane + delta]);
}
template <typename T>
inline T __shfl_up_sync(unsigned int, T v, unsigned int delta, int width = 32) {
  unsigned long long lanes[32];
  unsigned int active;
  emu::warp_exchange(emu::to_bits(v), lanes, &active);
  const unsigned int lane = threadIdx.x % 32u;
  return lane % width < delta ? v : emu::from_bits<T>(lanes[lane - delta]);
}
template <typename T>
inline T __shfl_xor_sync(unsigned int, T v, int mask, int width = 32) {
  unsigned long long lanes[32];
  unsigned int active;
  emu::warp_exchange(emu::to_bits(v), lanes, &active);
  const unsigned int lane = threadIdx.x % 32u;
  // Lanes may read earlier groups of `width`, not later ones (own value then).
  const unsigned int src = (lane ^ static_cast<unsigned int>(mask)) % 32u;
  return src >= (lane / width + 1) * width ? v : emu::from_bits<T>(lanes[src]);
}
inline unsigned int __ballot_sync(unsigned int mask, int pred) {
  unsigned long long lanes[32];
  unsigned int active;
  emu::warp_exchange(pred ? 1ull : 0ull, lanes, &active);
  unsigned int r = 0;
  for (int i = 0; i < 32; ++i)
    if (((active >> i) & 1u) && lanes[i]) r |= 1u << i;
  return r & mask;
}
inline int __any_sync(unsigned int mask, int pred) { return __ballot_sync(mask, pred) != 0; }
inline int __all_sync(unsigned int mask, int pred) {
  unsigned long long lanes[32];
  unsigned int active;
  emu::warp_exchange(pred ? 1ull : 0ull, lanes, &active);
  for (int i = 0; i < 32; ++i)
    if (((active & mask) >> i) & 1u && !lanes[i]) return 0;
  return 1;
}
inline void __syncwarp(unsigned int = 0xFFFFFFFFu) {
  unsigned long long lanes[32];
  unsigned int active;
  emu::warp_exchange(0ull, lanes, &active);
}
inline unsigned int __activemask() { return 0xFFFFFFFFu; }

// Element types of map inputs (no libtorch): float32, float16 and bfloat16
// maps are read in their own dtype and widened to float32 as they are read.
//
// Widening float16 and bfloat16 to float32 is exact, so every comparison and
// gathered value equals the one made on a float32 copy of the maps: reading
// in place changes no result. Point reads (tags, ORPM vectors, refinement
// neighbours) widen one value; the NMS widens one [H, W] map into a
// per-thread float32 scratch (widen_map), cache-resident, instead of a copy
// of the whole input.
//
// Codes match the CUDA kernels' (ops/_cuda.py: MAP_DTYPES).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SSMP3D_HAVE_F16C_WIDEN 1
#include <immintrin.h>
#endif

namespace ssmp3d {

enum class MapType : int32_t { kFloat32 = 0, kFloat16 = 1, kBFloat16 = 2 };

/// Bytes per element of `t`.
inline int64_t map_type_size(MapType t) noexcept { return t == MapType::kFloat32 ? 4 : 2; }

/// IEEE binary16 bits -> float32, exactly (subnormals, infinities and NaN
/// payloads included).
inline float half_bits_to_float(uint16_t h) noexcept {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t man = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1Fu) {
    bits = sign | 0x7F800000u | (man << 13);  // inf / NaN, payload kept
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (man << 13);  // rebias 15 -> 127
  } else if (man == 0) {
    bits = sign;  // +-0
  } else {
    // Subnormal: value man * 2^-24; normalise the mantissa.
    exp = 113u;  // 127 - 14
    while (!(man & 0x400u)) {
      man <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((man & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

/// bfloat16 bits -> float32, exactly (the upper half of the float32 bits).
inline float bf16_bits_to_float(uint16_t h) noexcept {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

/// Element i of the `t` array at `base`, widened to float32.
inline float load_float(const void* base, MapType t, int64_t i) noexcept {
  if (t == MapType::kFloat32) return static_cast<const float*>(base)[i];
  const uint16_t h = static_cast<const uint16_t*>(base)[i];
  return t == MapType::kFloat16 ? half_bits_to_float(h) : bf16_bits_to_float(h);
}

/// Whether the F16C conversion runs: checked once, on first use.
inline bool cpu_has_f16c() noexcept {
#if defined(SSMP3D_HAVE_F16C_WIDEN)
  static const bool has = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
  return has;
#else
  return false;
#endif
}

#if defined(SSMP3D_HAVE_F16C_WIDEN)
/// n float16 values -> float32 with F16C, 8 per instruction (the hardware
/// conversion is exact, as half_bits_to_float).
__attribute__((target("avx,f16c"))) inline void widen_half_f16c(const uint16_t* src, int64_t n,
                                                                  float* dst) noexcept {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = half_bits_to_float(src[i]);
}
#endif

/// n contiguous float16 / bfloat16 values at `src` -> float32 at `dst`.
inline void widen_map(const void* src, MapType t, int64_t n, float* dst) noexcept {
  if (t == MapType::kFloat32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const uint16_t* h = static_cast<const uint16_t*>(src);
  if (t == MapType::kBFloat16) {
    for (int64_t i = 0; i < n; ++i) {  // a shift per value; the compiler vectorises it
      const uint32_t bits = static_cast<uint32_t>(h[i]) << 16;
      std::memcpy(dst + i, &bits, sizeof(float));
    }
    return;
  }
#if defined(SSMP3D_HAVE_F16C_WIDEN)
  if (cpu_has_f16c()) {
    widen_half_f16c(h, n, dst);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) dst[i] = half_bits_to_float(h[i]);
}

}  // namespace ssmp3d

// Strided map inputs (no libtorch): where the [H, W] maps of a batch lie.
//
// The decoders and the NMS ops read [B, K, H, W] heatmaps, [B, K, D, H, W]
// tags and [B, K, 3, H, W] ORPM maps in place, e.g. the non-contiguous
// channel slices of one network output [B, 95, H, W]. Each [H, W] map must be
// contiguous (x stride 1, y stride W); the batch, joint and channel strides
// are free (in elements, >= 0; 0 repeats a map). The element type is
// float32, float16 or bfloat16 (map_types.h), widened to float32 as read.
#pragma once

#include <cstdint>

#include "map_types.h"

namespace ssmp3d {

/// Element strides of the batch, joint and channel dimensions of a map
/// input, and its element type.
struct MapStrides {
  int64_t batch = 0;
  int64_t joint = 0;
  int64_t channel = 0;
  MapType type = MapType::kFloat32;

  /// The strides of a contiguous [B, K, C, H, W] array.
  static MapStrides contiguous(int64_t K, int64_t C, int64_t HW) {
    return MapStrides{K * C * HW, C * HW, HW};
  }

  /// Address of map (b, k, c).
  template <typename T>
  const T* map(const T* base, int64_t b, int64_t k, int64_t c = 0) const {
    return base + b * batch + k * joint + c * channel;
  }

  /// Address of map (b, k, c) of an array of `type` elements.
  const void* map_at(const void* base, int64_t b, int64_t k, int64_t c = 0) const {
    return static_cast<const char*>(base) + (b * batch + k * joint + c * channel) * map_type_size(type);
  }

  /// Element i of the map at `map` (from map_at), widened to float32.
  float load(const void* map, int64_t i) const { return load_float(map, type, i); }
};

}  // namespace ssmp3d

// pybind11 module ssmp3d._C: the C++ CPU ops. No libtorch.
//
// Tensors cross as raw addresses (Python ints: tensor.data_ptr() or
// ndarray.ctypes.data) plus sizes. The caller (ssmp3d.ops) has already
// checked dtype, shape and contiguity; these functions only reject arguments
// that would make the kernel touch memory out of bounds. Each op releases
// the GIL while it runs.
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "heatmap_nms.h"
#include "encode.h"

namespace py = pybind11;

namespace {

// Bumped whenever a signature of this module changes, so the Python layer can
// detect a stale build.
constexpr int kAbiVersion = 1;

template <typename T>
T* as_ptr(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

int64_t heatmap_nms_cpu_py(std::uintptr_t heatmaps, const std::string& dtype, int64_t B, int64_t K,
                           int64_t H, int64_t W, double threshold, int64_t radius,
                           int64_t max_candidates, std::uintptr_t scores, std::uintptr_t indices,
                           std::uintptr_t counts, int num_threads) {
  if (B <= 0 || K <= 0 || H <= 0 || W <= 0)
    throw py::value_error("heatmap_nms_cpu: B, K, H, W must be > 0");
  if (radius < 0) throw py::value_error("heatmap_nms_cpu: radius must be >= 0");
  if (max_candidates < 1) throw py::value_error("heatmap_nms_cpu: max_candidates must be >= 1");
  if (num_threads < 0) throw py::value_error("heatmap_nms_cpu: num_threads must be >= 0");
  if (!heatmaps || !scores || !indices || !counts)
    throw py::value_error("heatmap_nms_cpu: null pointer");
  const bool f32 = dtype == "float32";
  if (!f32 && dtype != "float64")
    throw py::value_error("heatmap_nms_cpu: dtype must be 'float32' or 'float64', got '" + dtype +
                          "'");
  py::gil_scoped_release release;
  if (f32) {
    return ssmp3d::heatmap_nms_cpu(as_ptr<const float>(heatmaps), B, K, H, W, threshold, radius,
                                   max_candidates, as_ptr<float>(scores), as_ptr<int64_t>(indices),
                                   as_ptr<int32_t>(counts), num_threads);
  }
  return ssmp3d::heatmap_nms_cpu(as_ptr<const double>(heatmaps), B, K, H, W, threshold, radius,
                                 max_candidates, as_ptr<double>(scores), as_ptr<int64_t>(indices),
                                 as_ptr<int32_t>(counts), num_threads);
}

// ---- target encoders (encode.h) ----

void check_encode_sizes(const char* fn, int64_t B, int64_t N, int64_t K, int64_t H, int64_t W,
                        int num_threads) {
  if (B <= 0 || K <= 0 || H <= 0 || W <= 0 || N < 0)
    throw py::value_error(std::string(fn) + ": B, K, H, W must be > 0 and N >= 0");
  if (num_threads < 0) throw py::value_error(std::string(fn) + ": num_threads must be >= 0");
}

void encode_heatmaps_cpu_py(std::uintptr_t joints_map, std::uintptr_t valid, int64_t B, int64_t N,
                            int64_t K, int64_t H, int64_t W, double sigma, std::uintptr_t out,
                            int num_threads) {
  check_encode_sizes("encode_heatmaps_cpu", B, N, K, H, W, num_threads);
  if (!(sigma > 0.0) || !std::isfinite(sigma))
    throw py::value_error("encode_heatmaps_cpu: sigma must be finite and > 0");
  if (!out || (N > 0 && (!joints_map || !valid)))
    throw py::value_error("encode_heatmaps_cpu: null pointer");
  py::gil_scoped_release release;
  ssmp3d::encode_heatmaps_cpu(as_ptr<const double>(joints_map), as_ptr<const uint8_t>(valid), B,
                              N, K, H, W, sigma, as_ptr<float>(out), num_threads);
}

void encode_orpm_cpu_py(std::uintptr_t joints_map, std::uintptr_t bones32, std::uintptr_t valid,
                        std::uintptr_t bones_valid, std::uintptr_t depth, std::uintptr_t chains,
                        int64_t B, int64_t N, int64_t K, int64_t C, int64_t H, int64_t W,
                        int64_t radius, std::uintptr_t orpm, std::uintptr_t weight,
                        int num_threads) {
  check_encode_sizes("encode_orpm_cpu", B, N, K, H, W, num_threads);
  if (C <= 0) throw py::value_error("encode_orpm_cpu: C must be > 0");
  if (radius < 0) throw py::value_error("encode_orpm_cpu: radius must be >= 0");
  if (!orpm || !weight || !chains ||
      (N > 0 && (!joints_map || !bones32 || !valid || !bones_valid || !depth)))
    throw py::value_error("encode_orpm_cpu: null pointer");
  const auto* ch = as_ptr<const int64_t>(chains);
  for (int64_t i = 0; i < K * C; ++i)
    if (ch[i] < -1 || ch[i] >= K)
      throw py::value_error("encode_orpm_cpu: chains entries must be in [-1, K)");
  py::gil_scoped_release release;
  ssmp3d::encode_orpm_cpu(as_ptr<const double>(joints_map), as_ptr<const float>(bones32),
                          as_ptr<const uint8_t>(valid), as_ptr<const uint8_t>(bones_valid),
                          as_ptr<const double>(depth), ch, B, N, K, C, H, W, radius,
                          as_ptr<float>(orpm), as_ptr<float>(weight), num_threads);
}

void encode_tag_maps_cpu_py(std::uintptr_t joints_map, std::uintptr_t valid, std::uintptr_t depth,
                            std::uintptr_t tags32, int64_t B, int64_t N, int64_t K, int64_t H,
                            int64_t W, int64_t radius, std::uintptr_t out, int num_threads) {
  check_encode_sizes("encode_tag_maps_cpu", B, N, K, H, W, num_threads);
  if (radius < 0) throw py::value_error("encode_tag_maps_cpu: radius must be >= 0");
  if (!out || (N > 0 && (!joints_map || !valid || !depth || !tags32)))
    throw py::value_error("encode_tag_maps_cpu: null pointer");
  py::gil_scoped_release release;
  ssmp3d::encode_tag_maps_cpu(as_ptr<const double>(joints_map), as_ptr<const uint8_t>(valid),
                              as_ptr<const double>(depth), as_ptr<const float>(tags32), B, N, K,
                              H, W, radius, as_ptr<float>(out), num_threads);
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "ssmp3d C++ CPU ops (raw-pointer interface; use ssmp3d.ops for checked versions)";
  m.attr("ABI_VERSION") = kAbiVersion;

  m.def("heatmap_nms_cpu", &heatmap_nms_cpu_py, py::arg("heatmaps_ptr"), py::arg("dtype"),
        py::arg("B"), py::arg("K"), py::arg("H"), py::arg("W"), py::arg("threshold"),
        py::arg("radius"), py::arg("max_candidates"), py::arg("scores_ptr"),
        py::arg("indices_ptr"), py::arg("counts_ptr"), py::arg("num_threads"),
        R"doc(Heatmap NMS (DESIGN.md 6.1) of contiguous heatmaps [B, K, H, W].

Writes scores [B, K, M] (same dtype), indices [B, K, M] int64 (flat y*W+x,
-1 padding) and counts [B, K] int32 at the given addresses. The threshold is
rounded to the map dtype first (as torch does for ``tensor > float``).
num_threads: 0 = hardware concurrency, 1 = calling thread only.
Returns the number of NaN values in the heatmaps (outputs undefined if > 0).)doc");

  m.def("encode_heatmaps_cpu", &encode_heatmaps_cpu_py, py::arg("joints_map_ptr"),
        py::arg("valid_ptr"), py::arg("B"), py::arg("N"), py::arg("K"), py::arg("H"), py::arg("W"),
        py::arg("sigma"), py::arg("out_ptr"), py::arg("num_threads"),
        "Gaussian heatmaps out [B, K, H, W] f32 from joints_map [B, N, K, 2] f64 and valid\n"
        "[B, N, K] u8 (contiguous; valid joints finite). See encode.h.");
  m.def("encode_orpm_cpu", &encode_orpm_cpu_py, py::arg("joints_map_ptr"), py::arg("bones32_ptr"),
        py::arg("valid_ptr"), py::arg("bones_valid_ptr"), py::arg("depth_ptr"),
        py::arg("chains_ptr"), py::arg("B"), py::arg("N"), py::arg("K"), py::arg("C"), py::arg("H"),
        py::arg("W"), py::arg("radius"), py::arg("orpm_ptr"), py::arg("weight_ptr"),
        py::arg("num_threads"),
        "ORPM orpm [B, K, 3, H, W] f32 and weight [B, K, H, W] f32 from bones32 [B, N, K, 3] f32,\n"
        "bones_valid [B, N, K] u8, depth [B, N] f64, chains [K, C] i64 (-1 padded). See encode.h.");
  m.def("encode_tag_maps_cpu", &encode_tag_maps_cpu_py, py::arg("joints_map_ptr"),
        py::arg("valid_ptr"), py::arg("depth_ptr"), py::arg("tags32_ptr"), py::arg("B"),
        py::arg("N"), py::arg("K"), py::arg("H"), py::arg("W"), py::arg("radius"),
        py::arg("out_ptr"), py::arg("num_threads"),
        "Oracle tag maps out [B, K, H, W] f32 from tags32 [B, N] f32 (depth order as ORPM).\n"
        "See encode.h.");
}

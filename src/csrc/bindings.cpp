// pybind11 module ssmp3d._C: the C++ CPU ops. No libtorch.
//
// Tensors cross as raw addresses (Python ints: tensor.data_ptr() or
// ndarray.ctypes.data) plus sizes. The caller (ssmp3d.ops) has already
// checked dtype, shape and contiguity; these functions only reject arguments
// that would make the kernel touch memory out of bounds. Each op releases
// the GIL while it runs.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "heatmap_nms.h"

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
}

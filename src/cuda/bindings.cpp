// pybind11 module ssmp3d._C_cuda, compiled by the host compiler; the kernels
// live in a static library built by nvcc. No libtorch.
//
// Device tensors cross as raw addresses (Python ints: tensor.data_ptr()), the
// stream as the integer torch.cuda.current_stream(device).cuda_stream, read
// by the caller for every call. The caller makes the tensors' device current
// (torch.cuda.device(...)); this module never synchronises or allocates.
#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "heatmap_nms.cuh"
#include "readout.cuh"

namespace py = pybind11;

namespace {

constexpr int kAbiVersion = 2;  // equal to ssmp3d.ops._ext.ABI_VERSION

template <typename T>
T* as_ptr(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

void heatmap_nms_cuda_py(std::uintptr_t heatmaps, int64_t B, int64_t K, int64_t H, int64_t W,
                         double threshold, int64_t radius, int64_t max_candidates,
                         std::uintptr_t scores, std::uintptr_t indices, std::uintptr_t counts,
                         std::uintptr_t nan_count, std::uintptr_t stream) {
  if (B <= 0 || K <= 0 || H <= 0 || W <= 0)
    throw py::value_error("heatmap_nms_cuda: B, K, H, W must be > 0");
  if (H * W > (int64_t{1} << 30)) throw py::value_error("heatmap_nms_cuda: H*W must be <= 2**30");
  if (B * K > INT32_MAX) throw py::value_error("heatmap_nms_cuda: B*K must be < 2**31");
  if (radius < 0) throw py::value_error("heatmap_nms_cuda: radius must be >= 0");
  if (max_candidates < 1 || max_candidates > ssmp3d::cuda::kMaxCandidates)
    throw py::value_error("heatmap_nms_cuda: max_candidates must be in [1, " +
                          std::to_string(ssmp3d::cuda::kMaxCandidates) + "]");
  if (!heatmaps || !scores || !indices || !counts || !nan_count)
    throw py::value_error("heatmap_nms_cuda: null pointer");
  cudaError_t err;
  {
    py::gil_scoped_release release;
    err = ssmp3d::cuda::heatmap_nms_cuda(
        as_ptr<const float>(heatmaps), B, K, H, W, threshold, radius, max_candidates,
        as_ptr<float>(scores), as_ptr<int64_t>(indices), as_ptr<int32_t>(counts),
        as_ptr<int32_t>(nan_count), reinterpret_cast<cudaStream_t>(stream));
  }
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("heatmap_nms_cuda: kernel launch failed: ") +
                             cudaGetErrorString(err));
}

void orpm_readout_cuda_py(std::uintptr_t orpm, std::uintptr_t positions, std::uintptr_t scores,
                          std::uintptr_t detected, std::uintptr_t num_formed,
                          std::uintptr_t people, std::uintptr_t num_people, int64_t B, int64_t Q,
                          int64_t P, int64_t K, int64_t H, int64_t W,
                          std::uintptr_t skeleton_table, int64_t neck, int64_t pelvis, bool naive,
                          double readout_threshold, double readout_min_dist,
                          std::uintptr_t mean_bones_host, std::uintptr_t mean_bones_dev,
                          std::uintptr_t joints3d, std::uintptr_t rule, std::uintptr_t joint,
                          std::uintptr_t status, std::uintptr_t stream) {
  if (B <= 0 || Q <= 0 || P <= 0 || K <= 0 || H <= 0 || W <= 0)
    throw py::value_error("orpm_readout_cuda: sizes must be > 0");
  if (B > INT32_MAX / (P > Q ? P : Q))
    throw py::value_error("orpm_readout_cuda: B * max(P, Q) must be < 2**31");
  if (!orpm || !positions || !scores || !detected || !num_formed || !people || !num_people ||
      !skeleton_table || (!mean_bones_host && !mean_bones_dev) || !joints3d || !rule || !joint ||
      !status)
    throw py::value_error("orpm_readout_cuda: null pointer");
  const std::string bad =
      ssmp3d::cuda::readout_table_error(as_ptr<const int64_t>(skeleton_table), K, neck, pelvis);
  if (!bad.empty()) throw py::value_error("orpm_readout_cuda: skeleton table: " + bad);
  cudaError_t err;
  {
    py::gil_scoped_release release;
    err = ssmp3d::cuda::orpm_readout_cuda(
        as_ptr<const float>(orpm), as_ptr<const int64_t>(positions), as_ptr<const float>(scores),
        as_ptr<const uint8_t>(detected), as_ptr<const int64_t>(num_formed),
        as_ptr<const int64_t>(people), as_ptr<const int64_t>(num_people), B, Q, P, K, H, W,
        as_ptr<const int64_t>(skeleton_table), neck, pelvis, naive, readout_threshold,
        readout_min_dist, as_ptr<const float>(mean_bones_host),
        as_ptr<const float>(mean_bones_dev), as_ptr<float>(joints3d), as_ptr<int8_t>(rule),
        as_ptr<int16_t>(joint), as_ptr<int32_t>(status), reinterpret_cast<cudaStream_t>(stream));
  }
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("orpm_readout_cuda: kernel launch failed: ") +
                             cudaGetErrorString(err));
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the error; no usable device
    return 0;
  }
  return n;
}

}  // namespace

PYBIND11_MODULE(_C_cuda, m) {
  m.doc() = "ssmp3d CUDA ops (raw-pointer interface; use ssmp3d.ops for checked versions)";
  m.attr("ABI_VERSION") = kAbiVersion;
  m.attr("MAX_CANDIDATES") = ssmp3d::cuda::kMaxCandidates;
  m.attr("READOUT_MAX_K") = ssmp3d::cuda::kReadoutMaxK;

  m.def("heatmap_nms_cuda", &heatmap_nms_cuda_py, py::arg("heatmaps_ptr"), py::arg("B"),
        py::arg("K"), py::arg("H"), py::arg("W"), py::arg("threshold"), py::arg("radius"),
        py::arg("max_candidates"), py::arg("scores_ptr"), py::arg("indices_ptr"),
        py::arg("counts_ptr"), py::arg("nan_count_ptr"), py::arg("stream_ptr"),
        R"doc(Enqueue heatmap NMS (DESIGN.md 6.1) of float32 device heatmaps [B, K, H, W].

Writes scores [B, K, M] float32, indices [B, K, M] int64 (-1 padding) and
counts [B, K] int32; adds the number of maps containing NaN to the int32 at
nan_count_ptr (zeroed by the caller). Runs on the stream given as an integer
handle on the current device; no synchronisation. Raises RuntimeError if the
launch fails.)doc");
  m.def("orpm_readout_cuda", &orpm_readout_cuda_py, py::arg("orpm_ptr"),
        py::arg("positions_ptr"), py::arg("scores_ptr"), py::arg("detected_ptr"),
        py::arg("num_formed_ptr"), py::arg("people_ptr"), py::arg("num_people_ptr"), py::arg("B"),
        py::arg("Q"), py::arg("P"), py::arg("K"), py::arg("H"), py::arg("W"),
        py::arg("skeleton_table_ptr"), py::arg("neck"), py::arg("pelvis"), py::arg("naive"),
        py::arg("readout_threshold"), py::arg("readout_min_dist"), py::arg("mean_bones_host_ptr"),
        py::arg("mean_bones_dev_ptr"), py::arg("joints3d_ptr"), py::arg("rule_ptr"),
        py::arg("joint_ptr"), py::arg("status_ptr"), py::arg("stream_ptr"),
        R"doc(Enqueue the ORPM read-out (DESIGN.md 6.4) of B images on the device.

Device inputs as orpm_readout_cpu (detected as uint8); the skeleton table
(int64 [2 + 2K, K], K <= READOUT_MAX_K) is a HOST address, checked here; the
mean bones [K, 3] float32 come from mean_bones_dev_ptr (device) when it is
non-zero, else from mean_bones_host_ptr (host, copied into the launch).
Writes joints3d [B, P, K, 3] float32, rule [B, P, K] int8, joint [B, P, K]
int16; adds the NaN values read to status[0] and ORs bad-input bits (1
num_formed, 2 num_people, 4 people, 8 positions) into status[1] (two int32,
zeroed by the caller). No synchronisation. Raises ValueError for a bad table,
RuntimeError if the launch fails.)doc");
  m.def("device_count", &device_count,
        "Number of CUDA devices visible to this module's runtime (0 when none or on error).");
}

// pybind11 module ssmp3d._C_cuda, compiled by the host compiler; the kernels
// live in a static library built by nvcc. No libtorch.
//
// Device tensors cross as raw addresses (Python ints: tensor.data_ptr()), the
// stream as the integer torch.cuda.current_stream(device).cuda_stream, read
// by the caller for every call. The caller makes the tensors' device current
// (torch.cuda.device(...)); this module never synchronises or allocates:
// the NMS ops' scratch for split maps (nms_split.cuh) is a torch tensor too,
// sized by nms_scratch_bytes for the split count nms_split_count picks.
#include <cuda_runtime_api.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "encode.cuh"
#include "heatmap_nms.cuh"
#include "nms_gather.cuh"
#include "readout.cuh"

namespace py = pybind11;

namespace {

constexpr int kAbiVersion = 7;  // equal to ssmp3d.ops._ext.CUDA_ABI_VERSION

template <typename T>
T* as_ptr(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

ssmp3d::cuda::MapDtype map_dtype(const char* fn, int code) {
  if (code < 0 || code > 2) throw py::value_error(std::string(fn) + ": dtype code must be 0, 1 or 2");
  return static_cast<ssmp3d::cuda::MapDtype>(code);
}

void check_map(const char* fn, int64_t B, int64_t K, int64_t H, int64_t W, int64_t radius,
               int64_t max_candidates) {
  const std::string f(fn);
  if (B <= 0 || K <= 0 || H <= 0 || W <= 0) throw py::value_error(f + ": B, K, H, W must be > 0");
  if (H * W > (int64_t{1} << 30)) throw py::value_error(f + ": H*W must be <= 2**30");
  if (B * K > INT32_MAX) throw py::value_error(f + ": B*K must be < 2**31");
  if (radius < 0) throw py::value_error(f + ": radius must be >= 0");
  if (max_candidates < 1 || max_candidates > ssmp3d::cuda::kMaxCandidates)
    throw py::value_error(f + ": max_candidates must be in [1, " +
                          std::to_string(ssmp3d::cuda::kMaxCandidates) + "]");
}

void throw_launch(const char* fn, cudaError_t err) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(fn) + ": kernel launch failed: " +
                             cudaGetErrorString(err));
}

// The 8 element strides of map_layout (heatmap_nms.cuh), checked non-negative.
ssmp3d::cuda::MapLayout map_layout(const char* fn, const std::vector<int64_t>& s) {
  if (s.size() != 8) throw py::value_error(std::string(fn) + ": expected 8 strides");
  for (int64_t v : s)
    if (v < 0) throw py::value_error(std::string(fn) + ": strides must be >= 0");
  return ssmp3d::cuda::MapLayout{s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]};
}

// splits (bands per map, nms_split.cuh) and the scratch they need.
void check_splits(const char* fn, int64_t B, int64_t K, int64_t splits, std::uintptr_t scratch) {
  const std::string f(fn);
  if (splits < 1 || splits > ssmp3d::cuda::kNmsMaxSplits)
    throw py::value_error(f + ": splits must be in [1, " +
                          std::to_string(ssmp3d::cuda::kNmsMaxSplits) + "]");
  if (B * K * splits > INT32_MAX) throw py::value_error(f + ": B*K*splits must be < 2**31");
  if (splits > 1 && !scratch) throw py::value_error(f + ": splits > 1 needs a scratch buffer");
}

// The bands per map the ops use for `maps` maps of H rows on `device`.
int nms_split_count_py(int64_t maps, int64_t H, int device) {
  if (maps <= 0 || H <= 0) throw py::value_error("nms_split_count: maps and H must be > 0");
  if (device < 0) throw py::value_error("nms_split_count: device must be >= 0");
  return ssmp3d::cuda::nms_split_count(maps, H, ssmp3d::cuda::device_sm_count(device));
}

int64_t nms_scratch_bytes_py(int64_t maps, int64_t splits, int64_t max_candidates) {
  if (maps <= 0 || maps > INT32_MAX || splits < 1 || splits > ssmp3d::cuda::kNmsMaxSplits ||
      max_candidates < 1 || max_candidates > ssmp3d::cuda::kMaxCandidates)
    throw py::value_error("nms_scratch_bytes: need 0 < maps < 2**31, 1 <= splits <= " +
                          std::to_string(ssmp3d::cuda::kNmsMaxSplits) + ", 1 <= max_candidates <= " +
                          std::to_string(ssmp3d::cuda::kMaxCandidates));
  return ssmp3d::cuda::nms_scratch_bytes(maps, splits, max_candidates);
}

void heatmap_nms_cuda_py(std::uintptr_t heatmaps, const std::vector<int64_t>& strides, int dtype, int64_t B, int64_t K, int64_t H,
                         int64_t W, double threshold, int64_t radius, int64_t max_candidates,
                         std::uintptr_t scores, std::uintptr_t indices, std::uintptr_t counts,
                         std::uintptr_t nan_count, std::uintptr_t stream, int64_t splits,
                         std::uintptr_t scratch) {
  check_map("heatmap_nms_cuda", B, K, H, W, radius, max_candidates);
  check_splits("heatmap_nms_cuda", B, K, splits, scratch);
  const auto dt = map_dtype("heatmap_nms_cuda", dtype);
  const auto layout = map_layout("heatmap_nms_cuda", strides);
  if (!heatmaps || !scores || !indices || !counts || !nan_count)
    throw py::value_error("heatmap_nms_cuda: null pointer");
  cudaError_t err;
  {
    py::gil_scoped_release release;
    err = ssmp3d::cuda::heatmap_nms_cuda(
        as_ptr<const void>(heatmaps), layout, dt, B, K, H, W, threshold, radius, max_candidates,
        as_ptr<float>(scores), as_ptr<int64_t>(indices), as_ptr<int32_t>(counts),
        as_ptr<int32_t>(nan_count), static_cast<int>(splits), as_ptr<void>(scratch),
        reinterpret_cast<cudaStream_t>(stream));
  }
  throw_launch("heatmap_nms_cuda", err);
}

void nms_gather_cuda_py(std::uintptr_t heatmaps, std::uintptr_t tags, std::uintptr_t orpm,
                        const std::vector<int64_t>& strides, int dtype, int64_t B, int64_t K, int64_t H, int64_t W, int64_t D,
                        double threshold, int64_t radius, int64_t max_candidates,
                        std::uintptr_t gather_start, std::uintptr_t gather_maps,
                        int64_t total_maps, std::uintptr_t scores, std::uintptr_t indices,
                        std::uintptr_t counts, std::uintptr_t flags, std::uintptr_t tags_at,
                        std::uintptr_t orpm_at, std::uintptr_t refine, std::uintptr_t stream,
                        int64_t splits, std::uintptr_t scratch) {
  check_map("nms_gather_cuda", B, K, H, W, radius, max_candidates);
  check_splits("nms_gather_cuda", B, K, splits, scratch);
  const auto dt = map_dtype("nms_gather_cuda", dtype);
  const auto layout = map_layout("nms_gather_cuda", strides);
  if (D <= 0 || total_maps < 0 || max_candidates * std::max(total_maps, D) * 3 > INT32_MAX)
    throw py::value_error("nms_gather_cuda: need D >= 1, total_maps >= 0, M * max(T, D) * 3 < 2**31");
  if (!heatmaps || !tags || !orpm || !gather_start || !scores || !indices || !counts || !flags ||
      !tags_at || (total_maps > 0 && (!gather_maps || !orpm_at)))
    throw py::value_error("nms_gather_cuda: null pointer");
  const ssmp3d::cuda::GatherOutputs out{as_ptr<float>(scores),  as_ptr<int64_t>(indices),
                                        as_ptr<int32_t>(counts), as_ptr<int32_t>(flags),
                                        as_ptr<float>(tags_at), as_ptr<float>(orpm_at),
                                        as_ptr<int8_t>(refine)};
  cudaError_t err;
  {
    py::gil_scoped_release release;
    err = ssmp3d::cuda::nms_gather_cuda(
        as_ptr<const void>(heatmaps), as_ptr<const void>(tags), as_ptr<const void>(orpm), layout, dt, B, K,
        H, W, D, threshold, radius, max_candidates, as_ptr<const int32_t>(gather_start),
        as_ptr<const int32_t>(gather_maps), total_maps, out, static_cast<int>(splits),
        as_ptr<void>(scratch), reinterpret_cast<cudaStream_t>(stream));
  }
  throw_launch("nms_gather_cuda", err);
}

// Sizes shared by the encoders (encode.cuh); B*K*channels*H*W <= 2^34.
void check_encode_sizes(const char* fn, int64_t B, int64_t N, int64_t K, int64_t H, int64_t W,
                        int64_t channels) {
  const std::string name(fn);
  if (B <= 0 || K <= 0 || H <= 0 || W <= 0 || N < 0)
    throw py::value_error(name + ": B, K, H, W must be > 0 and N >= 0");
  if (H > (int64_t{1} << 30) || W > (int64_t{1} << 30) || H * W > (int64_t{1} << 30))
    throw py::value_error(name + ": H*W must be <= 2**30");
  const int64_t map_values = channels * H * W, limit = int64_t{1} << 34;
  if (K > limit / map_values || B > limit / (K * map_values))
    throw py::value_error(name + ": the output must hold <= 2**34 values");
}

void raise_on_launch_error(const char* fn, cudaError_t err) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string(fn) + ": kernel launch failed: " + cudaGetErrorString(err));
}

void encode_heatmaps_cuda_py(std::uintptr_t joints_map, std::uintptr_t valid, int64_t B, int64_t N,
                             int64_t K, int64_t H, int64_t W, double sigma, std::uintptr_t out,
                             std::uintptr_t stream) {
  check_encode_sizes("encode_heatmaps_cuda", B, N, K, H, W, 1);
  if (!(sigma > 0.0) || !std::isfinite(sigma))
    throw py::value_error("encode_heatmaps_cuda: sigma must be finite and > 0");
  if (!out || (N > 0 && (!joints_map || !valid)))
    throw py::value_error("encode_heatmaps_cuda: null pointer");
  cudaError_t err;
  {
    py::gil_scoped_release release;
    err = ssmp3d::cuda::encode_heatmaps_cuda(as_ptr<const double>(joints_map),
                                             as_ptr<const uint8_t>(valid), B, N, K, H, W, sigma,
                                             as_ptr<float>(out),
                                             reinterpret_cast<cudaStream_t>(stream));
  }
  raise_on_launch_error("encode_heatmaps_cuda", err);
}

void encode_orpm_cuda_py(std::uintptr_t joints_map, std::uintptr_t bones32, std::uintptr_t valid,
                         std::uintptr_t bones_valid, std::uintptr_t depth, std::uintptr_t chains,
                         int64_t B, int64_t N, int64_t K, int64_t C, int64_t H, int64_t W,
                         int64_t radius, std::uintptr_t orpm, std::uintptr_t weight,
                         std::uintptr_t stream) {
  check_encode_sizes("encode_orpm_cuda", B, N, K, H, W, 3);
  if (C < 1) throw py::value_error("encode_orpm_cuda: C must be >= 1");
  if (radius < 0) throw py::value_error("encode_orpm_cuda: radius must be >= 0");
  if (!chains || !orpm || !weight ||
      (N > 0 && (!joints_map || !bones32 || !valid || !bones_valid || !depth)))
    throw py::value_error("encode_orpm_cuda: null pointer");
  cudaError_t err;
  {
    py::gil_scoped_release release;
    err = ssmp3d::cuda::encode_orpm_cuda(
        as_ptr<const double>(joints_map), as_ptr<const float>(bones32),
        as_ptr<const uint8_t>(valid), as_ptr<const uint8_t>(bones_valid),
        as_ptr<const double>(depth), as_ptr<const int64_t>(chains), B, N, K, C, H, W, radius,
        as_ptr<float>(orpm), as_ptr<float>(weight), reinterpret_cast<cudaStream_t>(stream));
  }
  raise_on_launch_error("encode_orpm_cuda", err);
}

void encode_tag_maps_cuda_py(std::uintptr_t joints_map, std::uintptr_t valid, std::uintptr_t depth,
                             std::uintptr_t tags32, int64_t B, int64_t N, int64_t K, int64_t H,
                             int64_t W, int64_t radius, std::uintptr_t out, std::uintptr_t stream) {
  check_encode_sizes("encode_tag_maps_cuda", B, N, K, H, W, 1);
  if (radius < 0) throw py::value_error("encode_tag_maps_cuda: radius must be >= 0");
  if (!out || (N > 0 && (!joints_map || !valid || !depth || !tags32)))
    throw py::value_error("encode_tag_maps_cuda: null pointer");
  cudaError_t err;
  {
    py::gil_scoped_release release;
    err = ssmp3d::cuda::encode_tag_maps_cuda(
        as_ptr<const double>(joints_map), as_ptr<const uint8_t>(valid), as_ptr<const double>(depth),
        as_ptr<const float>(tags32), B, N, K, H, W, radius, as_ptr<float>(out),
        reinterpret_cast<cudaStream_t>(stream));
  }
  raise_on_launch_error("encode_tag_maps_cuda", err);
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

std::string cuda_version(int v) {
  return v <= 0 ? std::string("none") : std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}

// (count, "") or (0, "cudaErrorName: message") from cudaGetDeviceCount: why
// this module's statically linked runtime cannot see a device (e.g. a
// driver older than the runtime). The error is cleared.
py::tuple device_status() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);  // 0 when no driver is installed
    cudaRuntimeGetVersion(&runtime);
    const std::string versions =
        driver <= 0 ? " (no CUDA driver found; this module's runtime is CUDA " + cuda_version(runtime) + ")"
                    : " (the driver supports CUDA " + cuda_version(driver) +
                          ", this module's runtime is CUDA " + cuda_version(runtime) + ")";
    return py::make_tuple(0, std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err) +
                                 versions);
  }
  return py::make_tuple(n, std::string());
}

}  // namespace

PYBIND11_MODULE(_C_cuda, m) {
  m.doc() = "ssmp3d CUDA ops (raw-pointer interface; use ssmp3d.ops for checked versions)";
  m.attr("ABI_VERSION") = kAbiVersion;
  m.attr("MAX_CANDIDATES") = ssmp3d::cuda::kMaxCandidates;
  m.attr("NMS_MAX_SPLITS") = ssmp3d::cuda::kNmsMaxSplits;
  m.attr("READOUT_MAX_K") = ssmp3d::cuda::kReadoutMaxK;

  m.def("heatmap_nms_cuda", &heatmap_nms_cuda_py, py::arg("heatmaps_ptr"), py::arg("strides"), py::arg("dtype"),
        py::arg("B"), py::arg("K"), py::arg("H"), py::arg("W"), py::arg("threshold"),
        py::arg("radius"), py::arg("max_candidates"), py::arg("scores_ptr"),
        py::arg("indices_ptr"), py::arg("counts_ptr"), py::arg("nan_count_ptr"),
        py::arg("stream_ptr"), py::arg("splits") = 1, py::arg("scratch_ptr") = 0,
        R"doc(Enqueue heatmap NMS (DESIGN.md 6.1) of device heatmaps [B, K, H, W].

strides: the 8 element strides of MapLayout (heatmap_nms.cuh); only the
heatmaps' batch and joint strides are read; each [H, W] map is contiguous.

dtype: 0 float32, 1 float16, 2 bfloat16 (compared in float32). Writes scores
[B, K, M] float32, indices [B, K, M] int64 (-1 padding) and counts [B, K]
int32; adds the number of maps containing NaN to the int32 at nan_count_ptr
(zeroed by the caller). Runs on the stream given as an integer handle on the
current device; no synchronisation. splits > 1 cuts each map into that many
bands of rows (one block each, then a merge kernel; see nms_split_count) and
needs scratch_ptr: device memory of nms_scratch_bytes(B*K, splits, M) bytes;
the outputs do not depend on splits. Raises RuntimeError if the launch fails.)doc");
  m.def("nms_gather_cuda", &nms_gather_cuda_py, py::arg("heatmaps_ptr"), py::arg("tags_ptr"),
        py::arg("orpm_ptr"), py::arg("strides"), py::arg("dtype"), py::arg("B"), py::arg("K"), py::arg("H"),
        py::arg("W"), py::arg("D"), py::arg("threshold"), py::arg("radius"),
        py::arg("max_candidates"), py::arg("gather_start_ptr"), py::arg("gather_maps_ptr"),
        py::arg("total_maps"), py::arg("scores_ptr"), py::arg("indices_ptr"),
        py::arg("counts_ptr"), py::arg("flags_ptr"), py::arg("tags_at_ptr"),
        py::arg("orpm_at_ptr"), py::arg("refine_ptr"), py::arg("stream_ptr"),
        py::arg("splits") = 1, py::arg("scratch_ptr") = 0,
        R"doc(Enqueue fused NMS + gather (DESIGN.md 6.1-6.2) of device maps; see nms_gather.cuh.

heatmaps [B, K, H, W], tags [B, K, D, H, W], orpm [B, K, 3, H, W] of one
dtype (0 float32, 1 float16, 2 bfloat16), each [H, W] map contiguous, found
through strides (8 element strides: heatmaps batch, joint; tags batch,
joint, d; orpm batch, joint, component); gather lists gather_start [K + 1]
and gather_maps [total_maps] int32 on the device. Writes scores, indices,
counts, flags [B, K] (1 heatmap NaN, 2 tag NaN, 4 ORPM NaN), tags_at
[B, K, M, D], orpm_at [B, M * total_maps, 3] and, unless refine_ptr is 0,
refine [B, K, M, 2] int8. splits / scratch_ptr as for heatmap_nms_cuda (the
outputs do not depend on them). No synchronisation.)doc");
  m.def("nms_split_count", &nms_split_count_py, py::arg("maps"), py::arg("H"), py::arg("device"),
        R"doc(Bands of rows per map (1 = no split) the NMS ops use for `maps` = B*K maps of H
rows on CUDA device `device`: min(ceil(2 * SMs / maps), 16, H // 8) when
maps < SMs, else 1 (values below 2 mean 1). The SM count is queried once per
device and cached.)doc");
  m.def("nms_scratch_bytes", &nms_scratch_bytes_py, py::arg("maps"), py::arg("splits"),
        py::arg("max_candidates"),
        "Bytes of device scratch heatmap_nms_cuda / nms_gather_cuda need for maps = B*K maps cut "
        "into `splits` bands: maps * splits * (8 * max_candidates + 4).");
  m.def("encode_heatmaps_cuda", &encode_heatmaps_cuda_py, py::arg("joints_map_ptr"),
        py::arg("valid_ptr"), py::arg("B"), py::arg("N"), py::arg("K"), py::arg("H"),
        py::arg("W"), py::arg("sigma"), py::arg("out_ptr"), py::arg("stream_ptr"),
        R"doc(Enqueue Gaussian heatmaps (encode.h) into float32 device out [B, K, H, W].

joints_map [B, N, K, 2] float64, valid [B, N, K] uint8, contiguous device
memory (may be 0 when N == 0). Runs on the stream given as an integer handle
on the current device; no synchronisation. Raises RuntimeError if the launch
fails.)doc");
  m.def("encode_orpm_cuda", &encode_orpm_cuda_py, py::arg("joints_map_ptr"),
        py::arg("bones32_ptr"), py::arg("valid_ptr"), py::arg("bones_valid_ptr"),
        py::arg("depth_ptr"), py::arg("chains_ptr"), py::arg("B"), py::arg("N"), py::arg("K"),
        py::arg("C"), py::arg("H"), py::arg("W"), py::arg("radius"), py::arg("orpm_ptr"),
        py::arg("weight_ptr"), py::arg("stream_ptr"),
        R"doc(Enqueue ORPM targets (encode.h) into float32 device orpm [B, K, 3, H, W] and weight [B, K, H, W].

bones32 [B, N, K, 3] float32, bones_valid [B, N, K] uint8, depth [B, N]
float64, chains [K, C] int64 (entries outside [0, K) are skipped). Same
stream and pointer rules as encode_heatmaps_cuda.)doc");
  m.def("encode_tag_maps_cuda", &encode_tag_maps_cuda_py, py::arg("joints_map_ptr"),
        py::arg("valid_ptr"), py::arg("depth_ptr"), py::arg("tags32_ptr"), py::arg("B"),
        py::arg("N"), py::arg("K"), py::arg("H"), py::arg("W"), py::arg("radius"),
        py::arg("out_ptr"), py::arg("stream_ptr"),
        R"doc(Enqueue tag maps (encode.h) into float32 device out [B, K, H, W].

depth [B, N] float64, tags32 [B, N] float32. Same stream and pointer rules
as encode_heatmaps_cuda.)doc");
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
  m.def("device_status", &device_status,
        "(count, error) from cudaGetDeviceCount of this module's runtime: (n, '') on success, "
        "(0, 'cudaErrorName: description') when no device or driver is usable.");
}

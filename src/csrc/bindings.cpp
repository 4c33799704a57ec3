// pybind11 module ssmp3d._C: the C++ CPU ops. No libtorch.
//
// Tensors cross as raw addresses (Python ints: tensor.data_ptr() or
// ndarray.ctypes.data) plus sizes. The caller (ssmp3d.ops) has already
// checked dtype, shape and contiguity; these functions only reject arguments
// that would make the kernel touch memory out of bounds. Each op releases
// the GIL while it runs.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "heatmap_nms.h"
#include "encode.h"
#include "decode.h"
#include "grouping.h"
#include "nms_gather.h"
#include "readout.h"

namespace py = pybind11;

namespace {

// Bumped whenever a signature of this module changes, so the Python layer can
// detect a stale build.
constexpr int kAbiVersion = 7;

template <typename T>
T* as_ptr(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

// Element strides of a map input (map_strides.h), checked non-negative.
ssmp3d::MapStrides map_strides(const char* op, const char* name, int64_t batch, int64_t joint,
                               int64_t channel) {
  if (batch < 0 || joint < 0 || channel < 0)
    throw py::value_error(std::string(op) + ": " + name + " strides must be >= 0");
  return ssmp3d::MapStrides{batch, joint, channel};
}

// The element type of a map input from its code (map_types.h).
ssmp3d::MapType map_type(const char* op, const char* name, int64_t code) {
  if (code < 0 || code > 2)
    throw py::value_error(std::string(op) + ": " + name +
                          " type code must be 0 (float32), 1 (float16) or 2 (bfloat16)");
  return static_cast<ssmp3d::MapType>(code);
}

// Strides and element types of the heatmaps, tags and ORPM inputs: 8 strides
// (heatmaps batch, joint; tags batch, joint, d; orpm batch, joint, component)
// and 3 type codes.
struct MapInputs {
  ssmp3d::MapStrides hs, ts, os;
};

MapInputs map_inputs(const char* op, const std::vector<int64_t>& strides, const std::vector<int64_t>& types) {
  if (strides.size() != 8) throw py::value_error(std::string(op) + ": expected 8 strides");
  if (types.size() != 3) throw py::value_error(std::string(op) + ": expected 3 map type codes");
  MapInputs in{map_strides(op, "heatmaps", strides[0], strides[1], 0),
               map_strides(op, "tags", strides[2], strides[3], strides[4]),
               map_strides(op, "orpm", strides[5], strides[6], strides[7])};
  in.hs.type = map_type(op, "heatmaps", types[0]);
  in.ts.type = map_type(op, "tags", types[1]);
  in.os.type = map_type(op, "orpm", types[2]);
  return in;
}

int64_t heatmap_nms_cpu_py(std::uintptr_t heatmaps, int64_t stride_b, int64_t stride_k,
                           const std::string& dtype, int64_t B, int64_t K,
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
  auto st = map_strides("heatmap_nms_cpu", "heatmaps", stride_b, stride_k, 0);
  if (dtype != "float64") {
    if (dtype == "float32") st.type = ssmp3d::MapType::kFloat32;
    else if (dtype == "float16") st.type = ssmp3d::MapType::kFloat16;
    else if (dtype == "bfloat16") st.type = ssmp3d::MapType::kBFloat16;
    else
      throw py::value_error("heatmap_nms_cpu: dtype must be 'float16', 'bfloat16', 'float32' or "
                            "'float64', got '" + dtype + "'");
    py::gil_scoped_release release;
    return ssmp3d::heatmap_nms_cpu(as_ptr<const void>(heatmaps), st, B, K, H, W, threshold, radius,
                                   max_candidates, as_ptr<float>(scores), as_ptr<int64_t>(indices),
                                   as_ptr<int32_t>(counts), num_threads);
  }
  py::gil_scoped_release release;
  return ssmp3d::heatmap_nms_cpu(as_ptr<const double>(heatmaps), st, B, K, H, W, threshold, radius,
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

// ---- decoder ops (nms_gather, grouping, readout, the fused decoder) --------

void check_sizes(const char* op, std::initializer_list<int64_t> sizes) {
  for (int64_t v : sizes)
    if (v <= 0) throw py::value_error(std::string(op) + ": sizes must be > 0");
}

void check_ptrs(const char* op, std::initializer_list<std::uintptr_t> ptrs) {
  for (std::uintptr_t p : ptrs)
    if (!p) throw py::value_error(std::string(op) + ": null pointer");
}

ssmp3d::SkeletonTables skeleton_tables(const char* op, std::uintptr_t table, int64_t K,
                                       int64_t neck, int64_t pelvis) {
  if (neck < 0 || neck >= K || pelvis < 0 || pelvis >= K)
    throw py::value_error(std::string(op) + ": neck and pelvis must be in [0, K)");
  auto sk = ssmp3d::SkeletonTables::from_table(as_ptr<const int64_t>(table), K, neck, pelvis);
  const std::string bad = sk.check();
  if (!bad.empty()) throw py::value_error(std::string(op) + ": skeleton table: " + bad);
  return sk;
}

// Grouping parameters of the ops and decoders (grouping.h), checked. `parents`
// and `order` are the skeleton's [K] tables; `path` [K, K] float64 metres is
// read by the assignment strategy (may be 0 for the paper's).
ssmp3d::GroupParams group_params(const char* op, int64_t K, int64_t M, int64_t D, int64_t neck,
                                 double tag_threshold, int grouping, double geometry_weight,
                                 int person_score, double min_person_score, int64_t min_joints,
                                 int64_t max_people, std::uintptr_t path, const int64_t* parents,
                                 const int64_t* order, int64_t W) {
  const std::string name(op);
  if (grouping != ssmp3d::kGroupPaper && grouping != ssmp3d::kGroupAssign)
    throw py::value_error(name + ": grouping must be 0 (paper) or 1 (assign)");
  if (person_score != ssmp3d::kScoreDetected && person_score != ssmp3d::kScoreAll)
    throw py::value_error(name + ": person_score must be 0 (detected) or 1 (all)");
  if (!(geometry_weight >= 0.0) || !std::isfinite(geometry_weight))
    throw py::value_error(name + ": geometry_weight must be finite and >= 0");
  if (std::isnan(min_person_score)) throw py::value_error(name + ": min_person_score is NaN");
  ssmp3d::GroupParams p;
  p.K = K;
  p.M = M;
  p.D = D;
  p.neck = neck;
  p.tag_threshold = tag_threshold;
  p.min_joints = min_joints;
  p.max_people = max_people;
  p.strategy = grouping;
  p.geometry_weight = geometry_weight;
  p.person_score = person_score;
  p.min_person_score = min_person_score;
  p.W = W;
  if (grouping == ssmp3d::kGroupAssign) {
    if (!path || !parents || !order || W <= 0)
      throw py::value_error(name + ": grouping 'assign' needs the path table, the tree and W > 0");
    const auto* pl = as_ptr<const double>(path);
    for (int64_t i = 0; i < K * K; ++i)
      if (!std::isfinite(pl[i]) || (i / K != i % K && !(pl[i] > 0.0)))
        throw py::value_error(name + ": path lengths must be finite and > 0 off the diagonal");
    std::vector<uint8_t> seen(K, 0);
    for (int64_t i = 0; i < K; ++i) {
      const int64_t j = order[i];
      if (j < 0 || j >= K || seen[j] || parents[j] < -1 || parents[j] >= K ||
          (parents[j] >= 0 && !seen[parents[j]]))
        throw py::value_error(name + ": the order must list every joint once, after its parent");
      seen[j] = 1;
    }
    p.tree = ssmp3d::TreeTables{parents, order, pl};
  }
  return p;
}

py::tuple nms_gather_cpu_py(std::uintptr_t heatmaps, std::uintptr_t tags, std::uintptr_t orpm,
                            const std::vector<int64_t>& strides, const std::vector<int64_t>& types, int64_t B, int64_t K, int64_t H, int64_t W, int64_t D,
                            double threshold, int64_t radius, int64_t max_candidates,
                            std::uintptr_t scores, std::uintptr_t indices, std::uintptr_t counts,
                            std::uintptr_t tags_at, std::uintptr_t orpm_at, int num_threads) {
  check_sizes("nms_gather_cpu", {B, K, H, W, D, max_candidates});
  check_ptrs("nms_gather_cpu", {heatmaps, tags, orpm, scores, indices, counts, tags_at, orpm_at});
  if (radius < 0 || num_threads < 0)
    throw py::value_error("nms_gather_cpu: radius and num_threads must be >= 0");
  const auto [hs, ts, os] = map_inputs("nms_gather_cpu", strides, types);
  ssmp3d::NanCounts n;
  {
    py::gil_scoped_release release;
    n = ssmp3d::nms_gather_cpu(as_ptr<const void>(heatmaps), hs, as_ptr<const void>(tags), ts,
                               as_ptr<const void>(orpm), os, B, K, H, W, D, threshold, radius,
                               max_candidates, as_ptr<float>(scores), as_ptr<int64_t>(indices),
                               as_ptr<int32_t>(counts), as_ptr<float>(tags_at),
                               as_ptr<float>(orpm_at), num_threads);
  }
  return py::make_tuple(n.heatmaps, n.tags, n.orpm);
}

void group_candidates_cpu_py(std::uintptr_t scores, std::uintptr_t tags, std::uintptr_t counts,
                             std::uintptr_t indices, int64_t B, int64_t K, int64_t M, int64_t D,
                             int64_t neck, double tag_threshold, int grouping,
                             double geometry_weight, int person_score, double min_person_score,
                             int64_t min_joints, int64_t max_people, std::uintptr_t path,
                             std::uintptr_t parents, std::uintptr_t order, int64_t W,
                             std::uintptr_t assignment, std::uintptr_t person_scores,
                             std::uintptr_t person_tags, std::uintptr_t num_formed,
                             std::uintptr_t kept, std::uintptr_t num_kept, int num_threads) {
  check_sizes("group_candidates_cpu", {B, K, M, D, max_people});
  check_ptrs("group_candidates_cpu", {scores, tags, counts, assignment, person_scores,
                                      person_tags, num_formed, kept, num_kept});
  if (K * M >= (int64_t{1} << 31) || num_threads < 0)
    throw py::value_error("group_candidates_cpu: K * M must be < 2**31, num_threads >= 0");
  const auto p = group_params("group_candidates_cpu", K, M, D, neck, tag_threshold, grouping,
                              geometry_weight, person_score, min_person_score, min_joints,
                              max_people, path, as_ptr<const int64_t>(parents),
                              as_ptr<const int64_t>(order), W);
  if (grouping == ssmp3d::kGroupAssign) {
    if (!indices) throw py::value_error("group_candidates_cpu: grouping 'assign' needs indices");
    const auto* idx = as_ptr<const int64_t>(indices);
    const auto* ct = as_ptr<const int32_t>(counts);
    for (int64_t i = 0; i < B * K; ++i)
      for (int64_t r = 0; r < std::min<int64_t>(std::max<int32_t>(ct[i], 0), M); ++r)
        if (idx[i * M + r] < 0)
          throw py::value_error("group_candidates_cpu: indices must be >= 0 within the counts");
  }
  py::gil_scoped_release release;
  ssmp3d::group_candidates_cpu(p, B, as_ptr<const float>(scores), as_ptr<const double>(tags),
                               as_ptr<const int32_t>(counts), as_ptr<const int64_t>(indices),
                               as_ptr<int64_t>(assignment),
                               as_ptr<double>(person_scores), as_ptr<double>(person_tags),
                               as_ptr<int32_t>(num_formed), as_ptr<int64_t>(kept),
                               as_ptr<int32_t>(num_kept), num_threads);
}

int64_t orpm_readout_cpu_py(std::uintptr_t orpm, std::uintptr_t positions, std::uintptr_t scores,
                            std::uintptr_t detected, std::uintptr_t num_formed,
                            std::uintptr_t people, std::uintptr_t num_people, int64_t B,
                            int64_t Q, int64_t P, int64_t K, int64_t H, int64_t W,
                            std::uintptr_t skeleton_table, int64_t neck, int64_t pelvis,
                            bool naive, double readout_threshold, double readout_min_dist,
                            std::uintptr_t mean_bones, std::uintptr_t joints3d,
                            std::uintptr_t rule, std::uintptr_t joint, int num_threads) {
  check_sizes("orpm_readout_cpu", {B, Q, P, K, H, W});
  check_ptrs("orpm_readout_cpu", {orpm, positions, scores, detected, num_formed, people,
                                  num_people, skeleton_table, mean_bones, joints3d, rule, joint});
  if (num_threads < 0) throw py::value_error("orpm_readout_cpu: num_threads must be >= 0");
  const auto sk = skeleton_tables("orpm_readout_cpu", skeleton_table, K, neck, pelvis);
  const ssmp3d::ReadoutParams rp{naive, false, ssmp3d::threshold_as<float>(readout_threshold),
                                 readout_min_dist};
  py::gil_scoped_release release;
  return ssmp3d::orpm_readout_cpu(
      sk, rp, B, Q, P, H, W, as_ptr<const float>(orpm), as_ptr<const int64_t>(positions),
      as_ptr<const float>(scores), as_ptr<const uint8_t>(detected),
      as_ptr<const int64_t>(num_formed), as_ptr<const int64_t>(people),
      as_ptr<const int64_t>(num_people), as_ptr<const float>(mean_bones),
      as_ptr<float>(joints3d), as_ptr<int8_t>(rule), as_ptr<int16_t>(joint), num_threads);
}

// The decoders' ten caller-allocated outputs (decode.h: DecodeOutputs).
ssmp3d::DecodeOutputs decode_outputs(std::uintptr_t coords, std::uintptr_t scores,
                                     std::uintptr_t detected, std::uintptr_t peaks,
                                     std::uintptr_t joints3d, std::uintptr_t rule,
                                     std::uintptr_t joint, std::uintptr_t person_scores,
                                     std::uintptr_t tags_out, std::uintptr_t num_people) {
  return {as_ptr<double>(coords),    as_ptr<float>(scores),         as_ptr<uint8_t>(detected),
          as_ptr<int64_t>(peaks),    as_ptr<float>(joints3d),       as_ptr<int8_t>(rule),
          as_ptr<int16_t>(joint),    as_ptr<float>(person_scores),  as_ptr<double>(tags_out),
          as_ptr<int32_t>(num_people)};
}

py::tuple decode_cpu_py(std::uintptr_t heatmaps, std::uintptr_t tags, std::uintptr_t orpm,
                        const std::vector<int64_t>& strides, const std::vector<int64_t>& types, int64_t B, int64_t K, int64_t H, int64_t W, int64_t D,
                        double det_threshold, int64_t radius, int64_t max_candidates,
                        double tag_threshold, int grouping, double geometry_weight,
                        int person_score, double min_person_score, int64_t min_joints,
                        int64_t max_people, std::uintptr_t path, int readout_mode,
                        double readout_threshold, double readout_min_dist, bool refine,
                        std::uintptr_t skeleton_table, int64_t neck, int64_t pelvis,
                        std::uintptr_t mean_bones, std::uintptr_t coords, std::uintptr_t scores,
                        std::uintptr_t detected, std::uintptr_t peaks, std::uintptr_t joints3d,
                        std::uintptr_t rule, std::uintptr_t joint, std::uintptr_t person_scores,
                        std::uintptr_t tags_out, std::uintptr_t num_people, int num_threads) {
  check_sizes("decode_cpu", {B, K, H, W, D, max_candidates, max_people});
  check_ptrs("decode_cpu", {heatmaps, tags, skeleton_table, mean_bones, coords, scores,
                            detected, peaks, joints3d, rule, joint, person_scores, tags_out,
                            num_people});
  if (radius < 0 || num_threads < 0)
    throw py::value_error("decode_cpu: radius and num_threads must be >= 0");
  const auto [hs, ts, os] = map_inputs("decode_cpu", strides, types);
  if (K * max_candidates >= (int64_t{1} << 31))
    throw py::value_error("decode_cpu: K * max_candidates must be < 2**31");
  const auto sk = skeleton_tables("decode_cpu", skeleton_table, K, neck, pelvis);
  if (readout_mode < 0 || readout_mode > 2 || (readout_mode != 2 && !orpm))
    throw py::value_error("decode_cpu: readout_mode must be 0 (full), 1 (naive) or 2 (none); "
                          "the first two need orpm");
  ssmp3d::DecodeParams p;
  p.det_threshold = det_threshold;
  p.radius = radius;
  p.refine = refine;
  p.group = group_params("decode_cpu", K, max_candidates, D, neck, tag_threshold, grouping,
                         geometry_weight, person_score, min_person_score, min_joints, max_people,
                         path, sk.parents, sk.topo, W);
  p.readout = ssmp3d::ReadoutParams{readout_mode == 1, readout_mode == 2,
                                    ssmp3d::threshold_as<float>(readout_threshold),
                                    readout_min_dist};
  const auto out = decode_outputs(coords, scores, detected, peaks, joints3d, rule, joint,
                                  person_scores, tags_out, num_people);
  ssmp3d::DecodeStatus st;
  {
    py::gil_scoped_release release;
    st = ssmp3d::decode_cpu(as_ptr<const void>(heatmaps), hs, as_ptr<const void>(tags), ts,
                            as_ptr<const void>(orpm), os, B, H, W, p, sk,
                            as_ptr<const float>(mean_bones), out, num_threads);
  }
  return py::make_tuple(st.kind, st.image);
}

py::tuple decode_candidates_cpu_py(
    std::uintptr_t scores_in, std::uintptr_t indices, std::uintptr_t counts, std::uintptr_t flags,
    std::uintptr_t tags_at, std::uintptr_t orpm_at, std::uintptr_t refine,
    std::uintptr_t gather_start, std::uintptr_t gather_slot, int64_t B, int64_t K, int64_t H,
    int64_t W, int64_t D, int64_t max_candidates, double tag_threshold, int grouping,
    double geometry_weight, int person_score, double min_person_score, int64_t min_joints,
    int64_t max_people, std::uintptr_t path, int readout_mode, double readout_threshold,
    double readout_min_dist, bool refine_on, std::uintptr_t skeleton_table, int64_t neck, int64_t pelvis,
    std::uintptr_t mean_bones, std::uintptr_t coords, std::uintptr_t scores,
    std::uintptr_t detected, std::uintptr_t peaks, std::uintptr_t joints3d, std::uintptr_t rule,
    std::uintptr_t joint, std::uintptr_t person_scores, std::uintptr_t tags_out,
    std::uintptr_t num_people, int num_threads) {
  check_sizes("decode_candidates_cpu", {B, K, H, W, D, max_candidates, max_people});
  check_ptrs("decode_candidates_cpu",
             {scores_in, indices, counts, flags, tags_at, orpm_at, refine, gather_start,
              gather_slot, skeleton_table, mean_bones, coords, scores, detected, peaks, joints3d,
              rule, joint, person_scores, tags_out, num_people});
  if (num_threads < 0) throw py::value_error("decode_candidates_cpu: num_threads must be >= 0");
  if (K * max_candidates >= (int64_t{1} << 31))
    throw py::value_error("decode_candidates_cpu: K * max_candidates must be < 2**31");
  const auto sk = skeleton_tables("decode_candidates_cpu", skeleton_table, K, neck, pelvis);
  if (readout_mode < 0 || readout_mode > 2)
    throw py::value_error("decode_candidates_cpu: readout_mode must be 0 (full), 1 (naive) or 2 (none)");
  // The gather lists must cover every read the read-out can make (none without a read-out).
  const auto* start = as_ptr<const int32_t>(gather_start);
  const auto* slot = as_ptr<const int32_t>(gather_slot);
  if (start[0] != 0) throw py::value_error("decode_candidates_cpu: gather_start[0] must be 0");
  for (int64_t l = 0; l < K; ++l)
    if (start[l + 1] < start[l])
      throw py::value_error("decode_candidates_cpu: gather_start must be non-decreasing");
  for (int64_t m = 0; m < K; ++m)
    for (int64_t l = 0; l < K; ++l) {
      const int32_t e = slot[m * K + l];
      const bool needed = readout_mode != 2 && (sk.sets[m * K + l] != 0 || m == l);
      if (e >= start[l + 1] - start[l] || e < -1 || (needed && e < 0))
        throw py::value_error("decode_candidates_cpu: gather_slot does not cover the read-out sets");
    }
  ssmp3d::DecodeParams p;
  p.refine = refine_on;
  p.group = group_params("decode_candidates_cpu", K, max_candidates, D, neck, tag_threshold,
                         grouping, geometry_weight, person_score, min_person_score, min_joints,
                         max_people, path, sk.parents, sk.topo, W);
  p.readout = ssmp3d::ReadoutParams{readout_mode == 1, readout_mode == 2,
                                    ssmp3d::threshold_as<float>(readout_threshold),
                                    readout_min_dist};
  ssmp3d::CandidateTables c;
  c.scores = as_ptr<const float>(scores_in);
  c.indices = as_ptr<const int64_t>(indices);
  c.counts = as_ptr<const int32_t>(counts);
  c.flags = as_ptr<const int32_t>(flags);
  c.tags_at = as_ptr<const float>(tags_at);
  c.orpm_at = as_ptr<const float>(orpm_at);
  c.refine = as_ptr<const int8_t>(refine);
  c.gather_start = start;
  c.gather_slot = slot;
  const auto out = decode_outputs(coords, scores, detected, peaks, joints3d, rule, joint,
                                  person_scores, tags_out, num_people);
  ssmp3d::DecodeStatus st;
  {
    py::gil_scoped_release release;
    st = ssmp3d::decode_candidates_cpu(c, B, H, W, p, sk, as_ptr<const float>(mean_bones), out,
                                       num_threads);
  }
  return py::make_tuple(st.kind, st.image);
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "ssmp3d C++ CPU ops (raw-pointer interface; use ssmp3d.ops for checked versions)";
  m.attr("ABI_VERSION") = kAbiVersion;

  m.def("heatmap_nms_cpu", &heatmap_nms_cpu_py, py::arg("heatmaps_ptr"), py::arg("stride_b"),
        py::arg("stride_k"), py::arg("dtype"),
        py::arg("B"), py::arg("K"), py::arg("H"), py::arg("W"), py::arg("threshold"),
        py::arg("radius"), py::arg("max_candidates"), py::arg("scores_ptr"),
        py::arg("indices_ptr"), py::arg("counts_ptr"), py::arg("num_threads"),
        R"doc(Heatmap NMS (DESIGN.md 6.1) of heatmaps [B, K, H, W] whose [H, W] maps are
contiguous (map (b, k) at heatmaps + b * stride_b + k * stride_k, in elements).

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
  m.def("nms_gather_cpu", &nms_gather_cpu_py, py::arg("heatmaps_ptr"), py::arg("tags_ptr"),
        py::arg("orpm_ptr"), py::arg("strides"), py::arg("types"), py::arg("B"), py::arg("K"), py::arg("H"),
        py::arg("W"), py::arg("D"), py::arg("threshold"), py::arg("radius"), py::arg("max_candidates"), py::arg("scores_ptr"),
        py::arg("indices_ptr"), py::arg("counts_ptr"), py::arg("tags_at_ptr"),
        py::arg("orpm_at_ptr"), py::arg("num_threads"),
        "Fused NMS + gather of float32 / float16 / bfloat16 maps (each [H, W] map contiguous;\n"
        "strides: heatmaps (batch, joint), tags (batch, joint, d), orpm (batch, joint, component),\n"
        "in elements; types: one code per input, 0 float32, 1 float16, 2 bfloat16);\n"
        "returns the NaN counts (heatmaps, tags, orpm).");
  m.def("group_candidates_cpu", &group_candidates_cpu_py, py::arg("scores_ptr"),
        py::arg("tags_ptr"), py::arg("counts_ptr"), py::arg("indices_ptr"), py::arg("B"),
        py::arg("K"), py::arg("M"), py::arg("D"), py::arg("neck"), py::arg("tag_threshold"),
        py::arg("grouping"), py::arg("geometry_weight"), py::arg("person_score"),
        py::arg("min_person_score"), py::arg("min_joints"), py::arg("max_people"),
        py::arg("path_ptr"), py::arg("parents_ptr"), py::arg("order_ptr"), py::arg("W"),
        py::arg("assignment_ptr"), py::arg("person_scores_ptr"),
        py::arg("person_tags_ptr"), py::arg("num_formed_ptr"), py::arg("kept_ptr"),
        py::arg("num_kept_ptr"), py::arg("num_threads"),
        "Grouping (DESIGN.md 6.3: paper greedy or assignment) of candidate tables, fixed-size outputs.");
  m.def("orpm_readout_cpu", &orpm_readout_cpu_py, py::arg("orpm_ptr"), py::arg("positions_ptr"),
        py::arg("scores_ptr"), py::arg("detected_ptr"), py::arg("num_formed_ptr"),
        py::arg("people_ptr"), py::arg("num_people_ptr"), py::arg("B"), py::arg("Q"), py::arg("P"),
        py::arg("K"), py::arg("H"), py::arg("W"), py::arg("skeleton_table_ptr"), py::arg("neck"),
        py::arg("pelvis"), py::arg("naive"), py::arg("readout_threshold"),
        py::arg("readout_min_dist"), py::arg("mean_bones_ptr"), py::arg("joints3d_ptr"),
        py::arg("rule_ptr"), py::arg("joint_ptr"), py::arg("num_threads"),
        "ORPM read-out (DESIGN.md 6.4); returns the number of NaN values read.");
  m.def("decode_cpu", &decode_cpu_py, py::arg("heatmaps_ptr"), py::arg("tags_ptr"),
        py::arg("orpm_ptr"), py::arg("strides"), py::arg("types"), py::arg("B"), py::arg("K"), py::arg("H"), py::arg("W"), py::arg("D"),
        py::arg("det_threshold"), py::arg("radius"), py::arg("max_candidates"),
        py::arg("tag_threshold"), py::arg("grouping"), py::arg("geometry_weight"),
        py::arg("person_score"), py::arg("min_person_score"), py::arg("min_joints"),
        py::arg("max_people"), py::arg("path_ptr"), py::arg("readout_mode"),
        py::arg("readout_threshold"), py::arg("readout_min_dist"), py::arg("refine"),
        py::arg("skeleton_table_ptr"), py::arg("neck"), py::arg("pelvis"),
        py::arg("mean_bones_ptr"), py::arg("coords_ptr"), py::arg("scores_ptr"),
        py::arg("detected_ptr"), py::arg("peaks_ptr"), py::arg("joints3d_ptr"),
        py::arg("rule_ptr"), py::arg("joint_ptr"), py::arg("person_scores_ptr"),
        py::arg("tags_out_ptr"), py::arg("num_people_ptr"), py::arg("num_threads"),
        "The fused CPU decoder (DESIGN.md 6) on float32 / float16 / bfloat16 maps read in place\n"
        "(strides and types as for nms_gather_cpu); returns (status kind, image).");
  m.def("decode_candidates_cpu", &decode_candidates_cpu_py, py::arg("cand_scores_ptr"),
        py::arg("indices_ptr"), py::arg("counts_ptr"), py::arg("flags_ptr"),
        py::arg("tags_at_ptr"), py::arg("orpm_at_ptr"), py::arg("refine_ptr"),
        py::arg("gather_start_ptr"), py::arg("gather_slot_ptr"), py::arg("B"), py::arg("K"),
        py::arg("H"), py::arg("W"), py::arg("D"), py::arg("max_candidates"),
        py::arg("tag_threshold"), py::arg("grouping"), py::arg("geometry_weight"),
        py::arg("person_score"), py::arg("min_person_score"), py::arg("min_joints"),
        py::arg("max_people"), py::arg("path_ptr"), py::arg("readout_mode"),
        py::arg("readout_threshold"), py::arg("readout_min_dist"), py::arg("refine"),
        py::arg("skeleton_table_ptr"), py::arg("neck"), py::arg("pelvis"),
        py::arg("mean_bones_ptr"), py::arg("coords_ptr"), py::arg("scores_ptr"),
        py::arg("detected_ptr"), py::arg("peaks_ptr"), py::arg("joints3d_ptr"),
        py::arg("rule_ptr"), py::arg("joint_ptr"), py::arg("person_scores_ptr"),
        py::arg("tags_out_ptr"), py::arg("num_people_ptr"), py::arg("num_threads"),
        "Grouping + read-out + outputs on host copies of GPU-gathered candidate tables\n"
        "(decode.h: decode_candidates_cpu); returns (status kind, image).");
}

"""Heatmap NMS (DESIGN.md 6.1): compiled kernels == pure-torch reference == brute-force oracle."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from ssmp3d.ops import _reference, heatmap_nms
from ssmp3d.ops._ext import has_cuda_ext, load_cpu

FLT_MAX = float(np.finfo(np.float32).max)


# ---------------------------------------------------------------- helpers


def oracle_nms(maps: np.ndarray, threshold: float, radius: int, m: int):
    """Brute force with plain loops, straight from the definition."""
    b_, k_, h_, w_ = maps.shape
    thr = maps.dtype.type(threshold)  # the comparison happens in the map dtype
    scores = np.zeros((b_, k_, m), maps.dtype)
    indices = np.full((b_, k_, m), -1, np.int64)
    counts = np.zeros((b_, k_), np.int32)
    for b in range(b_):
        for k in range(k_):
            peaks = []
            for y in range(h_):
                for x in range(w_):
                    v = maps[b, k, y, x]
                    if not v > thr:
                        continue
                    ok = True
                    for yy in range(max(0, y - radius), min(h_, y + radius + 1)):
                        for xx in range(max(0, x - radius), min(w_, x + radius + 1)):
                            if (yy, xx) == (y, x):
                                continue
                            p = maps[b, k, yy, xx]
                            later = yy * w_ + xx > y * w_ + x
                            if not (p < v or (p == v and later)):
                                ok = False
                    if ok:
                        peaks.append((float(v), y * w_ + x))
            peaks.sort(key=lambda t: (-t[0], t[1]))
            peaks = peaks[:m]
            counts[b, k] = len(peaks)
            for j, (v, i) in enumerate(peaks):
                scores[b, k, j] = v
                indices[b, k, j] = i
    return torch.from_numpy(scores), torch.from_numpy(indices), torch.from_numpy(counts)


def assert_same(got, expected):
    names = ("scores", "indices", "counts")
    for name, g, e in zip(names, got, expected):
        g = torch.as_tensor(g).cpu()
        e = torch.as_tensor(e).cpu()
        assert g.dtype == e.dtype, f"{name}: dtype {g.dtype} != {e.dtype}"
        assert g.shape == e.shape, f"{name}: shape {tuple(g.shape)} != {tuple(e.shape)}"
        assert torch.equal(g, e), f"{name} differ:\n{g}\n{e}"


def quantized(gen: torch.Generator, shape, levels: int = 5, dtype=torch.float32) -> torch.Tensor:
    """Few distinct values: lots of plateaus and ties."""
    return (torch.randint(0, levels, shape, generator=gen) / (levels - 1)).to(dtype)


def gaussian_maps(gen: torch.Generator, b: int, k: int, h: int, w: int, people: int) -> torch.Tensor:
    ys = torch.arange(h, dtype=torch.float32)[:, None]
    xs = torch.arange(w, dtype=torch.float32)[None, :]
    out = torch.zeros(b, k, h, w)
    for bi in range(b):
        for _ in range(people):
            cy, cx = torch.rand(2, generator=gen) * torch.tensor([h, w])
            for ki in range(k):
                oy, ox = torch.randn(2, generator=gen) * 6
                g = torch.exp(-((ys - cy - oy) ** 2 + (xs - cx - ox) ** 2) / 8.0) * (0.5 + 0.5 * torch.rand((), generator=gen))
                out[bi, ki] = torch.maximum(out[bi, ki], g)
    return out


# ---------------------------------------------------------------- exactness


SIZES = [(1, 1), (1, 9), (9, 1), (2, 2), (3, 5), (7, 4), (12, 11)]


@pytest.mark.parametrize("radius", [0, 1, 2, 3])
def test_oracle_reference_and_kernel_agree_on_random_maps(device, radius):
    for seed in range(12):
        gen = torch.Generator().manual_seed(1000 * radius + seed)
        h, w = SIZES[seed % len(SIZES)]
        dtype = torch.float64 if seed % 3 == 0 else torch.float32
        x = quantized(gen, (2, 3, h, w), levels=3 + seed % 4, dtype=dtype)
        if seed % 2:
            x = x + 1e-3 * torch.rand(x.shape, generator=gen, dtype=dtype)  # fewer ties
        for m in (1, 3, 30):
            expected = oracle_nms(x.numpy(), 0.1, radius, m)
            assert_same(_reference.heatmap_nms(x, 0.1, radius, m), expected)
            assert_same(heatmap_nms(x.to(device), 0.1, radius, m), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("m", [1, 7, 30, 64, 65, 300])
def test_kernel_equals_reference_on_larger_maps(device, dtype, m):
    # m = 64 / 65 straddle the switch from sorted insertion to a heap on the CPU.
    for seed, radius in enumerate([0, 1, 2, 3, 5]):
        gen = torch.Generator().manual_seed(seed + 17 * m)
        x = torch.rand((2, 5, 40, 33), generator=gen, dtype=dtype)
        q = quantized(gen, (2, 5, 40, 33), levels=4, dtype=dtype)
        for maps in (x, q):
            for thr in (0.0, 0.5):
                expected = _reference.heatmap_nms(maps, thr, radius, m)
                assert_same(heatmap_nms(maps.to(device), thr, radius, m), expected)


def test_gaussian_people_maps(device):
    gen = torch.Generator().manual_seed(3)
    x = gaussian_maps(gen, 2, 19, 64, 48, people=8)
    expected = _reference.heatmap_nms(x, 0.1, 1, 30)
    got = heatmap_nms(x.to(device), 0.1, 1, 30)
    assert_same(got, expected)
    assert int(got[2].sum()) > 100


def test_radius_larger_than_the_map(device):
    gen = torch.Generator().manual_seed(5)
    x = torch.rand((1, 2, 6, 9), generator=gen)
    for radius in (8, 9, 32):
        got = heatmap_nms(x.to(device), 0.1, radius, 5)
        assert_same(got, _reference.heatmap_nms(x, 0.1, radius, 5))
        assert got[2].tolist() == [[1, 1]]  # only the global maximum survives
        assert got[1][:, :, 0].cpu().tolist() == x.reshape(1, 2, -1).argmax(-1).tolist()


# ---------------------------------------------------------------- tie rules and padding


def test_constant_map_has_one_peak_at_flat_zero(device):
    x = torch.full((2, 2, 5, 7), 0.5)
    for radius in (0, 1, 2):
        scores, indices, counts = heatmap_nms(x.to(device), 0.1, radius, 4)
        if radius == 0:  # no neighbours: every pixel above threshold is a peak
            assert counts.cpu().eq(4).all()
            assert indices.cpu()[0, 0].tolist() == [0, 1, 2, 3]
            continue
        # r >= 1: every pixel but the first has an earlier equal neighbour (left or above).
        assert counts.cpu().eq(1).all()
        assert indices.cpu()[..., 0].eq(0).all()
        assert scores.cpu()[..., 0].eq(0.5).all()
        assert indices.cpu()[..., 1:].eq(-1).all() and scores.cpu()[..., 1:].eq(0).all()
    below = heatmap_nms(torch.full((1, 1, 3, 3), 0.05).to(device), 0.1, 1, 3)
    assert below[2].item() == 0


def test_plateau_2x2_keeps_its_first_pixel(device):
    x = torch.zeros(1, 1, 6, 6)
    x[0, 0, 2:4, 3:5] = 0.7
    scores, indices, counts = heatmap_nms(x.to(device), 0.1, 1, 5)
    assert counts.item() == 1
    assert indices[0, 0, 0].item() == 2 * 6 + 3
    assert scores[0, 0, 0].item() == pytest.approx(0.7)


def test_equal_separate_peaks_are_ordered_by_flat_index(device):
    x = torch.zeros(1, 1, 9, 9)
    x[0, 0, 7, 1] = 0.5
    x[0, 0, 1, 7] = 0.5
    x[0, 0, 4, 4] = 0.5
    x[0, 0, 8, 8] = 0.9
    x[0, 0, 0, 0] = 0.3
    scores, indices, counts = heatmap_nms(x.to(device), 0.1, 1, 10)
    assert counts.item() == 5
    assert indices[0, 0, :5].tolist() == [80, 16, 40, 64, 0]
    assert scores[0, 0, :5].tolist() == pytest.approx([0.9, 0.5, 0.5, 0.5, 0.3])
    assert indices[0, 0, 5:].eq(-1).all()


def test_all_below_threshold_gives_padding_only(device):
    x = torch.rand(2, 3, 8, 8) * 0.1  # values < 0.1... and 0.1 itself is not above
    scores, indices, counts = heatmap_nms(x.to(device), 0.1, 1, 6)
    assert counts.eq(0).all() and indices.eq(-1).all() and scores.eq(0).all()
    assert scores.shape == (2, 3, 6) and indices.dtype == torch.int64 and counts.dtype == torch.int32


def test_more_peaks_than_m_keeps_the_best_in_order(device):
    gen = torch.Generator().manual_seed(9)
    x = quantized(gen, (1, 2, 64, 64), levels=50)  # r = 0: every pixel above threshold is a peak
    for m in (30, 500, 4096):
        scores, indices, counts = heatmap_nms(x.to(device), 0.1, 0, m)
        assert_same((scores, indices, counts), _reference.heatmap_nms(x, 0.1, 0, m))
        s, i = scores.cpu()[0, 0], indices.cpu()[0, 0]
        n = counts[0, 0].item()
        assert n == min(m, int((x[0, 0] > 0.1).sum()))
        assert (s[1:n] <= s[: n - 1]).all()
        same = s[1:n] == s[: n - 1]
        assert (i[1:n][same] > i[: n - 1][same]).all()


def test_signed_zero_and_infinity(device):
    x = torch.full((1, 1, 5, 5), -5.0)
    x[0, 0, 0, 0] = 0.0
    x[0, 0, 0, 4] = -0.0
    x[0, 0, 4, 0] = float("inf")
    x[0, 0, 4, 2] = float("inf")
    x[0, 0, 4, 3] = float("inf")
    x[0, 0, 2, 2] = float("-inf")
    got = heatmap_nms(x.to(device), -1.0, 1, 8)
    assert_same(got, _reference.heatmap_nms(x, -1.0, 1, 8))
    assert got[1][0, 0, :4].tolist() == [20, 22, 0, 4]
    assert torch.signbit(got[0][0, 0, 3]).item()  # the map's own -0.0


# ---------------------------------------------------------------- threshold semantics


def test_value_equal_to_the_rounded_threshold_is_not_a_peak(device):
    f32_01 = float(np.float32(0.1))  # 0.10000000149...
    x = torch.zeros(1, 1, 3, 7, dtype=torch.float32)
    x[0, 0, 1, 1] = f32_01
    x[0, 0, 1, 5] = float(np.nextafter(np.float32(0.1), np.float32(1)))
    # float32 maps compare in float32 (as torch does): float32(0.1) > 0.1 is False.
    got = heatmap_nms(x.to(device), 0.1, 1, 4)
    assert_same(got, _reference.heatmap_nms(x, 0.1, 1, 4))
    assert got[1][0, 0, :2].tolist() == [12, -1]
    # float64 maps compare in float64: float32(0.1) > 0.1, but 0.1 > 0.1 is not.
    x64 = x.double()
    x64[0, 0, 1, 3] = 0.1
    got = heatmap_nms(x64.to(device), 0.1, 1, 4)
    assert_same(got, _reference.heatmap_nms(x64, 0.1, 1, 4))
    assert sorted(got[1][0, 0, :2].tolist()) == [8, 12]
    assert got[2].item() == 2


@pytest.mark.parametrize("thr", [FLT_MAX, 3.40282350e38, 3.4028235677973366e38, 3.5e38, 1e300,
                                 -FLT_MAX, -3.5e38, -1e300, 1e-46, -1e-46])
def test_thresholds_at_the_edges_of_float32(device, thr):
    x = torch.tensor([[FLT_MAX, -FLT_MAX, float("inf"), 0.0],
                      [float("-inf"), 1.0, -1.0, 1e-45]], dtype=torch.float32).reshape(1, 1, 2, 4)
    for r in (0, 1):
        assert_same(heatmap_nms(x.to(device), thr, r, 8), _reference.heatmap_nms(x, thr, r, 8))


# ---------------------------------------------------------------- dtypes, layouts, threads


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_are_upcast_exactly(device, dtype):
    gen = torch.Generator().manual_seed(2)
    x = torch.rand((2, 3, 17, 21), generator=gen).to(dtype)
    scores, indices, counts = heatmap_nms(x.to(device), 0.25, 1, 20)
    e_scores, e_indices, e_counts = _reference.heatmap_nms(x.float(), 0.25, 1, 20)
    assert scores.dtype == dtype
    assert_same((scores.float(), indices, counts), (e_scores, e_indices, e_counts))


def test_numpy_in_numpy_out():
    gen = np.random.default_rng(4)
    x = gen.random((2, 3, 15, 16)).astype(np.float32)
    expected = _reference.heatmap_nms(torch.from_numpy(x), 0.3, 1, 12)
    for arr in (x, x.astype(">f4"), np.asfortranarray(x), x.astype(np.float64), x.astype(np.float16)):
        got = heatmap_nms(arr, 0.3, 1, 12)
        assert all(isinstance(g, np.ndarray) for g in got)
        assert got[0].dtype == arr.dtype.newbyteorder("=")
        assert got[1].dtype == np.int64 and got[2].dtype == np.int32
        native = torch.from_numpy(np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("=")))
        exp = _reference.heatmap_nms(native.double() if arr.dtype.itemsize == 8 else native.float(), 0.3, 1, 12)
        assert_same((torch.from_numpy(got[0]).to(exp[0].dtype), got[1], got[2]), exp)
        if arr.dtype.itemsize == 4:
            assert_same(got, expected)


def test_non_contiguous_and_grad_inputs(device):
    gen = torch.Generator().manual_seed(6)
    base = torch.rand((3, 2, 20, 18), generator=gen).to(device)
    view = base.transpose(2, 3)[:, ::2]
    assert not view.is_contiguous()
    assert_same(heatmap_nms(view, 0.2, 1, 9), _reference.heatmap_nms(view.cpu().contiguous(), 0.2, 1, 9))
    grad_in = base.clone().requires_grad_(True)
    scores, _, _ = heatmap_nms(grad_in, 0.2, 1, 9)
    assert not scores.requires_grad


def test_threads_do_not_change_results():
    gen = torch.Generator().manual_seed(8)
    x = gaussian_maps(gen, 4, 19, 64, 64, people=6) + 0.05 * torch.rand((4, 19, 64, 64), generator=gen)
    one = heatmap_nms(x, 0.1, 1, 30, num_threads=1)
    for n in (0, 2, 3, 16):
        assert_same(heatmap_nms(x, 0.1, 1, 30, num_threads=n), one)
    assert_same(heatmap_nms(x.double(), 0.1, 2, 100, num_threads=3),
                heatmap_nms(x.double(), 0.1, 2, 100, num_threads=1))
    assert_same(one, _reference.heatmap_nms(x, 0.1, 1, 30))


def test_custom_op_and_public_function_agree(device):
    gen = torch.Generator().manual_seed(10)
    x = torch.rand((2, 4, 19, 23), generator=gen).to(device)
    assert_same(torch.ops.ssmp3d.heatmap_nms(x, 0.2, 2, 11), heatmap_nms(x, 0.2, 2, 11))
    assert_same(torch.ops.ssmp3d.heatmap_nms(x.half(), 0, 1, 3), heatmap_nms(x.half(), 0.0, 1, 3))


# ---------------------------------------------------------------- bad inputs


def _x(*shape, dtype=torch.float32):
    return torch.rand(shape, dtype=dtype)


BAD = [
    (dict(heatmaps=[[[[0.5]]]]), TypeError, "heatmaps: expected a torch.Tensor or numpy.ndarray"),
    (dict(heatmaps=_x(1, 1, 4, 4, dtype=torch.float64).to(torch.int32)), TypeError, "heatmaps: expected a floating dtype"),
    (dict(heatmaps=torch.zeros(1, 1, 4, 4, dtype=torch.bool)), TypeError, "heatmaps: expected a floating dtype"),
    (dict(heatmaps=torch.zeros(1, 1, 4, 4, dtype=torch.complex64)), TypeError, "heatmaps: expected a floating dtype"),
    (dict(heatmaps=np.zeros((1, 1, 4, 4), np.int64)), TypeError, "heatmaps: expected a floating dtype"),
    (dict(heatmaps=np.zeros((1, 1, 4, 4), np.longdouble)), TypeError, "heatmaps: expected a floating dtype"),
    (dict(heatmaps=_x(4, 4)), ValueError, r"heatmaps: expected 4 dims \[B, K, H, W\], got shape \[4, 4\]"),
    (dict(heatmaps=_x(1, 1, 1, 4, 4)), ValueError, "heatmaps: expected 4 dims"),
    (dict(heatmaps=np.zeros((3, 4, 4), np.float32)), ValueError, "heatmaps: expected 4 dims"),
    (dict(heatmaps=_x(0, 1, 4, 4)), ValueError, "heatmaps: expected a non-empty"),
    (dict(heatmaps=_x(1, 0, 4, 4)), ValueError, "heatmaps: expected a non-empty"),
    (dict(heatmaps=_x(1, 1, 0, 4)), ValueError, "heatmaps: expected a non-empty"),
    (dict(heatmaps=_x(1, 1, 4, 0)), ValueError, "heatmaps: expected a non-empty"),
    (dict(heatmaps=torch.empty(1, 1, 4, 4, device="meta")), ValueError, "heatmaps: expected a CPU or CUDA tensor"),
    (dict(heatmaps=torch.eye(4).reshape(1, 1, 4, 4).to_sparse()), TypeError, "heatmaps: expected a dense"),
    (dict(threshold=float("nan")), ValueError, "threshold: expected a finite float"),
    (dict(threshold=float("inf")), ValueError, "threshold: expected a finite float"),
    (dict(threshold="0.1"), TypeError, "threshold: expected a finite float, got str"),
    (dict(threshold=True), TypeError, "threshold: expected a finite float, got bool"),
    (dict(threshold=None), TypeError, "threshold: expected a finite float"),
    (dict(radius=-1), ValueError, r"radius: expected an int in \[0, 32\], got -1"),
    (dict(radius=33), ValueError, "radius: expected an int in"),
    (dict(radius=10**30), ValueError, "radius: expected an int in"),
    (dict(radius=1.0), TypeError, "radius: expected an int, got float"),
    (dict(radius=True), TypeError, "radius: expected an int, got bool"),
    (dict(max_candidates=0), ValueError, r"max_candidates: expected an int in \[1, 4096\], got 0"),
    (dict(max_candidates=4097), ValueError, "max_candidates: expected an int in"),
    (dict(max_candidates=30.0), TypeError, "max_candidates: expected an int, got float"),
    (dict(max_candidates=False), TypeError, "max_candidates: expected an int, got bool"),
    (dict(num_threads=-1), ValueError, "num_threads: expected None or an int >= 0"),
    (dict(num_threads=1.5), TypeError, "num_threads: expected None or an int"),
    (dict(num_threads=True), TypeError, "num_threads: expected None or an int"),
]


@pytest.mark.parametrize("kwargs, exc, match", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_inputs_raise_clear_errors(kwargs, exc, match):
    args = dict(heatmaps=_x(1, 2, 4, 4), threshold=0.1, radius=1, max_candidates=5)
    args.update(kwargs)
    num_threads = args.pop("num_threads", None)
    with pytest.raises(exc, match=match):
        heatmap_nms(**args, num_threads=num_threads)


def test_bad_inputs_through_the_custom_op():
    with pytest.raises(ValueError, match="heatmaps: expected 4 dims"):
        torch.ops.ssmp3d.heatmap_nms(_x(2, 4, 4), 0.1, 1, 5)
    with pytest.raises(ValueError, match="radius: expected an int in"):
        torch.ops.ssmp3d.heatmap_nms(_x(1, 1, 4, 4), 0.1, 99, 5)
    with pytest.raises(TypeError, match="heatmaps: expected a floating dtype"):
        torch.ops.ssmp3d.heatmap_nms(torch.zeros(1, 1, 4, 4, dtype=torch.int64), 0.1, 1, 5)


@pytest.mark.parametrize("where", ["corner", "beside_peak", "everywhere", "one_map"])
def test_nan_is_rejected_never_crashes(device, where):
    x = torch.zeros(2, 3, 16, 20)
    x[1, 2, 8, 8] = 0.9
    if where == "corner":
        x[0, 0, 15, 19] = float("nan")
    elif where == "beside_peak":
        x[1, 2, 8, 9] = float("nan")
    elif where == "everywhere":
        x[:] = float("nan")
    else:
        x[1, 1] = float("nan")
    for r in (0, 1, 3):
        with pytest.raises(ValueError, match="heatmaps: contains NaN"):
            heatmap_nms(x.to(device), 0.1, r, 30)
        with pytest.raises(ValueError, match="heatmaps: contains NaN"):
            torch.ops.ssmp3d.heatmap_nms(x.to(device), 0.1, r, 100)
    with pytest.raises(ValueError, match="heatmaps: contains NaN"):
        heatmap_nms(x.numpy().astype(np.float16), 0.1, 1, 30)


def test_raw_cpu_binding_reports_nan_and_rejects_bad_arguments():
    ext = load_cpu()
    x = torch.tensor([[[[0.0, float("nan"), 0.5], [float("nan"), 0.2, 0.1]]]])
    s, i, c = torch.empty(1, 1, 4), torch.empty(1, 1, 4, dtype=torch.int64), torch.empty(1, 1, dtype=torch.int32)
    args = (x.data_ptr(), 6, 6, "float32", 1, 1, 2, 3, 0.1, 1, 4, s.data_ptr(), i.data_ptr(), c.data_ptr(), 1)
    assert ext.heatmap_nms_cpu(*args) == 2
    assert 0 <= c.item() <= 4  # well defined, if meaningless
    with pytest.raises(ValueError, match="dtype must be 'float16', 'bfloat16', 'float32' or 'float64'"):
        ext.heatmap_nms_cpu(*args[:3], "int8", *args[4:])
    with pytest.raises(ValueError, match="null pointer"):
        ext.heatmap_nms_cpu(0, *args[1:])
    with pytest.raises(ValueError, match="heatmaps strides must be >= 0"):
        ext.heatmap_nms_cpu(args[0], -6, *args[2:])


# ---------------------------------------------------------------- torch.library integration


def test_opcheck():
    gen = torch.Generator().manual_seed(12)
    samples = [
        (torch.rand((2, 3, 11, 13), generator=gen), 0.3, 1, 7),
        (torch.rand((1, 2, 5, 4), generator=gen, dtype=torch.float64), 0.0, 2, 30),
        (torch.rand((1, 1, 6, 6), generator=gen).half(), 0.5, 0, 3),
    ]
    for args in samples:
        torch.library.opcheck(torch.ops.ssmp3d.heatmap_nms.default, args)


def test_fake_outputs_have_fixed_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode():
        scores, indices, counts = torch.ops.ssmp3d.heatmap_nms(torch.empty(3, 5, 64, 48), 0.1, 1, 17)
    assert scores.shape == (3, 5, 17) and scores.dtype == torch.float32
    assert indices.shape == (3, 5, 17) and indices.dtype == torch.int64
    assert counts.shape == (3, 5) and counts.dtype == torch.int32


def test_torch_compile_fullgraph():
    torch._dynamo.reset()

    @torch.compile(fullgraph=True)
    def decode(h):
        scores, indices, counts = torch.ops.ssmp3d.heatmap_nms(h * 1.0, 0.1, 1, 10)
        return scores * 2, indices, counts

    @torch.compile(fullgraph=True, backend="aot_eager")
    def public(h):
        return heatmap_nms(h, 0.1, 1, 10)

    gen = torch.Generator().manual_seed(13)
    x = torch.rand((2, 3, 16, 16), generator=gen)
    expected = _reference.heatmap_nms(x, 0.1, 1, 10)
    scores, indices, counts = decode(x)
    assert_same((scores / 2, indices, counts), expected)
    assert_same(public(x), expected)


def test_import_loads_no_extension_and_makes_no_cuda_call():
    code = (
        "import sys, torch, ssmp3d, ssmp3d.ops\n"
        "assert 'ssmp3d._C' not in sys.modules and 'ssmp3d._C_cuda' not in sys.modules\n"
        "assert not torch.cuda.is_initialized()\n"
        "assert hasattr(torch.ops.ssmp3d, 'heatmap_nms')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- CUDA only


@pytest.mark.cuda
@pytest.mark.skipif(not (torch.cuda.is_available() and has_cuda_ext()), reason="needs a GPU and ssmp3d._C_cuda")
class TestCuda:
    def test_many_peaks_take_the_exact_overflow_path(self):
        # r = 0 on a 128x128 map: ~16k peaks, beyond the kernel's shared buffer.
        gen = torch.Generator().manual_seed(14)
        x = quantized(gen, (2, 3, 128, 128), levels=1000)
        for m in (1, 30, 1000, 1025, 4096):
            assert_same(heatmap_nms(x.cuda(), 0.01, 0, m), _reference.heatmap_nms(x, 0.01, 0, m))
        y = torch.full((1, 2, 90, 90), 0.5)  # all tied: order is the flat index
        assert_same(heatmap_nms(y.cuda(), 0.1, 0, 4096), _reference.heatmap_nms(y, 0.1, 0, 4096))

    def test_runs_on_the_current_stream(self):
        gen = torch.Generator().manual_seed(15)
        x = gaussian_maps(gen, 8, 19, 128, 128, people=10).cuda()
        expected = heatmap_nms(x.cpu(), 0.1, 1, 30)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            got = heatmap_nms(x, 0.1, 1, 30)
        stream.synchronize()
        assert_same(got, expected)

    def test_float64_cuda_falls_back_exactly(self):
        gen = torch.Generator().manual_seed(16)
        x = torch.rand((2, 2, 20, 20), generator=gen, dtype=torch.float64)
        got = heatmap_nms(x.cuda(), 0.1, 1, 30)
        assert got[0].device.type == "cuda"
        assert_same(got, _reference.heatmap_nms(x, 0.1, 1, 30))

    def test_opcheck_cuda(self):
        x = torch.rand((2, 3, 11, 13), device="cuda")
        torch.library.opcheck(torch.ops.ssmp3d.heatmap_nms.default, (x, 0.3, 1, 7))


@pytest.mark.cuda
@pytest.mark.skipif(not (torch.cuda.is_available() and has_cuda_ext()), reason="needs a GPU and ssmp3d._C_cuda")
class TestCudaHalfAndCapture:
    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_half_maps_are_read_natively_and_exactly(self, dtype):
        gen = torch.Generator().manual_seed(31)
        for levels in (0, 7):
            x = torch.rand((3, 19, 64, 48), generator=gen)
            if levels:
                x = (x * levels).floor() / levels
            x = x.to(dtype)
            for r, m in ((1, 30), (0, 200), (2, 5)):
                got = heatmap_nms(x.cuda(), 0.1, r, m)
                assert got[0].dtype == dtype
                assert_same(got, heatmap_nms(x, 0.1, r, m))

    def test_cuda_graph_capture(self):
        gen = torch.Generator().manual_seed(32)
        x = gaussian_maps(gen, 4, 19, 64, 64, people=5).cuda()
        static = x.clone()
        heatmap_nms(static, 0.1, 1, 30)  # warm up outside the capture
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = heatmap_nms(static, 0.1, 1, 30)
        y = gaussian_maps(gen, 4, 19, 64, 64, people=9).cuda()
        static.copy_(y)
        graph.replay()
        torch.cuda.synchronize()
        assert_same(out, heatmap_nms(y.cpu(), 0.1, 1, 30))

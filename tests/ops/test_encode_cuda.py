"""CUDA target encoders: equal to the CPU kernels bit for bit, on the caller's stream.

The tests marked ``cuda`` need a GPU and ``ssmp3d._C_cuda`` and are skipped
(with the reason) otherwise; the fake-tensor tests run everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from ssmp3d.ops import encode_heatmaps, encode_orpm, encode_tag_maps
from ssmp3d.ops._ext import has_cuda_ext
from ssmp3d.ops.encode import readout_chains
from ssmp3d.skeleton import H36M17, PANOPTIC19

#: numpy's exp and the C library's round to different float32 values one pixel
#: from a joint on a pixel centre with this sigma (see test_encode_ops.py).
ADVERSARIAL_SIGMA = 2.678150910658624


@pytest.fixture
def gpu() -> torch.device:
    """The current CUDA device; skips without a GPU or without ``ssmp3d._C_cuda``."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    if not has_cuda_ext():
        pytest.skip("ssmp3d._C_cuda is not built")
    return torch.device("cuda", torch.cuda.current_device())


# ---------------------------------------------------------------- helpers


def random_batch(rng: np.random.Generator, b: int, n: int, k: int, h: int, w: int) -> dict:
    """Crowds, people across the borders, exact pixel centres, twins, tied and signed-zero depths."""
    centre = rng.uniform([-0.3 * w, -0.3 * h], [1.3 * w, 1.3 * h], size=(b, n, 1, 2))
    joints = centre + rng.normal(scale=rng.choice([0.5, 0.15 * max(h, w)]), size=(b, n, k, 2))
    joints[rng.random((b, n, k)) < 0.1] = rng.uniform(-0.5, 0.5, 2)  # next to the (0, 0) border
    centres = rng.random((b, n, k)) < 0.15
    joints[centres] = np.round(joints[centres] * 2.0) / 2.0  # pixel centres and half-pixel points
    if n >= 2 and rng.random() < 0.3:
        joints[:, 1] = joints[:, 0]  # two people on the same pixels
    valid = rng.random((b, n, k)) < rng.choice([0.0, 0.5, 0.8, 1.0])  # 0.0: all joints invalid
    joints[~valid] = np.nan
    depth = rng.integers(0, 3, size=(b, n)).astype(np.float64) * 1000.0  # many ties
    depth[rng.random((b, n)) < 0.2] = -0.0  # ties +0.0
    bones = rng.normal(scale=0.3, size=(b, n, k, 3))
    bones_valid = rng.random((b, n, k)) < 0.85
    bones[~bones_valid] = np.nan
    tags = rng.normal(scale=5.0, size=(b, n))
    return {"joints": joints, "valid": valid, "depth": depth, "bones": bones, "bones_valid": bones_valid,
            "tags": tags}


def random_case(rng: np.random.Generator):
    """``(skeleton, (B, N, H, W), batch)``: N in 0..30 people, 1 x W and H x 1 maps now and then."""
    skeleton = [PANOPTIC19, H36M17][int(rng.integers(0, 2))]
    h, w = (int(v) for v in rng.integers(1, 48, size=2))
    shape = rng.integers(0, 6)
    if shape == 0:
        h = 1
    elif shape == 1:
        w = 1
    b, n = int(rng.integers(1, 4)), int(rng.choice([0, 1, 3, 8, 20, 30]))
    return skeleton, (b, n, h, w), random_batch(rng, b, n, skeleton.num_joints, h, w)


def to(d: dict, device) -> dict:
    return {k: torch.from_numpy(v).to(device) for k, v in d.items()}


def encode_all(t: dict, skeleton, size, sigma: float, radius: int) -> tuple[torch.Tensor, ...]:
    heat = encode_heatmaps(t["joints"], t["valid"], size, sigma)
    orpm, weight = encode_orpm(t["joints"], t["bones"], t["valid"], t["depth"], skeleton=skeleton, size=size,
                               radius=radius, bones_valid=t["bones_valid"])
    oracle = encode_tag_maps(t["joints"], t["valid"], t["depth"], size, radius=radius)
    tags = encode_tag_maps(t["joints"], t["valid"], t["depth"], size, t["tags"], radius)
    return heat, orpm, weight, oracle, tags


def assert_bitwise(got: torch.Tensor, expected: torch.Tensor, name: str) -> None:
    assert got.dtype == expected.dtype == torch.float32, name
    assert got.shape == expected.shape, f"{name}: {tuple(got.shape)} != {tuple(expected.shape)}"
    g, e = got.cpu().view(torch.int32), expected.cpu().view(torch.int32)
    bad = (g != e).nonzero()
    if len(bad):
        first = tuple(bad[0].tolist())
        raise AssertionError(f"{name}: {len(bad)} values differ, first at {first}: "
                             f"{got.cpu()[first].item()} != {expected.cpu()[first].item()}")


NAMES = ("heatmaps", "orpm", "weight", "oracle tags", "tags")


# ---------------------------------------------------------------- fake tensors (no GPU needed)


def test_fake_cuda_outputs_on_the_input_device():
    with FakeTensorMode():
        joints = torch.empty(2, 3, 19, 2, dtype=torch.float64, device="cuda")
        valid = torch.empty(2, 3, 19, dtype=torch.bool, device="cuda")
        bones = torch.empty(2, 3, 19, 3, dtype=torch.float64, device="cuda")
        depth = torch.empty(2, 3, dtype=torch.float64, device="cuda")
        chains = torch.empty(19, 19, dtype=torch.int64, device="cuda")
        heat = torch.ops.ssmp3d.encode_heatmaps(joints, valid, 16, 12, 2.0)
        orpm, weight = torch.ops.ssmp3d.encode_orpm(joints, bones, valid, valid, depth, chains, 16, 12, 2)
        tags = torch.ops.ssmp3d.encode_tag_maps(joints, valid, depth, depth, 16, 12, 1)
    for t, shape in ((heat, (2, 19, 16, 12)), (orpm, (2, 19, 3, 16, 12)), (weight, (2, 19, 16, 12)),
                     (tags, (2, 19, 16, 12))):
        assert t.device.type == "cuda" and t.dtype == torch.float32 and tuple(t.shape) == shape


def test_fake_cuda_rejects_inputs_on_other_devices():
    with FakeTensorMode():
        joints = torch.empty(2, 3, 19, 2, dtype=torch.float64, device="cuda")
        valid = torch.empty(2, 3, 19, dtype=torch.bool, device="cuda")
        depth = torch.empty(2, 3, dtype=torch.float64, device="cuda")
        with pytest.raises(ValueError, match="valid: expected a tensor on cuda"):
            torch.ops.ssmp3d.encode_heatmaps(joints, valid.cpu(), 16, 12, 2.0)
        with pytest.raises(ValueError, match="tag_values: expected a tensor on cuda"):
            torch.ops.ssmp3d.encode_tag_maps(joints, valid, depth, depth.cpu(), 16, 12, 1)
        with pytest.raises(ValueError, match="chains: expected a tensor on cuda"):
            torch.ops.ssmp3d.encode_orpm(joints, joints.new_empty(2, 3, 19, 3), valid, valid, depth,
                                         torch.empty(19, 19, dtype=torch.int64), 16, 12, 2)


# ---------------------------------------------------------------- equality with the CPU


@pytest.mark.cuda
@pytest.mark.parametrize("seed", range(16))
def test_equal_cpu_on_random_batches(gpu, seed):
    rng = np.random.default_rng(1000 + seed)
    for _ in range(12):
        skeleton, (_, _, h, w), d = random_case(rng)
        sigma = float(rng.choice([rng.uniform(0.3, 4.0), 2.0, ADVERSARIAL_SIGMA, 50.0]))
        radius = int(rng.choice([0, 1, 2, 3, 60]))
        expected = encode_all(to(d, "cpu"), skeleton, (h, w), sigma, radius)
        got = encode_all(to(d, gpu), skeleton, (h, w), sigma, radius)
        for g, e, name in zip(got, expected, NAMES):
            assert g.device == gpu, name
            assert_bitwise(g, e, name)


@pytest.mark.cuda
def test_equal_cpu_on_a_large_crowded_batch(gpu):
    rng = np.random.default_rng(7)
    d = random_batch(rng, 6, 40, 19, 96, 80)
    d["valid"][:, :30] = True
    d["joints"][:, :30] = rng.uniform(-3, 99, size=(6, 30, 19, 2))
    expected = encode_all(to(d, "cpu"), PANOPTIC19, (96, 80), 2.0, 2)
    got = encode_all(to(d, gpu), PANOPTIC19, (96, 80), 2.0, 2)
    for g, e, name in zip(got, expected, NAMES):
        assert_bitwise(g, e, name)


@pytest.mark.cuda
def test_adversarial_exp_and_pixel_grid_joints(gpu):
    # Joints on a 1/8-pixel grid: the arguments of exp repeat, and some lie next to float32 midpoints.
    for sigma in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, ADVERSARIAL_SIGMA, 4.0):
        off = np.arange(64) / 8.0
        joints = np.stack(np.meshgrid(10.0 + off[:8], 10.0 + off[::8]), -1).reshape(1, 64, 1, 2)
        valid = np.ones((1, 64, 1), bool)
        cpu = encode_heatmaps(torch.from_numpy(joints), torch.from_numpy(valid), (48, 48), sigma)
        # one person per image so the max does not hide values
        b = joints.reshape(64, 1, 1, 2)
        cpu1 = encode_heatmaps(torch.from_numpy(b), torch.ones(64, 1, 1, dtype=torch.bool), (48, 48), sigma)
        assert_bitwise(encode_heatmaps(torch.from_numpy(joints).to(gpu), torch.from_numpy(valid).to(gpu),
                                       (48, 48), sigma), cpu, f"sigma {sigma}")
        assert_bitwise(encode_heatmaps(torch.from_numpy(b).to(gpu), torch.ones(64, 1, 1, dtype=torch.bool,
                                                                                device=gpu), (48, 48), sigma),
                       cpu1, f"sigma {sigma}, one person per image")


@pytest.mark.cuda
def test_no_people_and_all_invalid(gpu):
    for n, valid in ((0, False), (5, False)):
        z = torch.full((2, n, 19, 2), float("nan"), dtype=torch.float64, device=gpu)
        zv = torch.full((2, n, 19), valid, dtype=torch.bool, device=gpu)
        depth = torch.zeros((2, n), dtype=torch.float64, device=gpu)
        bones = torch.zeros((2, n, 19, 3), device=gpu)
        heat = encode_heatmaps(z, zv, (7, 9))
        orpm, weight = encode_orpm(z, bones, zv, depth, skeleton=PANOPTIC19, size=(7, 9))
        tags = encode_tag_maps(z, zv, depth, (7, 9))
        assert heat.shape == (2, 19, 7, 9) and orpm.shape == (2, 19, 3, 7, 9)
        for t in (heat, orpm, weight, tags):
            assert t.device == gpu and not t.any()


@pytest.mark.cuda
def test_input_dtypes_and_strides(gpu):
    rng = np.random.default_rng(8)
    d = random_batch(rng, 2, 6, 19, 20, 30)
    t = to(d, gpu)
    jt = t["joints"].float().transpose(0, 1).contiguous().transpose(0, 1)  # float32, non-contiguous
    vt = t["valid"].to(torch.int32)
    expected = encode_all({**to(d, "cpu"), "joints": jt.cpu(), "valid": vt.cpu()}, PANOPTIC19, (20, 30), 1.5, 2)
    got = encode_all({**t, "joints": jt, "valid": vt}, PANOPTIC19, (20, 30), 1.5, 2)
    for g, e, name in zip(got, expected, NAMES):
        assert_bitwise(g, e, name)


@pytest.mark.cuda
def test_custom_ops_on_cuda(gpu):
    rng = np.random.default_rng(9)
    d = random_batch(rng, 3, 7, 17, 25, 21)
    chains = torch.from_numpy(readout_chains(H36M17))
    for dev in ("cpu", gpu):
        t = to(d, dev)
        out = (torch.ops.ssmp3d.encode_heatmaps(t["joints"], t["valid"], 25, 21, 2.0),
               *torch.ops.ssmp3d.encode_orpm(t["joints"], t["bones"], t["valid"], t["bones_valid"], t["depth"],
                                             chains.to(dev), 25, 21, 2),
               torch.ops.ssmp3d.encode_tag_maps(t["joints"], t["valid"], t["depth"], t["tags"], 25, 21, 1))
        if dev == "cpu":
            expected = out
    for g, e, name in zip(out, expected, ("heatmaps", "orpm", "weight", "tags")):
        assert g.device == gpu
        assert_bitwise(g, e, name)


# ---------------------------------------------------------------- streams, graphs, torch.compile


@pytest.mark.cuda
def test_runs_on_the_current_stream(gpu):
    rng = np.random.default_rng(10)
    d = random_batch(rng, 8, 20, 19, 128, 128)
    expected = encode_all(to(d, "cpu"), PANOPTIC19, (128, 128), 2.0, 2)
    t = to(d, gpu)
    stream = torch.cuda.Stream(gpu)
    stream.wait_stream(torch.cuda.current_stream(gpu))
    with torch.cuda.stream(stream):
        got = encode_all(t, PANOPTIC19, (128, 128), 2.0, 2)
        done = torch.cuda.Event()
        done.record(stream)
    done.synchronize()
    for g, e, name in zip(got, expected, NAMES):
        assert_bitwise(g, e, name)


@pytest.mark.cuda
def test_cuda_graph_capture_and_replay(gpu):
    rng = np.random.default_rng(11)
    first, second = random_batch(rng, 2, 6, 19, 32, 24), random_batch(rng, 2, 6, 19, 32, 24)
    static = to(first, gpu)
    side = torch.cuda.Stream(gpu)
    side.wait_stream(torch.cuda.current_stream(gpu))
    with torch.cuda.stream(side):  # warm-up outside capture (caches the read-out chains on the device)
        encode_all(static, PANOPTIC19, (32, 24), 2.0, 2)
    torch.cuda.current_stream(gpu).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outputs = encode_all(static, PANOPTIC19, (32, 24), 2.0, 2)
    for batch in (second, first):
        for key, value in to(batch, gpu).items():
            static[key].copy_(value)
        graph.replay()
        torch.cuda.synchronize(gpu)
        expected = encode_all(to(batch, "cpu"), PANOPTIC19, (32, 24), 2.0, 2)
        for g, e, name in zip(outputs, expected, NAMES):
            assert_bitwise(g, e, name)


def _op_inputs(device):
    rng = np.random.default_rng(12)
    d = random_batch(rng, 2, 4, 19, 16, 12)
    d["bones"][~d["bones_valid"]] = 0.0  # opcheck compares outputs with allclose; keep inputs tame
    return d, to(d, device)


@pytest.mark.cuda
def test_opcheck_cuda(gpu):
    _, t = _op_inputs(gpu)
    chains = torch.from_numpy(readout_chains(PANOPTIC19)).to(gpu)
    torch.library.opcheck(torch.ops.ssmp3d.encode_heatmaps.default, (t["joints"], t["valid"], 16, 12, 2.0))
    torch.library.opcheck(torch.ops.ssmp3d.encode_orpm.default,
                          (t["joints"], t["bones"], t["valid"], t["bones_valid"], t["depth"], chains, 16, 12, 2))
    torch.library.opcheck(torch.ops.ssmp3d.encode_tag_maps.default,
                          (t["joints"], t["valid"], t["depth"], t["tags"], 16, 12, 1))


@pytest.mark.cuda
@pytest.mark.parametrize("backend", ["inductor", "aot_eager"])
def test_torch_compile_fullgraph_cuda(gpu, backend):
    d, t = _op_inputs(gpu)

    @torch.compile(fullgraph=True, backend=backend)
    def run(joints, valid, bones, bones_valid, depth, tags):
        heat = encode_heatmaps(joints, valid, (16, 12), 1.5)
        orpm, weight = encode_orpm(joints, bones, valid, depth, skeleton=PANOPTIC19, size=(16, 12),
                                   bones_valid=bones_valid)
        oracle = encode_tag_maps(joints, valid, depth, (16, 12))
        given = encode_tag_maps(joints, valid, depth, (16, 12), tags, 2)
        return heat * 1.0, orpm, weight, oracle, given

    got = run(t["joints"], t["valid"], t["bones"], t["bones_valid"], t["depth"], t["tags"])
    c = to(d, "cpu")
    expected = (encode_heatmaps(c["joints"], c["valid"], (16, 12), 1.5),
                *encode_orpm(c["joints"], c["bones"], c["valid"], c["depth"], skeleton=PANOPTIC19, size=(16, 12),
                             bones_valid=c["bones_valid"]),
                encode_tag_maps(c["joints"], c["valid"], c["depth"], (16, 12)),
                encode_tag_maps(c["joints"], c["valid"], c["depth"], (16, 12), c["tags"], 2))
    for g, e, name in zip(got, expected, NAMES):
        assert g.device == gpu
        assert_bitwise(g, e, name)


# ---------------------------------------------------------------- bad input


@pytest.mark.cuda
def test_bad_input_on_cuda(gpu):
    _, t = _op_inputs(gpu)
    size = (16, 12)
    with pytest.raises(ValueError, match="valid: expected a tensor on cuda"):
        encode_heatmaps(t["joints"], t["valid"].cpu(), size)
    with pytest.raises(ValueError, match="depth: expected a tensor on cuda"):
        encode_tag_maps(t["joints"], t["valid"], t["depth"].cpu().numpy(), size)
    with pytest.raises(ValueError, match="bones_m: expected a tensor on cuda"):
        encode_orpm(t["joints"], t["bones"].cpu(), t["valid"], t["depth"], skeleton=PANOPTIC19, size=size)
    with pytest.raises(ValueError, match="joints_map: expected a CPU tensor|valid: expected a CPU tensor"):
        encode_heatmaps(t["joints"].cpu(), t["valid"], size)
    with pytest.raises(TypeError, match="joints_map: expected a real"):
        encode_heatmaps(t["joints"].to(torch.complex128), t["valid"], size)
    with pytest.raises(TypeError, match="valid: expected a bool"):
        encode_heatmaps(t["joints"], t["valid"].double(), size)
    with pytest.raises(ValueError, match="valid: integer flags must be 0 or 1"):
        encode_heatmaps(t["joints"], t["valid"].to(torch.uint8) * 2, size)
    bad = t["joints"].clone()
    bad[t["valid"]] = float("inf")
    with pytest.raises(ValueError, match="joints_map: valid joints must have finite coordinates"):
        encode_heatmaps(bad, t["valid"], size)
    with pytest.raises(ValueError, match="depth: must be finite"):
        encode_tag_maps(t["joints"], t["valid"], t["depth"] * float("nan"), size)
    with pytest.raises(ValueError, match="tag_values: must be finite"):
        encode_tag_maps(t["joints"], t["valid"], t["depth"], size, t["tags"] + float("inf"))
    with pytest.raises(ValueError, match="bones_m: bone vectors must be finite"):
        encode_orpm(t["joints"], t["bones"] * float("nan"), t["valid"], t["depth"], skeleton=PANOPTIC19, size=size)
    with pytest.raises(ValueError, match=r"depth: expected shape \(2, 4\)"):
        encode_tag_maps(t["joints"], t["valid"], t["depth"][:, :2], size)
    chains = torch.full((19, 19), 19, dtype=torch.int64, device=gpu)
    with pytest.raises(ValueError, match=r"chains: entries must be joint indices in \[0, 19\)"):
        torch.ops.ssmp3d.encode_orpm(t["joints"], t["bones"], t["valid"], t["bones_valid"], t["depth"], chains,
                                     16, 12, 2)
    with pytest.raises(ValueError, match="chains: expected a tensor on cuda"):
        torch.ops.ssmp3d.encode_orpm(t["joints"], t["bones"], t["valid"], t["bones_valid"], t["depth"],
                                     chains.cpu(), 16, 12, 2)


@pytest.mark.cuda
def test_second_device(gpu):
    if torch.cuda.device_count() < 2:
        pytest.skip("needs two CUDA devices")
    rng = np.random.default_rng(13)
    d = random_batch(rng, 2, 5, 19, 20, 20)
    other = torch.device("cuda", 1 - gpu.index if gpu.index in (0, 1) else 0)
    expected = encode_all(to(d, "cpu"), PANOPTIC19, (20, 20), 2.0, 2)
    got = encode_all(to(d, other), PANOPTIC19, (20, 20), 2.0, 2)
    for g, e, name in zip(got, expected, NAMES):
        assert g.device == other
        assert_bitwise(g, e, name)

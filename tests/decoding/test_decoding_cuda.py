"""The ``cuda`` backend: its kernel tables, its host half, and the whole decoder on a GPU.

Without a GPU the host half still runs here on tables made by the kernel's
twin (``ops._reference.nms_gather_tables``), so everything after the one
device-to-host copy is checked against the ``cpu`` backend in CI. On a GPU,
the kernel's raw tables are compared with the twin section by section, and
``decode(backend="cuda")`` with ``cpu`` on the same frames as
``test_decode_cpu.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.decoding import DecodeConfig, available_backends, decode
from ssmp3d.decoding.native import config_tables
from ssmp3d.decoding.cuda import (HostTables, decode_host, decode_tables, gather_lists, gather_on_device, pack_tables,
                                  table_layout)
from ssmp3d.decoding.types import DecodeResult
from ssmp3d.geometry import MapTransform
from ssmp3d.ops import _reference, skeleton_table
from ssmp3d.ops._ext import has_cpu_ext, has_cuda_ext
from ssmp3d.skeleton import H36M17, PANOPTIC19

from test_decoding_cpu import CONFIGS, KINDS, assert_same, oracle_frames, perturb, random_frames

pytestmark = pytest.mark.skipif(not has_cpu_ext(), reason="ssmp3d._C is not built")

GPU = torch.cuda.is_available() and has_cuda_ext()


def twin_tables(hm, tg, om, config: DecodeConfig, skeleton=PANOPTIC19, with_orpm=True) -> tuple[np.ndarray, int]:
    """What the kernel writes, made by its twin, packed as the device buffer."""
    hm, tg, om = (torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x for x in (hm, tg, om))
    lists = gather_lists(skeleton, with_orpm)
    sec = _reference.nms_gather_tables(hm, tg, om, config.det_threshold, config.nms_radius,
                                       config.max_candidates, lists.start, lists.maps)
    b, k = hm.shape[:2]
    d = sec["tags_at"].shape[3]
    return pack_tables(sec, b, k, config.max_candidates, d, lists.total), d


def host_half(hm, tg, om, config=DecodeConfig(), skeleton=PANOPTIC19, transform=MapTransform(stride=4),
              num_threads=1, with_orpm=True) -> DecodeResult:
    """The cuda backend with the kernel replaced by its twin (``with_orpm`` False: 2D only)."""
    tables, d = twin_tables(hm, tg, om, config, skeleton, with_orpm)
    b, k, h, w = hm.shape
    staged = HostTables(tables, (b, k, h, w, d), gather_lists(skeleton, with_orpm), with_orpm)
    return decode_host(staged, config, skeleton, transform, num_threads)  # the host stage decode_cuda runs


# ----------------------------------------------------------------------------
# Layout and gather lists (no GPU needed).


@pytest.mark.parametrize("skeleton", [PANOPTIC19, H36M17])
def test_gather_lists_cover_every_read(skeleton):
    k = skeleton.num_joints
    lists = gather_lists(skeleton)
    sets = skeleton_table(skeleton)[2 + k:]
    for loc in range(k):
        members = lists.maps[lists.start[loc]:lists.start[loc + 1]]
        assert list(members) == sorted(set(members))
        for m in range(k):
            if sets[m, loc] or m == loc:
                assert members[lists.slot[m, loc]] == m
            else:
                assert lists.slot[m, loc] == -1
    assert lists.total == int(sets.sum() + (np.diag(sets) == 0).sum())


def test_table_layout_is_aligned_and_small():
    size, layout = table_layout(64, 19, 30, 1, gather_lists(PANOPTIC19).total)
    assert all(off % 64 == 0 for _, _, off in layout.values())
    assert size / 64 < 48_000  # bytes per image crossing PCIe
    assert size >= sum(np.prod(s) * dt.itemsize for s, dt, _ in layout.values())


# ----------------------------------------------------------------------------
# The host half on twin tables equals the cpu backend (no GPU needed).


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ci", range(len(CONFIGS)))
def test_host_half_equals_cpu_on_random_frames(kind, ci):
    config = CONFIGS[ci]
    rng = np.random.default_rng(500 + 100 * ci + KINDS.index(kind))
    for d in (1, 2) if kind in ("noise", "blobs") else (1,):
        hm, tg, om = random_frames(rng, 24, kind, d=d)
        assert_same(decode(hm, tg, om, config, backend="cpu"), host_half(hm, tg, om, config),
                    f"kind={kind} config={config} d={d}")


def test_host_half_2d_only_equals_cpu():
    rng = np.random.default_rng(21)
    hm, tg, om = random_frames(rng, 16, "blobs")
    for config in (DecodeConfig(), DecodeConfig(grouping="paper", min_person_score=0.05)):
        assert_same(decode(hm, tg, None, config, backend="cpu"), host_half(hm, tg, om, config, with_orpm=False),
                    str(config))
    assert gather_lists(PANOPTIC19, False).total == 0


def test_host_half_equals_cpu_on_oracle_frames():
    maps = oracle_frames(48, seed=3, max_people=24, stride=8)
    for m in (maps, perturb(maps, 4, 0.05), perturb(maps, 5, 0.3)):
        for config in (DecodeConfig(), DecodeConfig(readout="naive", min_joints=1),
                        DecodeConfig(grouping="paper", person_score="detected")):
            ref = decode(*m, config, backend="cpu")
            assert_same(ref, host_half(*m, config, num_threads=2), str(config))


def test_host_half_h36m_and_transform():
    rng = np.random.default_rng(15)
    hm, tg, om = random_frames(rng, 16, "blobs", k=H36M17.num_joints)
    tf = MapTransform(affine=np.array([[0.5, 0.1, 10.0], [0.0, 0.25, -3.0]]), stride=8)
    for config in CONFIGS[:2] + CONFIGS[8:10]:  # both strategies
        ref = decode(hm, tg, om, config, skeleton=H36M17, transform=tf, backend="cpu")
        assert_same(ref, host_half(hm, tg, om, config, skeleton=H36M17, transform=tf), str(config))


def test_host_half_nan_policy():
    rng = np.random.default_rng(9)
    hm = np.zeros((3, 19, 16, 16), np.float32)
    hm[:, :, 4, 4] = 0.9
    tg = np.zeros((3, 19, 16, 16), np.float32)
    om = rng.normal(size=(3, 19, 3, 16, 16)).astype(np.float32)
    t2, o2, h2 = tg.copy(), om.copy(), hm.copy()
    t2[:, :, 0, 0] = np.nan
    o2[:, :, :, 9, 9] = np.nan
    o2[:, PANOPTIC19.pelvis] = np.nan  # gathered (the pelvis location lists every map) but never read
    assert_same(decode(hm, tg, om, backend="cpu"), host_half(hm, t2, o2))
    t2[1, 3, 4, 4] = np.nan
    with pytest.raises(ValueError, match=r"tags: contains NaN at a candidate peak \(image 1\)"):
        host_half(hm, t2, om)
    o2[2, 5, 1, 4, 4] = np.nan
    with pytest.raises(ValueError, match=r"orpm: contains NaN at a read-out location \(image 2\)"):
        host_half(hm, tg, o2)
    h2[2, 0, 15, 15] = np.nan
    with pytest.raises(ValueError, match="heatmaps: contains NaN"):
        host_half(h2, t2, o2)


def test_decode_tables_rejects_a_wrong_buffer():
    hm, tg, om = random_frames(np.random.default_rng(1), 2, "blobs")
    tables, d = twin_tables(hm, tg, om, DecodeConfig())
    with pytest.raises(ValueError, match="tables"):
        decode_tables(tables[:-64], 2, 19, 32, 32, d, DecodeConfig(), gather_lists(PANOPTIC19), 0, 2,
                      config_tables(DecodeConfig(), PANOPTIC19), 1)


@pytest.mark.skipif(GPU, reason="checks the message on machines without a GPU")
def test_cuda_backend_unavailable_without_a_gpu():
    assert "cuda" not in available_backends()
    hm, tg, om = random_frames(np.random.default_rng(0), 1, "empty")
    with pytest.raises(ValueError, match="'cuda' is not available"):
        decode(hm, tg, om, backend="cuda")


# ----------------------------------------------------------------------------
# On a GPU.


def cuda_maps(maps, dtype=None):
    out = [torch.as_tensor(np.asarray(x)).cuda() for x in maps]
    return [x.to(dtype) for x in out] if dtype is not None else out


@pytest.mark.cuda
@pytest.mark.skipif(not GPU, reason="needs a GPU and ssmp3d._C_cuda")
class TestOnGpu:
    @pytest.mark.parametrize("kind", KINDS)
    @pytest.mark.parametrize("ci", range(len(CONFIGS)))
    def test_kernel_tables_equal_twin(self, kind, ci):
        config = CONFIGS[ci]
        rng = np.random.default_rng(900 + 100 * ci + KINDS.index(kind))
        lists = gather_lists(PANOPTIC19)
        for d in (1, 3):
            maps = random_frames(rng, 16, kind, d=d)
            got, dd = gather_on_device(*cuda_maps(maps), config, lists)
            want, _ = twin_tables(*maps, config)
            _, layout = table_layout(16, 19, config.max_candidates, dd, lists.total)
            for name, (shape, dtype, off) in layout.items():
                a, b = np.ndarray(shape, dtype, want, off), np.ndarray(shape, dtype, got, off)
                assert np.array_equal(a, b, equal_nan=True), f"{name} kind={kind} config={config} d={d}"

    @pytest.mark.parametrize("kind", KINDS)
    def test_random_frames_equal_cpu(self, kind):
        rng = np.random.default_rng(1000 + KINDS.index(kind))
        for config in CONFIGS:
            for d in (1, 2):
                maps = random_frames(rng, 32, kind, d=d)
                assert_same(decode(*maps, config, backend="cpu"), decode(*cuda_maps(maps), config, backend="cuda"),
                            f"kind={kind} config={config} d={d}")

    def test_oracle_frames_equal_cpu(self):
        maps = oracle_frames(240, seed=1, max_people=24, stride=8)
        for m in (maps, perturb(maps, 7, 0.05), perturb(maps, 8, 0.3)):
            for config in (DecodeConfig(), DecodeConfig(readout="naive", min_joints=1)):
                ref = decode(*m, config, backend="cpu")
                assert_same(ref, decode(*cuda_maps(m), config, backend="cuda"), str(config))
        full = oracle_frames(64, seed=2, max_people=22, stride=4)
        assert_same(decode(*full, backend="cpu"), decode(*cuda_maps(full), backend="cuda"))

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_half_precision_maps(self, dtype):
        rng = np.random.default_rng(21)
        maps = [torch.from_numpy(x).to(dtype) for x in random_frames(rng, 32, "blobs")]
        assert_same(decode(*maps, backend="cpu"), decode(*[x.cuda() for x in maps], backend="cuda"))
        mixed = [maps[0].cuda(), maps[1].float().cuda(), maps[2].cuda()]  # mixed dtypes: all widened
        assert_same(decode(*maps, backend="cpu"), decode(*mixed, backend="cuda"))

    def test_side_stream_and_non_contiguous(self):
        rng = np.random.default_rng(22)
        maps = random_frames(rng, 8, "blobs")
        ref = decode(*maps, backend="cpu")
        dev = cuda_maps(maps)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            got = decode(dev[0].transpose(2, 3).contiguous().transpose(2, 3), dev[1], dev[2], backend="cuda")
        assert_same(ref, got)

    def test_nan_policy(self):
        rng = np.random.default_rng(9)
        hm = np.zeros((3, 19, 16, 16), np.float32)
        hm[:, :, 4, 4] = 0.9
        tg = np.zeros((3, 19, 16, 16), np.float32)
        om = rng.normal(size=(3, 19, 3, 16, 16)).astype(np.float32)
        t2, o2 = tg.copy(), om.copy()
        t2[1, 3, 4, 4] = np.nan
        with pytest.raises(ValueError, match=r"tags: contains NaN at a candidate peak \(image 1\)"):
            decode(*cuda_maps((hm, t2, om)), backend="cuda")
        o2[2, 5, 1, 4, 4] = np.nan
        with pytest.raises(ValueError, match=r"orpm: contains NaN at a read-out location \(image 2\)"):
            decode(*cuda_maps((hm, tg, o2)), backend="cuda")
        hm[2, 0, 15, 15] = np.nan
        with pytest.raises(ValueError, match="heatmaps: contains NaN"):
            decode(*cuda_maps((hm, tg, om)), backend="cuda")

    def test_inputs_must_be_on_the_gpu(self):
        maps = random_frames(np.random.default_rng(0), 1, "blobs")
        with pytest.raises(ValueError, match="heatmaps: backend 'cuda' needs CUDA tensors"):
            decode(*maps, backend="cuda")
        dev = cuda_maps(maps)
        with pytest.raises(ValueError, match="orpm: backend 'cuda' needs CUDA tensors"):
            decode(dev[0], dev[1], torch.from_numpy(maps[2]), backend="cuda")

    def test_custom_op_on_cuda(self):
        from test_decoding_cpu import op_args

        maps = cuda_maps(random_frames(np.random.default_rng(11), 4, "blobs"))
        ref = torch.ops.ssmp3d.decode(*op_args(*[x.cpu() for x in maps]))
        out = torch.ops.ssmp3d.decode(*op_args(*maps))
        for a, b in zip(ref, out):
            assert b.device.type == "cuda"
            assert torch.equal(a, b.cpu())
        torch.library.opcheck(torch.ops.ssmp3d.decode.default, op_args(*maps))

"""Synthetic datasets: per-index determinism, workers and ranks, resume, collate, errors."""

import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ssmp3d import PANOPTIC19
from ssmp3d.data import SceneConfig, sample_scenes
from ssmp3d.data.augment import AugmentConfig
from ssmp3d.data.dataset import (
    SampleMaker,
    SyntheticDataset,
    SyntheticTestSet,
    TrainSample,
    collate_samples,
    denormalize_image,
)
from ssmp3d.encode import TargetConfig, encode_scene

pytest.importorskip("cv2")

SMALL = {"input_size": 64}  # fast samples for stream tests


def same(a: TrainSample, b: TrainSample) -> None:
    assert a.index == b.index and a.num_people == b.num_people
    for f in ("image", "heatmaps", "orpm", "orpm_weight", "tag_indices", "joints3d", "joints3d_valid", "joints2d",
              "in_image", "visible"):
        torch.testing.assert_close(getattr(a, f), getattr(b, f), rtol=0, atol=0, equal_nan=True)


def test_sample_shapes_and_contents():
    maker = SampleMaker(seed=1, input_size=128)
    s = maker(4)
    n, k = s.num_people, PANOPTIC19.num_joints
    assert s.image.shape == (3, 128, 128) and s.image.dtype == torch.float32
    assert s.heatmaps.shape == (k, 32, 32) and s.orpm.shape == (k, 3, 32, 32) and s.orpm_weight.shape == (k, 32, 32)
    assert s.tag_indices.shape == (n, k, 2) and s.tag_indices.dtype == torch.int64
    assert s.joints3d.shape == (n, k, 3) and s.joints2d.shape == (n, k, 2) and s.joints3d_valid.dtype == torch.bool
    image, scene = maker.image_and_scene(4)
    assert np.abs(denormalize_image(s.image).astype(int) - image).max() <= 1
    t = encode_scene(scene, PANOPTIC19, TargetConfig())
    np.testing.assert_array_equal(s.heatmaps.numpy(), t.heatmaps)
    np.testing.assert_array_equal(s.orpm.numpy(), t.orpm)
    np.testing.assert_array_equal(s.tag_indices.numpy(), t.tag_indices)
    assert torch.all(s.joints3d[:, PANOPTIC19.pelvis] == 0)
    rel = scene.pelvis_relative(PANOPTIC19.pelvis)
    np.testing.assert_allclose(s.joints3d.numpy(), rel, atol=1e-3)
    np.testing.assert_allclose(s.joints2d.numpy(), scene.joints2d, atol=1e-4)


def test_deterministic_per_index_and_seed():
    a, b = SampleMaker(seed=3, **SMALL), SampleMaker(seed=3, **SMALL)
    same(a(7), b(7))
    assert not torch.equal(a(7).image, a(8).image)
    assert not torch.equal(a(7).image, SampleMaker(seed=4, **SMALL)(7).image)


def test_scene_of_index_is_the_sampler_scene():
    cfg = SceneConfig(image_size=(64, 64))
    test = SyntheticTestSet(5, 3, input_size=64, scene_config=cfg)
    for i, expected in enumerate(sample_scenes(3, 5, cfg)):
        _, scene = test.image_and_scene(i)  # no augmentation: the sampled scene itself
        np.testing.assert_array_equal(scene.joints3d, expected.joints3d)
        np.testing.assert_array_equal(scene.joints2d, expected.joints2d)
    assert len(test) == 3
    same(test[-1], test[2])
    with pytest.raises(IndexError):
        test[3]


def test_augmented_stream_differs_from_test_set():
    train = SampleMaker(seed=5, augment_config=AugmentConfig(), **SMALL)
    test = SyntheticTestSet(5, 2, **SMALL)
    assert not torch.equal(train(1).image, test[1].image)


def _loader_indices(dataset, workers, batch_size=None):
    kw = {"batch_size": batch_size, "num_workers": workers}
    if batch_size is not None:
        kw["collate_fn"] = collate_samples
    out = []
    for item in DataLoader(dataset, **kw):
        out.extend(item.index.tolist() if batch_size is not None else [item.index])
    return out, item


def test_workers_give_the_same_stream():
    ref = SyntheticDataset(2, num_samples=6, **SMALL)
    expected = {s.index: s for s in ref}
    assert sorted(expected) == list(range(6))
    for workers in (0, 1, 2):
        items = list(DataLoader(SyntheticDataset(2, num_samples=6, **SMALL), batch_size=None,
                                num_workers=workers))
        assert sorted(s.index for s in items) == list(range(6))
        for s in items:
            same(s, expected[s.index])


def test_chunked_workers_keep_batch_order_and_resume():
    for workers in (0, 2):
        ds = SyntheticDataset(2, num_samples=8, chunk_size=2, **SMALL)
        order, _ = _loader_indices(ds, workers, batch_size=2)
        assert order == list(range(8))
    resumed = SyntheticDataset(2, start_index=4, num_samples=4, chunk_size=2, **SMALL)
    assert [s.index for s in resumed] == [4, 5, 6, 7]
    same(next(iter(resumed)), SampleMaker(seed=2, **SMALL)(4))


def test_ranks_are_disjoint():
    world = 3
    seen = []
    for rank in range(world):
        ds = SyntheticDataset(0, start_index=10, num_samples=11, rank=rank, world_size=world, **SMALL)
        idx = list(ds.indices())
        assert idx == list(range(10 + rank, 21, world))
        assert sorted([*ds.indices(0, 2), *ds.indices(1, 2)]) == idx  # workers split the rank's share
        seen += idx
    assert sorted(seen) == list(range(10, 21))


def test_pickles_for_spawned_workers():
    ds = SyntheticDataset(1, start_index=3, num_samples=5, **SMALL)
    clone = pickle.loads(pickle.dumps(ds))
    assert list(clone.indices()) == list(ds.indices())
    same(next(iter(clone)), next(iter(ds)))


def test_unlimited_stream():
    it = iter(SyntheticDataset(0, start_index=100, **SMALL).indices())
    assert [next(it) for _ in range(3)] == [100, 101, 102]


def test_collate_pads_people():
    maker = SampleMaker(seed=0, scene_config=SceneConfig(image_size=(64, 64), min_people=1, max_people=4),
                        **SMALL)
    samples = [maker(i) for i in range(6)]
    counts = [s.num_people for s in samples]
    assert len(set(counts)) > 1
    batch = collate_samples(samples)
    n = max(counts)
    assert batch.image.shape == (6, 3, 64, 64) and batch.heatmaps.shape == (6, 19, 16, 16)
    assert batch.tag_indices.shape == (6, n, 19, 2) and batch.joints3d.shape == (6, n, 19, 3)
    assert batch.num_people.tolist() == counts and batch.index.tolist() == list(range(6))
    for b, s in enumerate(samples):
        c = s.num_people
        assert torch.equal(batch.tag_indices[b, :c], s.tag_indices)
        assert torch.all(batch.tag_indices[b, c:] == 0)
        assert torch.all(torch.isnan(batch.joints3d[b, c:])) and torch.all(torch.isnan(batch.joints2d[b, c:]))
        assert not batch.joints3d_valid[b, c:].any() and not batch.visible[b, c:].any()
        assert not batch.in_image[b, c:].any()
        assert torch.equal(batch.orpm[b], s.orpm)


def test_bad_arguments():
    for kwargs, exc, name in [({"rank": 2, "world_size": 2}, ValueError, "rank"),
                              ({"world_size": 0}, ValueError, "world_size"),
                              ({"start_index": -1}, ValueError, "start_index"),
                              ({"num_samples": -1}, ValueError, "num_samples"),
                              ({"chunk_size": 0}, ValueError, "chunk_size"),
                              ({"input_size": 250}, ValueError, "input_size"),
                              ({"input_size": "256"}, TypeError, "input_size"),
                              ({"scene_config": {}}, TypeError, "scene_config"),
                              ({"augment_config": None}, TypeError, "augment_config"),
                              ({"rank": 1.0}, TypeError, "rank")]:
        with pytest.raises(exc, match=name):
            SyntheticDataset(0, **kwargs)
    with pytest.raises(TypeError, match="seed"):
        SyntheticDataset("0")
    with pytest.raises(ValueError, match="num_scenes"):
        SyntheticTestSet(0, -1)
    with pytest.raises(ValueError, match="samples"):
        collate_samples([])
    with pytest.raises(TypeError, match="samples"):
        collate_samples([1, 2])


def test_throughput_256():
    """Samples per second at 256 x 256 on one thread (scene, render, augment, targets)."""
    maker = SampleMaker(seed=0, input_size=256)
    maker(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        t0 = time.perf_counter()
        for i in range(1, 21):
            maker(i)
        rate = 20 / (time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    print(f"synthetic samples 256x256: {rate:.0f} /s on one thread")
    assert rate > 15


def test_imports_stay_light_and_acyclic():
    """ssmp3d.encode imports Scene from ssmp3d.data; the datasets (which encode) load on access."""
    code = ("import sys\n"
            "import ssmp3d.encode, ssmp3d.ops\n"
            "import ssmp3d.data as d\n"
            "assert 'cv2' not in sys.modules and 'ssmp3d.data.dataset' not in sys.modules\n"
            "assert d.SyntheticDataset.__module__ == 'ssmp3d.data.dataset'\n")
    subprocess.run([sys.executable, "-c", code], check=True)

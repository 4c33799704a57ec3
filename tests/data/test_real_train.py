"""Training samples from real frames: seeded, letterboxed, consistent, and robust to unreadable images."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

pytest.importorskip("cv2")

import h36m_tree as tree  # noqa: E402

from ssmp3d.data.augment import AugmentConfig  # noqa: E402
from ssmp3d.data.dataset import normalize_image  # noqa: E402
from ssmp3d.data.frames import DatasetError  # noqa: E402
from ssmp3d.data.h36m import Human36MDataset  # noqa: E402
from ssmp3d.data.letterbox import letterbox, letterbox_scene  # noqa: E402
from ssmp3d.data.open import open_dataset  # noqa: E402
from ssmp3d.data.real_train import (FrameSampleMaker, FrameTrainSet, StreamSampler,  # noqa: E402
                                    collate_frame_samples, evenly_spaced)
from ssmp3d.encode import TargetConfig  # noqa: E402


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m")
    tree.make_h36m_tree(root, {9: tree.RICH, 11: tree.POOR})
    return root


@pytest.fixture(scope="module")
def frames(mini):
    return Human36MDataset(mini, "test")


def _same(a, b) -> bool:
    return all(torch.equal(getattr(a, k), getattr(b, k)) if isinstance(getattr(a, k), torch.Tensor)
               else getattr(a, k) == getattr(b, k) for k in ("image", "heatmaps", "orpm", "orpm_weight",
                                                             "tag_indices", "joints2d", "in_image", "num_people",
                                                             "index", "frame"))


def test_samples_are_pure_functions_of_seed_and_position(frames):
    a, b = FrameTrainSet(frames, 3, input_size=64), FrameTrainSet(frames, 3, input_size=64)
    s = a[5]
    assert s.image.shape == (3, 64, 64) and s.heatmaps.shape == (17, 16, 16) and s.orpm.shape == (17, 3, 16, 16)
    assert s.index == 5 and s.num_people == 1 and s.skipped == ()
    assert _same(s, b[5]) and _same(a[40], b[40])  # 40: second epoch
    assert not torch.equal(a[5].image, FrameTrainSet(frames, 4, input_size=64)[5].image)
    n = len(a)
    assert n == len(frames) == 2 * 2 * 6 + 2
    epoch0 = [a.maker.frame_index(p) for p in range(n)]
    epoch1 = [a.maker.frame_index(p) for p in range(n, 2 * n)]
    assert sorted(epoch0) == sorted(epoch1) == list(range(n)) and epoch0 != epoch1
    ordered = FrameTrainSet(frames, 3, input_size=64, shuffle=False)
    assert [ordered.maker.frame_index(p) for p in range(2 * n)] == list(range(n)) * 2
    assert a[7].frame == a.maker.frame_index(7)


def test_without_augmentation_a_sample_is_the_letterboxed_frame(frames):
    ts = FrameTrainSet(frames, 0, input_size=64, augment_config=AugmentConfig.none(), shuffle=False)
    for p in (0, 13):
        image, scene = ts.image_and_scene(p)
        rgb = frames.image(p)[..., ::-1]
        boxed, a = letterbox(np.ascontiguousarray(rgb), 64)  # 250 x 251 (or 250) -> 64 x 64
        assert np.array_equal(image, boxed)
        ref = letterbox_scene(frames.frame(p).scene, a, 64)
        assert np.allclose(scene.joints2d, ref.joints2d) and np.array_equal(scene.in_image, ref.in_image)
        assert np.allclose(scene.joints3d, frames.frame(p).scene.joints3d)
        assert torch.equal(ts[p].image, normalize_image(boxed))


def test_augmented_ground_truth_stays_consistent(frames):
    ts = FrameTrainSet(frames, 1, input_size=(96, 64), target_config=TargetConfig())
    flips = 0
    for p in range(0, 24, 3):
        image, scene = ts.image_and_scene(p)
        assert image.shape == (64, 96, 3) and scene.image_size == (96, 64)
        ok = scene.in_image
        proj = scene.camera.project(scene.joints3d)
        assert np.allclose(proj[ok], scene.joints2d[ok], atol=1e-6)
        rel = ts[p].joints3d[0].numpy()
        bones = np.linalg.norm(rel - rel[0], axis=-1)
        world = frames.world_joints(ts[p].frame)
        straight = np.linalg.norm(world - world[0], axis=-1)
        mirrored = straight[frames.skeleton.flip_permutation()]  # a flip swaps left and right
        flipped = not np.allclose(bones, straight, atol=1e-3)
        assert np.allclose(bones, mirrored if flipped else straight, atol=1e-3)  # rigid
        flips += flipped
    assert 0 < flips < 8


def test_unreadable_image_is_replaced_by_the_next_readable_frame(mini, tmp_path, caplog):
    shutil.copytree(mini, tmp_path / "h36m")
    frames = Human36MDataset(tmp_path / "h36m", "test")
    ts = FrameTrainSet(frames, 0, input_size=64, shuffle=False, augment_config=AugmentConfig.none())
    bad = frames.frame(4).image_path
    bad.write_bytes(b"\xff\xd8 truncated")
    (frames.frame(5).image_path).unlink()
    with caplog.at_level(logging.WARNING, logger="ssmp3d.data.real_train"):
        s = ts[4]
    assert s.frame == 6 and s.index == 4 and len(s.skipped) == 2
    assert bad.name in s.skipped[0] and "not a decodable image" in s.skipped[0]
    assert "no such image file" in s.skipped[1]
    assert bad.name in caplog.text and "trying frame 5" in caplog.text
    clean = ts[6]
    assert torch.equal(s.heatmaps, clean.heatmaps) and torch.equal(s.image, clean.image)  # the same frame
    batch, skipped = collate_frame_samples([ts[3], s])
    assert batch.image.shape[0] == 2 and skipped == list(s.skipped)
    # A frame whose image has another size than its annotation is unreadable too.
    import cv2

    cv2.imwrite(str(frames.frame(0).image_path), np.zeros((10, 12, 3), np.uint8))
    s0 = ts[0]
    assert s0.frame == 1 and "image is 12x10, the annotation says 250x251" in s0.skipped[0]
    strict = FrameTrainSet(frames, 0, input_size=64, shuffle=False, max_skip=2)
    with pytest.raises(DatasetError, match=r"000005.jpg: not a decodable image .*2 unreadable frames in a row"):
        strict[4]


def test_stream_sampler_shards_and_loader_workers_agree(frames):
    assert list(StreamSampler(10, 7)) == list(range(10, 17))
    shards = [list(StreamSampler(10, 7, r, 3)) for r in range(3)]
    assert sorted(sum(shards, [])) == list(range(10, 17)) and shards[1] == [11, 14]
    assert len(StreamSampler(10, 7, 1, 3)) == 2
    with pytest.raises(ValueError, match="rank"):
        StreamSampler(0, 4, 2, 2)
    ts = FrameTrainSet(frames, 2, input_size=64)
    runs = []
    for workers in (0, 2):
        loader = DataLoader(ts, batch_size=3, sampler=StreamSampler(5, 9), num_workers=workers,
                            collate_fn=collate_frame_samples)
        runs.append([b for b, _ in loader])
    for x, y in zip(*runs):
        assert torch.equal(x.index, y.index) and torch.equal(x.image, y.image) and torch.equal(x.orpm, y.orpm)
    assert torch.cat([b.index for b in runs[0]]).tolist() == list(range(5, 14))


def test_subsets_open_dataset_and_bad_arguments(mini, frames):
    sub = evenly_spaced(frames, 5)
    assert len(sub) == 5 and sub.indices == [k * len(frames) // 5 for k in range(5)]
    assert sub.frame(2).key == frames.frame(sub.indices[2]).key and sub.skeleton is frames.skeleton
    assert np.array_equal(sub.image(2), frames.image(sub.indices[2]))
    assert len(evenly_spaced(frames, 1000)) == len(frames)
    opened = open_dataset("h36m", mini, "test", every=2)
    assert isinstance(opened, Human36MDataset) and set(opened.frame_ids.tolist()) == {0, 2, 4}
    with pytest.raises(ValueError, match="dataset: expected one of panoptic, h36m, got 'coco'"):
        open_dataset("coco", mini)
    with pytest.raises(ValueError, match="input_size"):
        FrameSampleMaker(frames, input_size=(62, 64))
    with pytest.raises(TypeError, match="frames"):
        FrameSampleMaker([1, 2])
    with pytest.raises(ValueError, match="position"):
        FrameTrainSet(frames)[-1]

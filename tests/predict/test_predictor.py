"""Predictor: any image size in, poses in the original image's pixels out; clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.data import SceneConfig, sample_scene
from ssmp3d.data.letterbox import letterbox_scene
from ssmp3d.decoding import DecodeConfig
from ssmp3d.encode import encode_scene
from ssmp3d.model import StackOutput
from ssmp3d.predict import ImagePoses, Predictor
from ssmp3d.train.checkpoint import CheckpointError

cv2 = pytest.importorskip("cv2")

# Every pixel is a peak candidate: an untrained network then "finds" people, enough to exercise the path.
ALL_PEAKS = DecodeConfig(det_threshold=-1.0)


def _images(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((90, 160), (64, 64), (90, 160))]


def test_predict_arrays_lists_paths_and_colour_order(tiny_checkpoint, tmp_path):
    # threads=1: an adaptive count may change between the calls on a busy machine, and the network's last bits with it.
    p = Predictor(tiny_checkpoint, device="cpu", decode_config=ALL_PEAKS, threads=1)
    assert p.skeleton.name == "panoptic19" and p.input_size == 64 and p.backend in ("cpu", "python")
    images = _images()
    out = p.predict(images)
    assert [type(r) for r in out] == [ImagePoses] * 3
    assert [(r.width, r.height) for r in out] == [(160, 90), (64, 64), (160, 90)]
    assert all(r.num_people > 0 and r.source is None for r in out)
    person = out[0].people[0]
    assert person.joints2d.shape == (19, 2) and person.joints3d.shape == (19, 3) and person.detected.dtype == bool
    # One image alone gives one result, equal to its result in the batch (same batch content -> same numbers).
    single = p.predict(images[1])
    assert isinstance(single, ImagePoses)
    # BGR arrays flagged as such give the RGB result; a file path is read (BGR) and converted.
    bgr = [np.ascontiguousarray(im[..., ::-1]) for im in images]
    again = p.predict(bgr, color="bgr")
    for a, b in zip(out, again):
        assert a.num_people == b.num_people
        assert np.array_equal(a.people[0].joints2d, b.people[0].joints2d, equal_nan=True)
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), bgr[0])
    from_file = p.predict(path)
    assert from_file.source == str(path) and from_file.num_people == out[0].num_people
    assert np.array_equal(from_file.people[0].joints3d, out[0].people[0].joints3d)
    assert len(list(p.predict_iter(iter(images)))) == 3


def test_decode_maps_joints_back_to_image_pixels(tiny_checkpoint):
    """Ground-truth maps of letterboxed scenes decode to the scenes' own pixels, per image size."""
    p = Predictor(tiny_checkpoint, device="cpu")
    scenes = [sample_scene(np.random.default_rng(s), SceneConfig.sparse(max_people=2, image_size=size))
              for s, size in ((1, (320, 180)), (2, (200, 200)))]
    maps, affines = [], []
    for scene in scenes:
        w, h = scene.image_size
        from ssmp3d.geometry import letterbox_affine

        a = letterbox_affine((w, h), (256, 256))
        enc = encode_scene(letterbox_scene(scene, a, 256))
        maps.append((enc.heatmaps, enc.tag_maps, enc.orpm))
        affines.append(a)
    heat, tags, orpm = (torch.from_numpy(np.stack([m[i] for m in maps])) for i in range(3))
    results = p.decode(StackOutput(heat, tags, orpm), np.stack(affines), [s.image_size for s in scenes])
    for scene, res in zip(scenes, results):
        assert (res.width, res.height) == scene.image_size
        assert res.num_people == scene.num_people
        for person in res.people:
            d = np.linalg.norm(scene.joints2d[:, 2] - person.joints2d[2], axis=1)  # nearest pelvis
            gt = int(np.argmin(d))
            det = person.detected
            err = np.abs(person.joints2d[det] - scene.joints2d[gt][det])
            scale = scene.image_size[0] / 256 if scene.image_size[0] >= scene.image_size[1] else \
                scene.image_size[1] / 256
            assert err.max() <= 4 * scale  # within one map pixel, in original pixels


def test_skeleton_mismatch_and_bad_arguments(tiny_checkpoint, checkpoint_factory):
    h36m = checkpoint_factory("h36m.pt", num_joints=17)
    assert Predictor(h36m, device="cpu").skeleton.name == "h36m17"
    with pytest.raises(CheckpointError, match=r"predicts skeleton 'h36m17' \(17 joints\), expected 'panoptic19'"):
        Predictor(h36m, device="cpu", skeleton="panoptic19")
    with pytest.raises(CheckpointError, match="predicts 5 joints; no known skeleton"):
        Predictor(checkpoint_factory("five.pt", num_joints=5), device="cpu")
    with pytest.raises(ValueError, match="batch_size"):
        Predictor(tiny_checkpoint, batch_size=0)
    with pytest.raises(ValueError, match="backend"):
        Predictor(tiny_checkpoint, backend="tpu")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        Predictor(tiny_checkpoint.parent / "missing.pt")
    p = Predictor(tiny_checkpoint, device="cpu")
    with pytest.raises(ValueError, match=r"images\[0\]: expected an \[H, W, 3\] uint8 RGB image"):
        p.predict(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="color"):
        p.predict(np.zeros((10, 10, 3), np.uint8), color="rgba")
    with pytest.raises(TypeError, match="numpy array"):
        p.predict([3])
    with pytest.raises(ValueError, match="no such image file"):
        p.predict(tiny_checkpoint.parent / "none.png")


def test_default_checkpoint_is_the_shipped_one(tiny_checkpoint):
    from ssmp3d.weights import default_checkpoint

    try:
        path = default_checkpoint()
    except FileNotFoundError:
        with pytest.raises(FileNotFoundError, match="shipped weights missing"):
            Predictor(device="cpu")
        return
    p = Predictor(device="cpu")
    assert p.checkpoint_path == path
    # The shipped weights' recommended decoder settings, unless the caller overrides them.
    from ssmp3d.train.checkpoint import load_checkpoint, recommended_decode_config

    rec = recommended_decode_config(load_checkpoint(path), path)
    assert p.decode_config == rec and rec.min_person_score > 0
    other = 1 if rec.nms_radius != 1 else 2
    p = Predictor(device="cpu", decode_overrides={"nms_radius": other})
    assert p.decode_config.nms_radius == other and p.decode_config.min_person_score == rec.min_person_score
    assert Predictor(device="cpu", decode_config=DecodeConfig()).decode_config == DecodeConfig()
    with pytest.raises(ValueError, match="unknown field"):
        Predictor(device="cpu", decode_overrides={"radius": 1})


def test_same_people_on_every_device(tiny_checkpoint, device):
    """The network on the GPU with the fastest decoder finds what the CPU and the python decoder find."""
    images = _images(3)
    want = Predictor(tiny_checkpoint, device="cpu", backend="python", decode_config=ALL_PEAKS).predict(images)
    got = Predictor(tiny_checkpoint, device=device, decode_config=ALL_PEAKS).predict(images)
    for a, b in zip(want, got):
        assert a.num_people == b.num_people
        if device.type == "cpu":  # same floats in: the decoders agree exactly
            for x, y in zip(a.people, b.people):
                assert np.array_equal(x.detected, y.detected) and np.array_equal(x.readout_rule, y.readout_rule)
                np.testing.assert_allclose(x.joints3d, y.joints3d, atol=1e-2)


def test_cuda_decoder_needs_the_network_on_cuda(tiny_checkpoint):
    from ssmp3d.decoding import available_backends

    if "cuda" not in available_backends():
        with pytest.raises(ValueError, match="backend"):
            Predictor(tiny_checkpoint, device="cpu", backend="cuda")
        return
    with pytest.raises(ValueError, match="'cuda' decodes maps on the GPU"):
        Predictor(tiny_checkpoint, device="cpu", backend="cuda")


@pytest.mark.parametrize("device, needle", [("tpu", "got 'tpu'"), ("mps", "got 'mps'"), ("", "got ''"),
                                            ("meta", "got 'meta'")])
def test_unknown_devices_are_one_line_value_errors(tiny_checkpoint, device, needle):
    with pytest.raises(ValueError, match=rf"device: expected 'cpu', 'cuda' or 'cuda:N', {needle}"):
        Predictor(tiny_checkpoint, device=device)


def test_cuda_devices_that_are_not_there(tiny_checkpoint):
    from ssmp3d.predict.loading import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    missing = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"
    with pytest.raises(ValueError, match="requested but torch sees"):
        Predictor(tiny_checkpoint, device=missing)

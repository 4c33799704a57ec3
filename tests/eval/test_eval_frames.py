"""The oracle and a network on FrameDataset frames: letterbox, decode into original pixels, failures counted."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ssmp3d.data.frames import DatasetError, Frame, FrameDataset
from ssmp3d.data.letterbox import letterbox_scene
from ssmp3d.data.synthetic import SceneConfig, sample_scenes
from ssmp3d.eval import EvalConfig
from ssmp3d.eval.frames import FrameEvalConfig, _equal_runs, evaluate_frames, oracle_frames, stack_row_labels
from ssmp3d.geometry import letterbox_affine
from ssmp3d.model import HourglassConfig, HourglassNet
from ssmp3d.skeleton import PANOPTIC19

pytest.importorskip("cv2")


class ListDataset(FrameDataset):
    """Frames held in a list; images made on demand, or errors for the keys in ``broken``."""

    name = "list"
    group_label = "kind"

    def __init__(self, scenes, groups, broken=(), wrong_size=()):
        self.skeleton = PANOPTIC19
        self.frames = [Frame(key=f"f{i}", image_path=f"/nowhere/f{i}.jpg", scene=s, group=g)
                       for i, (s, g) in enumerate(zip(scenes, groups))]
        self.broken, self.wrong_size = set(broken), set(wrong_size)

    def image(self, i):
        if i in self.broken:
            raise DatasetError(f"/nowhere/f{i}.jpg: not a decodable image")
        w, h = self.frames[i].scene.image_size
        if i in self.wrong_size:
            w += 2
        return np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _mixed_sizes(n: int = 8):
    """Sparse synthetic scenes, every other one moved into a 640x360 image (so batches mix affines)."""
    scenes = sample_scenes(n, 21, SceneConfig.sparse(max_people=3))
    out = []
    for i, s in enumerate(scenes):
        if i % 2:
            s = letterbox_scene(s, letterbox_affine(s.image_size, (640, 360)), (640, 360))
        out.append(s)
    return out


def test_equal_runs():
    a, b = np.eye(2, 3), np.eye(2, 3) * 2
    assert _equal_runs([a, a, b, b, a]) == [(0, 2), (2, 4), (4, 5)]
    assert _equal_runs([a]) == [(0, 1)] and _equal_runs([]) == []


def test_oracle_decodes_into_original_pixels():
    scenes = _mixed_sizes()
    ds = ListDataset(scenes, ["square" if i % 2 == 0 else "wide" for i in range(len(scenes))])
    report = oracle_frames(ds, FrameEvalConfig(input_size=256, batch_size=4, evaluation=EvalConfig()))
    json.dumps(report)
    assert report["recall"] == 1.0 and report["precision"] == 1.0 and report["mpjpe_mm"] < 1.0
    assert report["scenes"] == report["frames"] == 8 and report["frames_failed"] == 0 and report["failed"] == []
    assert report["input_size"] == 256 and report["dataset"] == "list" and report["split"] is None
    assert report["preset"] is None and report["seed"] is None and report["skeleton"] == "panoptic19"
    groups = report["groups"]
    assert groups["label"] == "kind" and groups["names"] == ["square", "wide"] and set(groups["rows"]) == {"full", "naive"}
    # 2D matching is in original pixels: a 50 px threshold would fail if predictions stayed in input pixels.
    assert all(groups["rows"]["full"]["per_group"][g]["recall"] == 1.0 for g in ("square", "wide"))


def test_oracle_bad_inputs():
    with pytest.raises(TypeError, match="FrameDataset"):
        oracle_frames([1, 2])
    with pytest.raises(ValueError, match="no frames"):
        oracle_frames(ListDataset([], []))
    ds = ListDataset(sample_scenes(1, 0), ["g"])
    with pytest.raises(ValueError, match="input_size"):
        oracle_frames(ds, FrameEvalConfig(input_size=130))
    for kwargs in ({"input_size": 0}, {"batch_size": 0}, {"failures_listed": -1}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            FrameEvalConfig(**kwargs)


def test_stack_row_labels_follow_table1():
    assert list(stack_row_labels(4).items()) == [("stack_1_full", "1 stack"), ("stack_2_full", "2 stacks"),
                                                 ("stack_3_full", "3 stacks"), ("naive", "4 stacks, naive read-out"),
                                                 ("full", "4 stacks")]
    assert stack_row_labels(1) == {"naive": "1 stack, naive read-out", "full": "1 stack"}


def test_network_eval_counts_unreadable_frames():
    torch.manual_seed(0)
    model = HourglassNet(HourglassConfig.tiny())
    scenes = _mixed_sizes(7)
    ds = ListDataset(scenes, ["a"] * 7, broken={1, 4}, wrong_size={5})
    report = evaluate_frames(model, ds, FrameEvalConfig(batch_size=3, failures_listed=2))
    json.dumps(report)
    assert report["frames"] == 7 and report["frames_failed"] == 3 and report["scenes"] == 4
    assert [f["key"] for f in report["failed"]] == ["f1", "f4"]
    assert "not a decodable image" in report["failed"][0]["error"]
    assert report["input_size"] == 64 and set(report["stacks"]) == {1, 2}
    assert set(report["groups"]["rows"]) == {"stack_1_full", "stack_1_naive", "full", "naive"}
    assert report["groups"]["rows"]["full"]["per_group"]["a"]["frames"] == 4
    assert model.training  # the mode is restored
    full = evaluate_frames(model, ds, FrameEvalConfig(failures_listed=10), stacks=(1,))
    assert "wrong" not in full and any("image is" in f["error"] and f["key"] == "f5" for f in full["failed"])
    assert set(full["stacks"]) == {2} and set(full["groups"]["rows"]) == {"full", "naive"}


def test_network_eval_with_no_readable_image_is_an_error():
    model = HourglassNet(HourglassConfig.tiny())
    ds = ListDataset(sample_scenes(2, 0), ["a", "b"], broken={0, 1})
    with pytest.raises(ValueError, match="none of the 2 images could be read"):
        evaluate_frames(model, ds)
    with pytest.raises(ValueError, match="stacks"):
        evaluate_frames(model, ds, stacks=(5,))

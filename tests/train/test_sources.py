"""Training on a real dataset (a miniature Human3.6M tree): it runs, resumes bit for bit, counts bad images."""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace

import pytest
import torch

pytest.importorskip("cv2")

import h36m_tree as tree  # noqa: E402

from ssmp3d.model import HourglassConfig  # noqa: E402
from ssmp3d.train import CheckpointError, LossConfig, load_checkpoint  # noqa: E402
from ssmp3d.train.checkpoint import FORMAT  # noqa: E402
from ssmp3d.train.config import ADDED_FIELDS, ADDED_NESTED, TrainConfig  # noqa: E402
from ssmp3d.train.trainer import train  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m")
    tree.make_h36m_tree(root)
    return root


def tiny(steps: int, root, **kw) -> TrainConfig:
    kw.setdefault("eval_scenes", 0)
    return TrainConfig(model=HourglassConfig.tiny(num_joints=17), loss=LossConfig(pull_weight=0.1, push_weight=0.1),
                       steps=steps, batch_size=4, lr=2e-3, log_every=1, dataset="h36m", root=str(root), **kw)


class _Stop(Exception):
    pass


def _stop_at(n: int):
    def progress(step, values):
        if step == n:
            raise _Stop  # like a crash right after the step-n checkpoint

    return progress


def _rows(path):
    with path.open() as f:
        return [{k: v for k, v in r.items() if k != "images_per_s"} for r in csv.DictReader(f)]


def test_real_data_training_runs_and_evaluates_on_the_test_split(mini, tmp_path):
    result = train(tiny(20, mini, eval_scenes=6, eval_every=10), tmp_path)
    assert result.steps == 20 and result.skipped_images == 0
    assert torch.isfinite(torch.tensor([result.first_loss, result.last_loss])).all()
    ckpt = load_checkpoint(tmp_path / "last.pt")
    extra = ckpt["extra"]
    assert {k: extra[k] for k in ("stream_position", "train_frames", "skipped_images")} == {
        "stream_position": 80, "train_frames": 2 * 2 * 6 + 4 * 2, "skipped_images": 0}
    assert set(extra) == {"stream_position", "train_frames", "skipped_images", "bone_sums", "mean_bones"}
    assert ckpt["config"]["dataset"] == "h36m" and ckpt["config"]["model"]["num_joints"] == 17
    report = result.evaluation
    assert report["scenes"] == 6 and "full" in report["stack_2"] and "naive" in report["stack_2"]
    assert len((tmp_path / "eval.jsonl").read_text().splitlines()) == 2
    rows = _rows(tmp_path / "log.csv")
    assert len(rows) == 20 and rows[-1]["skipped_images"] == "0"


def test_resumed_real_data_run_equals_the_uninterrupted_one(mini, tmp_path):
    straight = train(tiny(20, mini), tmp_path / "a")
    with pytest.raises(_Stop):
        train(tiny(20, mini, checkpoint_every=9), tmp_path / "b", progress=_stop_at(9))
    assert load_checkpoint(tmp_path / "b" / "last.pt")["extra"]["stream_position"] == 36
    resumed = train(tiny(20, mini, checkpoint_every=9), tmp_path / "b")  # crosses an epoch boundary (32 frames)
    assert resumed.resumed_from == 9 and resumed.steps == 20
    a, b = load_checkpoint(tmp_path / "a" / "last.pt"), load_checkpoint(tmp_path / "b" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert resumed.last_loss == straight.last_loss
    assert _rows(tmp_path / "a" / "log.csv") == _rows(tmp_path / "b" / "log.csv")


def test_an_unreadable_image_is_replaced_counted_and_listed(mini, tmp_path):
    root = tmp_path / "h36m"
    shutil.copytree(mini, root)
    bad = root / "images" / tree.file_name(1, 2, 1, 1, 3)
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    result = train(tiny(16, root), tmp_path / "run")  # 64 samples: two epochs of 32 frames
    assert result.skipped_images == 2
    listed = (tmp_path / "run" / "skipped_images.txt").read_text().splitlines()
    assert len(listed) == 2 and all(bad.name in line and "not a decodable image" in line for line in listed)
    assert _rows(tmp_path / "run" / "log.csv")[-1]["skipped_images"] == "2"
    assert load_checkpoint(tmp_path / "run" / "last.pt")["extra"]["skipped_images"] == 2


def test_no_test_split_means_no_evaluation_said_so(mini, tmp_path):
    root = tmp_path / "h36m"
    shutil.copytree(mini, root)
    (root / "annotations" / "Human36M_subject11_data.json").unlink()
    result = train(tiny(2, root, eval_scenes=4), tmp_path / "run")
    assert "Human36M_subject11_data.json" in result.evaluation["unavailable"]
    assert not (tmp_path / "run" / "eval.jsonl").exists()


def test_resume_refuses_a_dataset_with_other_frames_and_a_moved_root_is_fine(mini, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(mini, moved)
    train(tiny(2, mini), tmp_path / "run2")
    assert train(tiny(2, moved), tmp_path / "run2").resumed_from == 2  # same frames, new path
    other = tmp_path / "other"
    tree.make_h36m_tree(other, {**tree.DEFAULT_SUBJECTS, 5: tree.RICH}, images=False)
    before = (tmp_path / "run2" / "last.pt").read_bytes()
    with pytest.raises(CheckpointError, match=r"trained on 32 h36m frames, .* has 54"):
        train(tiny(2, other), tmp_path / "run2")
    assert (tmp_path / "run2" / "last.pt").read_bytes() == before


def test_checkpoints_without_the_new_fields_still_resume(tmp_path):
    # a run with the values the added fields stand for in older files (ADDED_FIELDS, ADDED_NESTED)
    synth = TrainConfig(model=HourglassConfig.tiny(head_features=0),
                        loss=LossConfig(pull_weight=0.1, push_weight=0.1, normalization="pixels"), steps=4,
                        batch_size=2, lr=2e-3, max_people=2, augment=False, eval_scenes=0, log_every=1,
                        schedule="paper", orpm_radius=2, init_weights=None)
    straight = train(synth, tmp_path / "a")
    with pytest.raises(_Stop):
        train(replace(synth, checkpoint_every=2), tmp_path / "b", progress=_stop_at(2))
    path = tmp_path / "b" / "last.pt"
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["format"] == FORMAT
    for key in ADDED_FIELDS:
        del ckpt["config"][key]  # as written before the fields existed
    for section, added in ADDED_NESTED.items():
        for key in added:
            del ckpt["config"][section][key]
    torch.save(ckpt, path)
    resumed = train(replace(synth, checkpoint_every=2), tmp_path / "b")
    assert resumed.resumed_from == 2 and resumed.last_loss == straight.last_loss


def test_bad_real_data_configs(mini):
    with pytest.raises(ValueError, match="root: the h36m dataset needs its folder"):
        TrainConfig(model=HourglassConfig.tiny(num_joints=17), dataset="h36m")
    with pytest.raises(ValueError, match="model.num_joints: the h36m skeleton has 17 joints, the network 19"):
        TrainConfig(model=HourglassConfig.tiny(), dataset="h36m", root=str(mini))
    with pytest.raises(ValueError, match="dataset: expected one of synthetic, panoptic, h36m"):
        TrainConfig(dataset="coco")
    with pytest.raises(ValueError, match="root: only real datasets"):
        TrainConfig(root=str(mini))
    with pytest.raises(ValueError, match="every"):
        TrainConfig(every=5)

"""Human3.6M loader on a miniature tree in the 3DMPPE JSON layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("cv2")

import h36m_tree as tree  # noqa: E402  (tests/ is on sys.path through tests/conftest.py)

from ssmp3d.data.frames import DatasetError  # noqa: E402
from ssmp3d.data.h36m import (ACTIONS, JOINT_NAMES, JOINT_PERMUTATION, SOURCE_JOINTS,  # noqa: E402
                              Human36MDataset, camera_from_json)
from ssmp3d.data.letterbox import letterbox_scene  # noqa: E402
from ssmp3d.decoding import DecodeConfig, decode  # noqa: E402
from ssmp3d.encode import TargetConfig, encode_batch  # noqa: E402
from ssmp3d.eval import EvalConfig, Evaluator  # noqa: E402
from ssmp3d.geometry import MapTransform, letterbox_affine  # noqa: E402
from ssmp3d.skeleton import H36M17  # noqa: E402


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("h36m")
    return root, tree.make_h36m_tree(root)


def test_joint_order_maps_by_name_onto_h36m17():
    assert SOURCE_JOINTS[:4] == ("Pelvis", "R_Hip", "R_Knee", "R_Ankle")  # right leg first
    assert [JOINT_NAMES[SOURCE_JOINTS[j]] for j in JOINT_PERMUTATION] == list(H36M17.joints)
    assert JOINT_NAMES["Torso"] == "spine" and JOINT_NAMES["Neck"] == "thorax"
    assert JOINT_PERMUTATION == tuple(range(17))
    assert H36M17.joints[H36M17.neck] == "thorax" and H36M17.joints[H36M17.pelvis] == "pelvis"


def test_camera_convention_is_r_xw_plus_t():
    cam = camera_from_json(tree.CAMERAS[1], 1000, 1002)
    # The released t is -R C: the camera centre of the Human3.6M metadata goes to the origin.
    centre = np.asarray(tree.S1_CAMERA1_CENTRE)
    assert np.allclose(cam.world_to_camera(centre), 0.0, atol=1e-3)
    assert np.allclose(-cam.R.T @ cam.t, centre, atol=1e-3)
    # A person at the capture centre is ~5.5 m in front of the camera, upright in the image.
    pose = tree.world_pose(1, 2, 1, 0)
    xc = cam.world_to_camera(pose)
    assert np.all(xc[:, 2] > 4000)
    assert xc[10, 1] < xc[0, 1] < xc[3, 1]  # head above pelvis above ankle (y down)
    assert np.array_equal(cam.dist, np.zeros(5))
    assert cam.K[0, 0] == tree.CAMERAS[1]["f"][0] and cam.K[1, 2] == tree.CAMERAS[1]["c"][1]


def test_reprojection_matches_the_generated_2d(mini):
    root, truth = mini
    ds = Human36MDataset(root, "test", subjects=[9, 1])
    assert len(ds) == 2 * (2 * 2 * 6)
    for frame in ds:
        name = str(frame.image_path.relative_to(root / "images"))
        sc = frame.scene
        assert sc.joints3d.shape == (1, 17, 3) and np.all(sc.valid3d) and np.all(sc.in_image)
        assert np.allclose(sc.joints2d[0], truth[name], atol=1e-9)
        assert np.allclose(sc.camera.project(sc.joints3d), sc.joints2d)
        assert np.array_equal(sc.visible, sc.in_image)
        assert frame.key == name.split("/")[1][:-4]
    # World -> camera: the loader's 3D is R Xw + t of the file's joints, in H36M17 order.
    f = ds.frame(3)
    world = np.asarray(tree.world_pose(int(ds.subject_ids[3]), int(ds.action_ids[3]), 1, int(ds.frame_ids[3])))
    e = tree.camera_entry(int(ds.camera_ids[3]))
    expect = world[list(JOINT_PERMUTATION)] @ np.asarray(e["R"]).T + np.asarray(e["t"])
    assert np.allclose(f.scene.joints3d[0], expect)
    assert np.array_equal(ds.world_joints(3), world)


def test_image_sizes_and_reading(mini):
    root, _ = mini
    ds = Human36MDataset(root, "test", subjects=[9])
    sizes = {(ds.frame(i).scene.image_size, int(ds.camera_ids[i])) for i in range(len(ds))}
    assert sizes == {((250, 251), 1), ((250, 250), 2)}
    image = ds.image(0)
    assert image.shape == (251, 250, 3) and image.dtype == np.uint8


def test_split_membership_and_action_groups(mini):
    root, _ = mini
    test = Human36MDataset(root, "test")
    assert set(test.subject_ids.tolist()) == {9, 11} and test.subjects == (9, 11)
    train = Human36MDataset(root, "train")
    assert set(train.subject_ids.tolist()) == {1, 5, 6, 7, 8}
    assert len(train) == 2 * 2 * 6 + 4 * 2
    assert all(f.key.startswith("s_09") or f.key.startswith("s_11") for f in test)
    assert test.groups() == ["Directions", "Eating"]
    assert [f.group for f in test][:1] == ["Directions"]
    assert {f.group for f in test} == {ACTIONS[2 - 2], ACTIONS[4 - 2]}
    assert len(ACTIONS) == 15 and ACTIONS[10] == "Photo" and ACTIONS[-1] == "WalkTogether"
    for f, a in zip(test, test.action_ids):
        assert f"_act_{a:02d}_" in f.key and f.group == ACTIONS[a - 2]
    keys = [(s, a, sa, c, fr) for s, a, sa, c, fr in zip(test.subject_ids, test.action_ids, test.subaction_ids,
                                                         test.camera_ids, test.frame_ids)]
    assert keys == sorted(keys)  # ordered by subject, action, sub-action, camera, frame


def test_subsampling_every_and_max_frames(mini):
    root, _ = mini
    every2 = Human36MDataset(root, "test", subjects=[9], every=2)
    assert set(every2.frame_ids.tolist()) == {0, 2, 4} and len(every2) == 2 * 2 * 3
    every5 = Human36MDataset(root, "test", subjects=[9], every=5)
    assert set(every5.frame_ids.tolist()) == {0, 5}
    full = Human36MDataset(root, "test", subjects=[9])
    few = Human36MDataset(root, "test", subjects=[9], max_frames=5)
    picked = [full.frame(i).key for i in (np.arange(5) * len(full)) // 5]
    assert [f.key for f in few] == picked
    assert len(Human36MDataset(root, "test", subjects=[9], max_frames=1000)) == len(full)
    assert [f.key for f in full[2:4]] == [full.frame(2).key, full.frame(3).key]
    assert full[-1].key == full.frame(len(full) - 1).key
    with pytest.raises(IndexError):
        full.frame(len(full))


def test_oracle_round_trip_through_the_loader_is_exact(mini):
    root, _ = mini
    ds = Human36MDataset(root, "test", subjects=[9, 11], every=2)
    size, cfg = (256, 256), TargetConfig()
    evaluator = Evaluator(H36M17, EvalConfig())
    for frame in ds:
        sc = frame.scene
        a = letterbox_affine(sc.image_size, size)
        moved = letterbox_scene(sc, a, size)
        enc = encode_batch([moved], H36M17, cfg, backend="python")
        maps = [torch.from_numpy(x) for x in (enc.heatmaps, enc.tag_maps, enc.orpm)]
        result = decode(*maps, DecodeConfig(readout="full"), skeleton=H36M17,
                        transform=MapTransform(affine=a, stride=cfg.stride), backend="python")
        people = result.people(0)
        assert len(people) == 1
        # back in the original image's pixels: within a map pixel (4 input px ~ 3.9 px here)
        err2d = np.linalg.norm(people[0].joints2d - sc.joints2d[0], axis=-1)
        assert err2d.max() < 4.0
        evaluator.add(people, sc)
    report = evaluator.report().to_dict()
    assert report["recall"] == 1.0 and report["precision"] == 1.0
    assert report["mpjpe_mm"] < 1.0, report["mpjpe_mm"]


def _copy_tree(root, dst, tmp_path):
    import shutil

    shutil.copytree(root / "annotations", dst / "annotations")
    (dst / "images").mkdir()
    return dst / "annotations"


def test_missing_truncated_and_malformed_files_name_the_file(mini, tmp_path):
    root, _ = mini
    ann = _copy_tree(root, tmp_path, tmp_path)
    (ann / "Human36M_subject11_camera.json").unlink()
    with pytest.raises(DatasetError, match="Human36M_subject11_camera.json: no such annotation file"):
        Human36MDataset(tmp_path, "test")
    joints = ann / "Human36M_subject9_joint_3d.json"
    text = joints.read_text()
    joints.write_text(text[: len(text) // 2])
    with pytest.raises(DatasetError, match="Human36M_subject9_joint_3d.json: truncated or malformed JSON"):
        Human36MDataset(tmp_path, "test", subjects=[9])
    data = json.loads(text)
    del data["4"]["1"]["3"]
    joints.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"subject9_joint_3d.json: no joints for action 4, subaction 1, frame 3"):
        Human36MDataset(tmp_path, "test", subjects=[9])
    data = json.loads(text)
    data["2"]["1"]["0"] = data["2"]["1"]["0"][:16]
    joints.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"subject9_joint_3d.json: joints of action 2.*shape \[17, 3\]"):
        Human36MDataset(tmp_path, "test", subjects=[9])
    joints.write_text(text)

    data_path = ann / "Human36M_subject9_data.json"
    good = json.loads(data_path.read_text())
    bad = json.loads(json.dumps(good))
    del bad["images"][5]["cam_idx"]
    data_path.write_text(json.dumps(bad))
    with pytest.raises(DatasetError, match=r"subject9_data.json: images\[5\].cam_idx: expected an int"):
        Human36MDataset(tmp_path, "test", subjects=[9])
    bad = json.loads(json.dumps(good))
    bad["images"][0]["action_idx"] = 17
    data_path.write_text(json.dumps(bad))
    with pytest.raises(DatasetError, match=r"images\[0\].action_idx: expected 2..16"):
        Human36MDataset(tmp_path, "test", subjects=[9])
    data_path.write_text(json.dumps([1, 2]))
    with pytest.raises(DatasetError, match="subject9_data.json: expected a JSON object with an 'images' list"):
        Human36MDataset(tmp_path, "test", subjects=[9])
    data_path.write_text(json.dumps(good))

    cam_path = ann / "Human36M_subject9_camera.json"
    cams = json.loads(cam_path.read_text())
    cam_path.write_text(json.dumps({"1": cams["1"]}))
    with pytest.raises(DatasetError, match="subject9_camera.json: no camera 2"):
        Human36MDataset(tmp_path, "test", subjects=[9])
    cam_path.write_text(json.dumps({**cams, "1": {**cams["1"], "R": [[1, 0], [0, 1]]}}))
    with pytest.raises(DatasetError, match=r"subject9_camera.json: R: expected finite numbers of shape \[3, 3\]"):
        Human36MDataset(tmp_path, "test", subjects=[9])
    cam_path.write_text(json.dumps(cams))
    assert len(Human36MDataset(tmp_path, "test", subjects=[9])) == 24  # restored


def test_bad_arguments_and_missing_images(mini, tmp_path):
    root, _ = mini
    with pytest.raises(ValueError, match="split"):
        Human36MDataset(root, "val")
    with pytest.raises(ValueError, match="subjects"):
        Human36MDataset(root, "test", subjects=[])
    with pytest.raises(ValueError, match="every"):
        Human36MDataset(root, "test", every=0)
    with pytest.raises(TypeError, match="max_frames"):
        Human36MDataset(root, "test", max_frames=2.5)
    with pytest.raises(DatasetError, match="no such dataset directory"):
        Human36MDataset(tmp_path / "nowhere", "test")
    _copy_tree(root, tmp_path, tmp_path)
    ds = Human36MDataset(tmp_path, "test", subjects=[9])  # indexing needs no image
    with pytest.raises(DatasetError, match="s_09_act_02_subact_01_ca_01_000001.jpg: no such image file"):
        ds.image(0)


@pytest.mark.parametrize("key, value, needle", [
    ("width", 10**30, r"images\[0\]: width and height must be in \[1, 65536\]"),
    ("height", 10**12, r"images\[0\]: width and height must be in \[1, 65536\]"),
    ("frame_idx", 10**30, r"images\[0\].frame_idx: expected an int in \[0, "),
    ("subaction_idx", 10**30, r"images\[0\].subaction_idx: out of range"),
])
def test_numbers_too_large_name_the_file(mini, tmp_path, key, value, needle):
    """Integers past int64 (OverflowError before) or absurd image sizes are DatasetErrors naming the file."""
    root, _ = mini
    ann = _copy_tree(root, tmp_path, tmp_path)
    data_path = ann / "Human36M_subject9_data.json"
    data = json.loads(data_path.read_text())
    im = data["images"][0]
    im[key] = value
    data_path.write_text(json.dumps(data))
    joints_path = ann / "Human36M_subject9_joint_3d.json"  # joints for the changed frame, so only the number is wrong
    joints = json.loads(joints_path.read_text())
    act, sub, frame = (str(im[k]) for k in ("action_idx", "subaction_idx", "frame_idx"))
    some = next(iter(next(iter(joints[act].values())).values()))
    joints.setdefault(act, {}).setdefault(sub, {})[frame] = some
    joints_path.write_text(json.dumps(joints))
    with pytest.raises(DatasetError, match=needle) as info:
        Human36MDataset(tmp_path, "test", subjects=[9])
    assert str(info.value).startswith(f"{data_path}: ")

"""PanopticDataset: the protocol's splits, frame listing, sampling, errors naming the file, oracle round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
from panoptic_tree import build_sequence, fixture_body, write_skeleton

from ssmp3d.data.frames import DatasetError, FrameDataset
from ssmp3d.data.panoptic import (
    PANOPTIC_SCENARIOS,
    PANOPTIC_SEQUENCES,
    PANOPTIC_TEST_CAMERAS,
    PANOPTIC_TRAIN_CAMERAS,
    PanopticDataset,
    sample_positions,
    scenario_of,
    split_cameras,
)
from ssmp3d.data.panoptic_files import PANOPTIC_HD_CAMERAS
from ssmp3d.eval import PANOPTIC_PROTOCOL_JOINTS
from ssmp3d.skeleton import H36M17, PANOPTIC19

pytest.importorskip("cv2")


@pytest.fixture
def protocol_root(tmp_path):
    """The four default sequences, 10 annotated frames each (100..109), every HD camera calibrated."""
    for seq in PANOPTIC_SEQUENCES:
        build_sequence(tmp_path, seq, range(100, 110), cameras=PANOPTIC_HD_CAMERAS)
    return tmp_path


def test_protocol_constants():
    assert PANOPTIC_TEST_CAMERAS == ("00_16", "00_30")
    assert len(PANOPTIC_HD_CAMERAS) == 31 and PANOPTIC_HD_CAMERAS[0] == "00_00" and PANOPTIC_HD_CAMERAS[-1] == "00_30"
    assert len(PANOPTIC_TRAIN_CAMERAS) == 29 and not set(PANOPTIC_TRAIN_CAMERAS) & set(PANOPTIC_TEST_CAMERAS)
    assert split_cameras("test") == PANOPTIC_TEST_CAMERAS and split_cameras("train") == PANOPTIC_TRAIN_CAMERAS
    with pytest.raises(ValueError, match="split"):
        split_cameras("val")
    assert [scenario_of(s) for s in PANOPTIC_SEQUENCES] == list(PANOPTIC_SCENARIOS)
    assert scenario_of("160224_haggling1") == "haggling" and scenario_of("170221_haggling_b1") == "haggling"
    assert scenario_of("160906_Pizza2") == "pizza" and scenario_of("1234") == "1234"
    assert PanopticDataset.eval_joints == PANOPTIC_PROTOCOL_JOINTS == (0, *range(2, 15))


def test_test_split_frames_groups_and_keys(protocol_root):
    ds = PanopticDataset(protocol_root)
    assert isinstance(ds, FrameDataset) and ds.name == "panoptic" and ds.skeleton is PANOPTIC19
    assert len(ds) == 4 * 2 * 10 and ds.cameras == PANOPTIC_TEST_CAMERAS
    assert ds.groups() == list(PANOPTIC_SCENARIOS) and ds.group_label == "scenario"
    keys = [f.key for f in ds]
    assert len(set(keys)) == len(keys)
    assert keys[:2] == ["160422_haggling1/00_16/00000100", "160422_haggling1/00_16/00000101"]
    assert keys[10] == "160422_haggling1/00_30/00000100" and keys[-1] == "160906_pizza1/00_30/00000109"
    frame = ds[25]
    assert frame.group == "mafia" and frame.key == "160422_mafia2/00_16/00000105"
    assert frame.image_path == protocol_root / "160422_mafia2" / "hdImgs" / "00_16" / "00_16_00000105.jpg"
    assert frame.scene.num_people == 3 and frame.scene.joints3d.shape == (3, 19, 3)
    assert ds[-1].key == keys[-1] and [f.key for f in ds[2:4]] == keys[2:4]
    with pytest.raises(IndexError):
        ds.frame(len(ds))
    assert ds.stats["160422_haggling1"] == {"skeleton_files": 10, "without_bodies": 0, "frames_kept": 10}


def test_train_split_and_explicit_cameras_and_sequences(protocol_root):
    train = PanopticDataset(protocol_root, "train", max_frames=2)
    assert train.cameras == PANOPTIC_TRAIN_CAMERAS and len(train) == 4 * 29 * 2
    cams = {f.key.split("/")[1] for f in train}
    assert cams == set(PANOPTIC_TRAIN_CAMERAS) and not cams & set(PANOPTIC_TEST_CAMERAS)
    one = PanopticDataset(protocol_root, sequences=["160906_pizza1"], cameras="00_03,00_16")
    assert one.groups() == ["pizza"] and {f.key.split("/")[1] for f in one} == {"00_03", "00_16"}
    # Cameras of a frame differ only by the camera: same people, other pixels.
    a, b = one[0], one[10]
    assert a.key.endswith("00_03/00000100") and b.key.endswith("00_16/00000100")
    assert np.allclose(a.scene.joints3d, b.scene.joints3d)  # the tree's cameras share R and t


def test_uniform_sampling():
    assert sample_positions(10).tolist() == list(range(10))
    assert sample_positions(10, every=3).tolist() == [0, 3, 6, 9]
    assert sample_positions(10, max_frames=4).tolist() == [0, 2, 5, 7]
    assert sample_positions(10, every=2, max_frames=3).tolist() == [0, 2, 6]
    assert sample_positions(3, max_frames=10).tolist() == [0, 1, 2]
    assert sample_positions(0, max_frames=3).tolist() == []
    for n, m in ((1000, 7), (33, 32), (5, 1)):
        kept = sample_positions(n, max_frames=m)
        assert len(kept) == m and np.all(np.diff(kept) > 0) and kept[0] == 0
        gaps = np.diff(np.append(kept, n))
        assert gaps.max() - gaps.min() <= 1  # evenly spaced


def test_sampling_is_per_sequence_and_camera_over_annotated_frames(tmp_path):
    build_sequence(tmp_path, "160422_haggling1", [*range(0, 20, 2)])  # annotated: 0, 2, ..., 18
    ds = PanopticDataset(tmp_path, sequences=["160422_haggling1"], every=2, max_frames=3)
    frames = [int(f.key[-8:]) for f in ds]
    assert frames == [0, 4, 12] * 2  # positions 0, 2, 6 of the annotated list, for both cameras
    assert ds.stats["160422_haggling1"]["frames_kept"] == 3


def test_frames_without_skeletons_or_bodies_are_not_listed(tmp_path):
    seq = build_sequence(tmp_path, "160422_mafia2", range(5))
    (seq / "hdPose3d_stage1_coco19" / "body3DScene_00000002.json").unlink()
    write_skeleton(seq, 3, [(-1, fixture_body())])  # only a negative id: no body
    write_skeleton(seq, 4, [(-3, fixture_body()), (7, fixture_body())])
    (seq / "hdPose3d_stage1_coco19" / "notes.txt").write_text("not a skeleton file")
    ds = PanopticDataset(tmp_path, sequences=["160422_mafia2"], cameras=["00_16"])
    assert [f.key[-8:] for f in ds] == ["00000000", "00000001", "00000004"]
    assert ds[2].scene.num_people == 1
    assert ds.stats["160422_mafia2"] == {"skeleton_files": 4, "without_bodies": 1, "frames_kept": 3}


def test_joints15_sequences(tmp_path):
    build_sequence(tmp_path, "160224_ultimatum1", range(3), key="joints15")
    ds = PanopticDataset(tmp_path, sequences=["160224_ultimatum1"])
    scene = ds[0].scene
    assert scene.joints3d.shape == (3, 19, 3) and not scene.valid3d[:, [1, 15, 16, 17, 18]].any()
    assert scene.valid3d[:, PANOPTIC_PROTOCOL_JOINTS].all() and ds.groups() == ["ultimatum"]
    # coco19 wins when both folders exist.
    build_sequence(tmp_path, "160224_ultimatum1", range(2))
    assert len(PanopticDataset(tmp_path, sequences=["160224_ultimatum1"])) == 4


def test_bad_arguments(protocol_root):
    for kwargs, needle in (({"every": 0}, "every"), ({"max_frames": 0}, "max_frames"), ({"split": "val"}, "split"),
                           ({"cameras": []}, "cameras"), ({"sequences": [""]}, "sequences"),
                           ({"skeleton": H36M17}, "PANOPTIC19"), ({"every": True}, "every")):
        with pytest.raises(ValueError, match=needle):
            PanopticDataset(protocol_root, **kwargs)


def _error(root, **kwargs) -> str:
    with pytest.raises(DatasetError) as info:
        PanopticDataset(root, **kwargs)
    assert len(str(info.value).splitlines()) == 1
    return str(info.value)


def test_missing_or_malformed_files_name_the_file(protocol_root, tmp_path_factory):
    missing = tmp_path_factory.mktemp("empty") / "nowhere"
    assert f"{missing}: no such dataset folder" in _error(missing)
    seq = protocol_root / "160422_mafia2"
    assert "missing sequence folder(s) 160906_nope1" in _error(protocol_root, sequences=["160906_pizza1", "160906_nope1"])
    assert "no camera named 00_99" in _error(protocol_root, cameras=["00_16", "00_99"])
    skel = seq / "hdPose3d_stage1_coco19" / "body3DScene_00000104.json"
    skel.write_bytes(skel.read_bytes()[:-40])
    assert f"{skel}: not a valid JSON skeleton file" in _error(protocol_root)
    doc = {"bodies": [{"id": 0, "joints19": [0.0] * 75}]}
    skel.write_text(json.dumps(doc))
    assert f"{skel}: body #0 'joints19' has 75 values" in _error(protocol_root)
    calib = seq / "calibration_160422_mafia2.json"
    calib.unlink()
    assert f"{calib}: no such calibration file" in _error(protocol_root)
    other = protocol_root / "160422_haggling1"
    for folder in ("hdPose3d_stage1_coco19",):
        for f in (other / folder).iterdir():
            f.unlink()
        (other / folder).rmdir()
    assert f"{other}: no skeleton folder" in _error(protocol_root, sequences=["160422_haggling1"])


def test_camera_absent_from_calibration_names_it(tmp_path):
    build_sequence(tmp_path, "160906_pizza1", range(2), cameras=("00_16",))
    message = _error(tmp_path, sequences=["160906_pizza1"])
    assert "calibration_160906_pizza1.json: no camera named 00_30" in message


def test_index_parses_each_skeleton_file_once(tmp_path, monkeypatch):
    import ssmp3d.data.panoptic as panoptic

    build_sequence(tmp_path, "160422_haggling1", range(6), cameras=PANOPTIC_HD_CAMERAS)
    calls = []
    real = panoptic.read_skeleton_file
    monkeypatch.setattr(panoptic, "read_skeleton_file", lambda *a: calls.append(a[0]) or real(*a))
    ds = PanopticDataset(tmp_path, sequences=["160422_haggling1"], cameras=PANOPTIC_HD_CAMERAS)
    [f.scene for f in ds]
    assert len(calls) == 6 and len(set(calls)) == 6 and len(ds) == 6 * 31


def test_oracle_round_trip_under_one_millimetre(tmp_path):
    from ssmp3d.decoding import available_backends
    from ssmp3d.eval.frames import FrameEvalConfig, oracle_frames

    for seq in PANOPTIC_SEQUENCES:
        build_sequence(tmp_path, seq, range(3))
    ds = PanopticDataset(tmp_path)
    backend = "cpu" if "cpu" in available_backends() else "python"
    report = oracle_frames(ds, FrameEvalConfig(backend=backend, batch_size=8))
    assert report["recall"] == 1.0 and report["precision"] == 1.0 and report["people"] == len(ds) * 3
    assert report["mpjpe_mm"] < 1.0 and report["readouts"]["naive"]["mpjpe_mm"] < 1.0
    assert set(report["per_joint_mm"]) == {PANOPTIC19.joints[j] for j in PANOPTIC_PROTOCOL_JOINTS}
    rows = report["groups"]["rows"]
    assert report["groups"]["names"] == list(PANOPTIC_SCENARIOS)
    assert all(rows["full"]["per_group"][g]["mpjpe_mm"] < 1.0 for g in PANOPTIC_SCENARIOS)
    assert rows["full"]["per_group"]["pizza"]["frames"] == 6 and rows["full"]["per_group"]["pizza"]["people"] == 18


def test_numbers_too_large_for_int64_are_dataset_errors(tmp_path):
    """A body id of 10**30 and a 30-digit frame number raised OverflowError; now DatasetErrors naming the file."""
    seq = build_sequence(tmp_path, "160422_haggling1", range(2), cameras=("00_16", "00_30"))
    skel = write_skeleton(seq, 7, [(10**30, fixture_body())])
    assert f"{skel}: body #0 has an id out of range" in _error(tmp_path, sequences=[seq.name])
    skel.unlink()
    long = write_skeleton(seq, 7, [(0, fixture_body())]).rename(
        seq / "hdPose3d_stage1_coco19" / f"body3DScene_{'1' * 30}.json")
    assert f"{long}: frame number out of range" in _error(tmp_path, sequences=[seq.name])


def test_absurd_calibration_resolution_names_the_file(tmp_path):
    """A resolution of 1e12 loaded and later failed deep in the oracle without the file's name."""
    seq = build_sequence(tmp_path, "160422_haggling1", range(2), cameras=("00_16", "00_30"))
    calib = seq / "calibration_160422_haggling1.json"
    doc = json.loads(calib.read_text())
    doc["cameras"][1]["resolution"] = [1e12, 1080]
    calib.write_text(json.dumps(doc))
    message = _error(tmp_path, sequences=[seq.name])
    assert f"{calib}: camera '00_16': resolution: expected [width, height], whole numbers in [1, 65536]" in message

"""CMU Panoptic file formats: calibration by name, skeleton files, units, axes, projection, validity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from panoptic_tree import BODY, CALIBRATION, fixture_body, front_camera, write_calibration, write_skeleton

from ssmp3d.data.frames import DatasetError
from ssmp3d.data.panoptic_files import (
    JOINTS15_TO_COCO19,
    Bodies,
    bodies_to_scene,
    load_calibration,
    max_undistorted_radius2,
    read_skeleton_file,
)
from ssmp3d.geometry import Camera

cv2 = pytest.importorskip("cv2")


def _one(joints: np.ndarray, conf: np.ndarray | None = None) -> Bodies:
    joints = np.asarray(joints, dtype=np.float64).reshape(1, -1, 3)
    conf = np.ones(joints.shape[:2]) if conf is None else np.asarray(conf, dtype=np.float64).reshape(1, -1)
    return Bodies(ids=np.zeros(1, np.int64), joints=joints, confidence=conf)


def _camera(R=np.eye(3), t=(0.0, 0.0, 0.0), dist=(0, 0, 0, 0, 0), size=(1920, 1080)) -> Camera:
    K = np.array([[1000.0, 0, 960], [0, 1000.0, 540], [0, 0, 1]])
    return Camera(K=K, R=np.asarray(R, float), t=np.asarray(t, float), dist=np.asarray(dist, float),
                  width=size[0], height=size[1])


def test_calibration_cameras_by_name_not_position(tmp_path):
    fixture = load_calibration(CALIBRATION)
    assert list(fixture) == ["00_00"]
    raw = json.loads(CALIBRATION.read_text())["cameras"][0]
    cam = fixture["00_00"]
    assert np.array_equal(cam.K, np.asarray(raw["K"])) and np.array_equal(cam.R, np.asarray(raw["R"]))
    assert np.array_equal(cam.t, np.asarray(raw["t"]).ravel()) and cam.t.shape == (3,)  # centimetres, as stored
    assert np.array_equal(cam.dist, raw["distCoef"]) and (cam.width, cam.height) == (1920, 1080)
    # A VGA camera first and HD cameras in any order: names decide.
    path = write_calibration(tmp_path / "seq", [front_camera("00_30", t=(1, 2, 3)), front_camera("00_16", t=(4, 5, 6))])
    cams = load_calibration(path)
    assert list(cams) == ["01_01", "00_30", "00_16"]
    assert np.array_equal(cams["00_16"].t, [4, 5, 6]) and np.array_equal(cams["00_30"].t, [1, 2, 3])
    assert (cams["01_01"].width, cams["01_01"].height) == (640, 480)


def test_fixture_projection_equals_cv2_project_points():
    camera = load_calibration(CALIBRATION)["00_00"]
    bodies = read_skeleton_file(BODY)
    scene = bodies_to_scene(bodies, camera)
    world = np.ascontiguousarray(fixture_body()[:, :3])  # [19, 3] cm
    rvec, _ = cv2.Rodrigues(camera.R)
    expected, _ = cv2.projectPoints(world.reshape(-1, 1, 3), rvec, camera.t.reshape(3, 1), camera.K, camera.dist)
    assert np.abs(scene.joints2d[0] - expected.reshape(19, 2)).max() < 0.01
    # The ankles (8, 14) fall below this camera's image; the rest is inside.
    assert scene.valid3d.all() and np.flatnonzero(~scene.in_image[0]).tolist() == [8, 14]
    assert (scene.joints2d[0, [8, 14], 1] > 1080).all() and np.array_equal(scene.visible, scene.in_image)
    # The scene's camera: intrinsics, distortion and size; the joints are already camera-frame.
    assert np.array_equal(scene.camera.R, np.eye(3)) and np.array_equal(scene.camera.t, np.zeros(3))
    assert np.array_equal(scene.camera.K, camera.K) and np.array_equal(scene.camera.dist, camera.dist)
    assert scene.image_size == (1920, 1080)
    assert np.allclose(scene.camera.project(scene.joints3d), scene.joints2d)


def test_centimetres_to_camera_millimetres_with_r_and_t():
    # R = I, t = (1, 2, 3) cm: (0, 0, 100) cm in the world is (10, 20, 1030) mm in the camera.
    scene = bodies_to_scene(_one([[0.0, 0.0, 100.0]]), _camera(t=(1.0, 2.0, 3.0)))
    assert np.allclose(scene.joints3d[0, 0], [10.0, 20.0, 1030.0])
    # A quarter turn about Y: world +X is camera -Z... so world -X is in front.
    R = np.array([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]])
    scene = bodies_to_scene(_one([[-200.0, 50.0, 30.0]]), _camera(R=R, t=(0.0, 0.0, 10.0)))
    assert np.allclose(scene.joints3d[0, 0], [300.0, 500.0, 2100.0])
    fixture = load_calibration(CALIBRATION)["00_00"]
    body = read_skeleton_file(BODY)
    expected = (fixture_body()[:, :3] @ fixture.R.T + fixture.t) * 10.0
    assert np.allclose(bodies_to_scene(body, fixture).joints3d[0], expected)


def test_y_down_in_both_frames_no_flip():
    # A point lower in the world (larger Y, Y down) is lower in the image (larger v), with R = I.
    scene = bodies_to_scene(_one([[0.0, -50.0, 300.0], [0.0, 50.0, 300.0]]), _camera())
    head, foot = scene.joints2d[0]
    assert scene.joints3d[0, 0, 1] < 0 < scene.joints3d[0, 1, 1]
    assert head[1] < 540 < foot[1] and np.isclose(head[0], 960) and np.isclose(foot[0], 960)


def test_validity_confidence_behind_and_outside():
    joints = [[0, 0, 300], [0, 0, 300], [0, 0, 300], [0, 0, -300], [500, 0, 300]]
    conf = [0.1, 0.1000001, 0.0, 0.9, 0.9]
    scene = bodies_to_scene(_one(joints, conf), _camera())
    assert scene.valid3d[0].tolist() == [False, True, False, True, True]
    # confidence <= 0.1: not valid; behind the camera: valid 3D, not in the image; outside the image too.
    assert scene.in_image[0].tolist() == [False, True, False, False, False]
    assert np.isnan(scene.joints2d[0, 3]).all() and scene.joints2d[0, 4, 0] > 1920
    assert np.array_equal(scene.visible, scene.in_image)


def test_points_past_the_distortion_fold_are_not_in_the_image():
    dist = (-0.5, 0.0, 0.0, 0.0, 0.0)  # r (1 - 0.5 r^2) turns back at r^2 = 1 / 1.5
    assert np.isclose(max_undistorted_radius2(dist), 1.0 / 1.5)
    assert max_undistorted_radius2(load_calibration(CALIBRATION)["00_00"].dist) == np.inf
    # x/z = 1.6: far outside the field of view, yet the folded model lands it inside the image.
    scene = bodies_to_scene(_one([[160.0, 0.0, 100.0], [20.0, 0.0, 100.0]]), _camera(dist=dist))
    u = scene.joints2d[0, :, 0]
    assert 0 <= u[0] < 1920  # the fold
    assert scene.in_image[0].tolist() == [False, True]


def test_negative_ids_skipped_and_joints15_mapped(tmp_path):
    body = fixture_body()
    path = write_skeleton(tmp_path, 7, [(-1, body), (3, body), (0, body * [1, 1, 1, 0.05])])
    bodies = read_skeleton_file(path)
    assert bodies.ids.tolist() == [3, 0] and bodies.joints.shape == (2, 19, 3)
    assert np.array_equal(bodies.joints[0], body[:, :3]) and np.array_equal(bodies.confidence[0], body[:, 3])
    j15 = body[:15].copy()
    j15[1] = [1.0, 2.0, 3.0, 0.9]  # head top: not the nose
    b15 = read_skeleton_file(write_skeleton(tmp_path, 8, [(5, j15)], key="joints15"), "joints15")
    keep = [0, *range(2, 15)]
    assert np.array_equal(b15.joints[0, keep], body[keep, :3])
    assert np.isnan(b15.joints[0, [1, 15, 16, 17, 18]]).all() and (b15.confidence[0, [1, 15, 16, 17, 18]] < 0).all()
    assert JOINTS15_TO_COCO19[1] == -1
    scene = bodies_to_scene(b15, load_calibration(CALIBRATION)["00_00"])
    assert scene.valid3d[0].tolist() == [j in keep for j in range(19)]
    assert np.flatnonzero(scene.in_image[0]).tolist() == [j for j in keep if j not in (8, 14)]


@pytest.mark.parametrize("content, needle", [
    ('{"bodies": [{"id": 0, "joints19": [1, 2', "not a valid JSON"),
    ("", "not a valid JSON"),
    ('{"univTime": 3}', "'bodies' list"),
    ('{"bodies": [{"id": 0, "joints19": [1, 2, 3]}]}', "has 3 values, expected 76"),
    ('{"bodies": [{"id": 0}]}', "lacks 'id' or 'joints19'"),
    ('{"bodies": [{"id": 0, "joints19": ' + json.dumps(["x"] * 76) + "}]}", "non-numbers"),
    ('{"bodies": [{"id": 0.5, "joints19": ' + json.dumps([0] * 76) + "}]}", "non-integer id"),
])
def test_malformed_skeleton_files_name_the_file(tmp_path, content, needle):
    path = tmp_path / "body3DScene_00000001.json"
    path.write_text(content)
    with pytest.raises(DatasetError, match=needle) as info:
        read_skeleton_file(path)
    assert str(path) in str(info.value)
    with pytest.raises(DatasetError, match="no such skeleton file"):
        read_skeleton_file(tmp_path / "body3DScene_00000002.json")
    with pytest.raises(ValueError, match="key"):
        read_skeleton_file(path, "joints18")


def test_joints15_file_with_coco19_length_is_an_error(tmp_path):
    path = write_skeleton(tmp_path, 1, [(0, fixture_body())], key="joints15")  # 19 joints under the joints15 key
    with pytest.raises(DatasetError, match="has 76 values, expected 60"):
        read_skeleton_file(path, "joints15")


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d.pop("cameras"), "'cameras' list"),
    (lambda d: d["cameras"][1].pop("K"), "camera '00_16' lacks 'K'"),
    (lambda d: d["cameras"][1].update(distCoef=[0.1, 0.2]), "camera '00_16': distCoef"),
    (lambda d: d["cameras"][1].update(R=[[1, 0], [0, 1]]), "camera '00_16': R"),
    (lambda d: d["cameras"][1].update(name="01_01"), "'01_01' appears twice"),
    (lambda d: d["cameras"][1].pop("name"), "camera #1 has no 'name'"),
])
def test_malformed_calibration_names_the_file_and_camera(tmp_path, mutate, needle):
    path = write_calibration(tmp_path / "seq", [front_camera("00_16")])
    doc = json.loads(path.read_text())
    mutate(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match=needle) as info:
        load_calibration(path)
    assert str(path) in str(info.value)


def test_missing_or_truncated_calibration(tmp_path):
    with pytest.raises(DatasetError, match="no such calibration file"):
        load_calibration(tmp_path / "calibration_x.json")
    path = write_calibration(tmp_path / "seq", [front_camera("00_16")])
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DatasetError, match="not a valid JSON calibration file") as info:
        load_calibration(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("body_id, needle", [(10**30, "id out of range"), (float("inf"), "non-integer id"),
                                             (float("nan"), "non-integer id")])
def test_body_ids_that_do_not_fit_name_the_file(tmp_path, body_id, needle):
    path = tmp_path / "body3DScene_00000001.json"
    path.write_text(json.dumps({"bodies": [{"id": body_id, "joints19": [0.0] * 76}]}))
    with pytest.raises(DatasetError, match=needle) as info:
        read_skeleton_file(path)
    assert str(info.value).startswith(f"{path}: body #0")


@pytest.mark.parametrize("resolution", [[1e12, 1080], [0, 1080], [1920.5, 1080], [1920, -1]])
def test_calibration_resolution_out_of_range(tmp_path, resolution):
    path = write_calibration(tmp_path / "seq", [front_camera("00_16", resolution=resolution)])
    with pytest.raises(DatasetError, match=r"camera '00_16': resolution: expected \[width, height\]") as info:
        load_calibration(path)
    assert str(info.value).startswith(str(path))

import json
from pathlib import Path

import numpy as np
import pytest

from ssmp3d.geometry import Camera, MapTransform, letterbox_affine, map_pixel, project_points

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "panoptic"  # copies of the published samples


def _panoptic_camera():
    calib = json.loads((FIXTURES / "calibration_fragment_160224_haggling1_00_00.json").read_text())
    cam = next(c for c in calib["cameras"] if c["name"] == "00_00")
    return Camera(K=np.array(cam["K"]), R=np.array(cam["R"]), t=np.array(cam["t"]).ravel(),
                  dist=np.array(cam["distCoef"]), width=cam["resolution"][0], height=cam["resolution"][1])


def test_projection_matches_opencv_on_the_panoptic_fixture():
    cv2 = pytest.importorskip("cv2")
    cam = _panoptic_camera()
    body = json.loads((FIXTURES / "body3DScene_README_example.json").read_text())["bodies"][0]
    joints = np.array(body["joints19"]).reshape(-1, 4)[:, :3]  # world cm
    uv = cam.project(cam.world_to_camera(joints))
    rvec, _ = cv2.Rodrigues(cam.R)
    ref, _ = cv2.projectPoints(np.ascontiguousarray(joints).reshape(-1, 1, 3), rvec, cam.t, cam.K, cam.dist)
    np.testing.assert_allclose(uv, ref.reshape(-1, 2), atol=1e-6)
    assert cam.in_image(uv).any()


def test_projection_behind_camera_is_nan_and_shapes():
    K = np.array([[500.0, 0, 256], [0, 500, 256], [0, 0, 1]])
    uv = project_points(np.array([[[0.0, 0, 1000], [0, 0, -5]]]), K, np.zeros(5))
    assert uv.shape == (1, 2, 2)
    np.testing.assert_allclose(uv[0, 0], [256, 256])
    assert np.isnan(uv[0, 1]).all()
    with pytest.raises(ValueError, match="points_cam"):
        project_points(np.zeros((4, 2)), K)


def test_camera_validation():
    with pytest.raises(ValueError, match="Camera.K"):
        Camera(K=np.eye(2), R=np.eye(3), t=np.zeros(3), dist=np.zeros(5), width=10, height=10)
    with pytest.raises(ValueError, match="Camera.t"):
        Camera(K=np.eye(3), R=np.eye(3), t=[np.nan, 0, 0], dist=np.zeros(5), width=10, height=10)
    with pytest.raises(ValueError, match="width"):
        Camera(K=np.eye(3), R=np.eye(3), t=np.zeros(3), dist=np.zeros(5), width=0, height=10)


def test_map_transform_pixel_convention():
    t = MapTransform(stride=4)
    # Map pixel x covers input pixels 4x .. 4x+3: centre at 4x + 1.5.
    np.testing.assert_allclose(t.map_to_image([[0, 0], [3, 2]]), [[1.5, 1.5], [13.5, 9.5]])
    for px in range(4):
        assert map_pixel(t.image_to_map([[px, 0]]))[0, 0] == 0
    assert map_pixel(t.image_to_map([[4, 0]]))[0, 0] == 1


def test_map_transform_round_trip_through_letterbox():
    a = letterbox_affine((1920, 1080), (512, 512))
    t = MapTransform(affine=a, stride=4)
    pts = np.random.default_rng(0).uniform(0, 1000, size=(50, 2))
    np.testing.assert_allclose(t.map_to_image(t.image_to_map(pts)), pts, atol=1e-9)
    # The image corners land on the padded input's content edges.
    corners = np.array([[-0.5, -0.5], [1919.5, 1079.5]])
    inp = corners @ a[:, :2].T + a[:, 2]
    np.testing.assert_allclose(inp[:, 0], [-0.5, 511.5])
    np.testing.assert_allclose(inp[0, 1] + 0.5 + inp[1, 1] + 0.5, 512.0)


def test_map_transform_validation():
    with pytest.raises(ValueError, match="affine"):
        MapTransform(affine=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="stride"):
        MapTransform(stride=0)
    with pytest.raises(ValueError, match="letterbox"):
        letterbox_affine((0, 10), (5, 5))

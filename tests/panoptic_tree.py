"""Miniature CMU Panoptic folders in the real file formats, built from the two format fixtures."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "panoptic"
CALIBRATION = FIXTURES / "calibration_fragment_160224_haggling1_00_00.json"
BODY = FIXTURES / "body3DScene_README_example.json"


def fixture_camera() -> dict:
    """The fixture's HD camera block (00_00 of 160224_haggling1)."""
    return json.loads(CALIBRATION.read_text())["cameras"][0]


def fixture_body() -> np.ndarray:
    """The fixture body: ``[19, 4]`` (x, y, z world cm, confidence)."""
    return np.asarray(json.loads(BODY.read_text())["bodies"][0]["joints19"], dtype=np.float64).reshape(19, 4)


def front_camera(name: str, *, t=(20.0, 80.0, 450.0), R=None, resolution=(1920, 1080)) -> dict:
    """A camera block with the fixture's intrinsics and distortion, looking down +Z of the world
    (``R = I`` unless given): the fixture body stands about 4.5 m in front of it."""
    cam = copy.deepcopy(fixture_camera())
    cam.update(name=name, R=np.eye(3).tolist() if R is None else np.asarray(R).tolist(),
               t=[[float(v)] for v in t], resolution=list(resolution))
    return cam


def vga_camera() -> dict:
    """A VGA camera block (listed first in the calibration so HD cameras are not at their index)."""
    cam = copy.deepcopy(fixture_camera())
    cam.update(name="01_01", type="vga", resolution=[640, 480], panel=1, node=1)
    return cam


def write_calibration(seq_dir: Path, cameras: list[dict]) -> Path:
    path = seq_dir / f"calibration_{seq_dir.name}.json"
    seq_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"calibDataSource": seq_dir.name, "cameras": [vga_camera(), *cameras]}))
    return path


def write_skeleton(seq_dir: Path, frame: int, bodies: list[tuple[int, np.ndarray]], key: str = "joints19") -> Path:
    """Writes ``body3DScene_%08d.json``; ``bodies`` = [(id, joints [J, 4])], J = 19 or 15."""
    folder = seq_dir / ("hdPose3d_stage1_coco19" if key == "joints19" else "hdPose3d_stage1")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"body3DScene_{frame:08d}.json"
    doc = {"version": 0.7, "univTime": 1000.0 + frame, "fpsType": "hd_29_97",
           "bodies": [{"id": int(i), key: np.asarray(j, dtype=np.float64).ravel().tolist()} for i, j in bodies]}
    path.write_text(json.dumps(doc))
    return path


def shifted(body: np.ndarray, dx: float = 0.0, dz: float = 0.0) -> np.ndarray:
    out = body.copy()
    out[:, 0] += dx
    out[:, 2] += dz
    return out


def write_image(path: Path, size=(1920, 1080), value: int = 90) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    image = np.full((h, w, 3), value, np.uint8)
    image[:, : w // 2, 1] = 160
    assert cv2.imwrite(str(path), image)
    return path


def build_sequence(root: Path, name: str, frames, *, cameras=("00_16", "00_30", "00_00", "00_05"),
                   people: int = 3, key: str = "joints19", images: bool = False) -> Path:
    """A sequence whose skeleton files hold ``people`` fixture bodies side by side (ids 0..people-1),
    seen by front cameras; ``images`` also writes the HD frames of every camera."""
    seq_dir = Path(root) / name
    write_calibration(seq_dir, [front_camera(c) for c in cameras])
    body = fixture_body()
    if key == "joints15":
        body = body[:15].copy()
        body[1] = body[0] + [0.0, -25.0, 0.0, 0.0]   # a head top above the neck
    offsets = (np.arange(people) - (people - 1) / 2) * 90.0
    for f in frames:
        write_skeleton(seq_dir, f, [(i, shifted(body, dx)) for i, dx in enumerate(offsets)], key)
        if images:
            for c in cameras:
                write_image(seq_dir / "hdImgs" / c / f"{c}_{f:08d}.jpg")
    return seq_dir

"""CMU Panoptic file formats: calibration, skeleton files, and one body set seen by one camera.

* ``calibration_<seq>.json``: ``{"cameras": [{"name", "type", "resolution":
  [w, h], "K", "distCoef": [k1, k2, p1, p2, k3], "R", "t"}, ...]}``, HD,
  VGA and Kinect cameras together; cameras are looked up by ``name``
  (``"00_16"``), never by position. ``Xc = R Xw + t`` with ``t`` in
  centimetres (the world's unit).
* ``hdPose3d_stage1_coco19/body3DScene_%08d.json``: ``{"bodies": [{"id",
  "joints19": 19 x (x, y, z, confidence)}]}``, world centimetres, Y down.
  The older ``hdPose3d_stage1/`` holds ``joints15`` instead, whose joint 1
  is the head top; joints 0 and 2-14 are those of COCO19, and COCO19's
  nose (1) and eyes and ears (15-18) are then unknown.

:func:`bodies_to_scene` converts one frame's bodies into the camera frame
(``Xc_mm = 10 (R Xw_cm + t_cm)``; world and camera are both Y down, so no
axis changes) and projects them with the camera's distortion. A joint is
``valid3d`` when its confidence is above :data:`CONFIDENCE_THRESHOLD`;
``in_image`` when also in front of the camera, inside the distortion
model's monotonic range and projecting inside the image. Panoptic has no
occlusion labels, so ``visible`` equals ``in_image``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..geometry import Camera, project_points
from .frames import MAX_INDEX, MAX_RESOLUTION, DatasetError
from .scene import Scene

__all__ = ["CONFIDENCE_THRESHOLD", "JOINTS15_TO_COCO19", "PANOPTIC_HD_CAMERAS", "SKELETON_FORMATS", "Bodies",
           "bodies_to_scene", "load_calibration", "max_undistorted_radius2", "read_skeleton_file", "scene_camera"]

CONFIDENCE_THRESHOLD = 0.1
"""A joint's 3D position is known (``valid3d``) when its confidence is above this."""

PANOPTIC_HD_CAMERAS: tuple[str, ...] = tuple(f"00_{i:02d}" for i in range(31))
"""The 31 HD cameras of the Panoptic dome, ``00_00`` .. ``00_30``."""

SKELETON_FORMATS: tuple[tuple[str, str, int], ...] = (
    ("hdPose3d_stage1_coco19", "joints19", 19),
    ("hdPose3d_stage1", "joints15", 15),
)
"""``(folder, JSON key, joints)`` of the skeleton files, in order of preference."""

JOINTS15_TO_COCO19: tuple[int, ...] = (0, -1, *range(2, 15), -1, -1, -1, -1)
"""For each COCO19 joint, its index in a ``joints15`` file (-1: not in the file).
Joint 1 of ``joints15`` is the head top, not the nose, so it is not used."""


@dataclass(frozen=True, eq=False)
class Bodies:
    """The people of one skeleton file (``N`` bodies with non-negative ids).

    Attributes:
        ids: ``[N]`` int64 body ids.
        joints: ``[N, 19, 3]`` float64 world centimetres, COCO19 order
            (NaN for joints the file does not have).
        confidence: ``[N, 19]`` float64 (-1 for joints the file does not have).
    """

    ids: np.ndarray
    joints: np.ndarray
    confidence: np.ndarray

    @property
    def num_bodies(self) -> int:
        """``N``."""
        return int(self.ids.shape[0])


def _array(value, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected numbers of shape {list(shape)}") from None
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{what}: expected {int(np.prod(shape))} numbers (shape {list(shape)}), got shape "
                         f"{list(arr.shape)}")
    return arr.reshape(shape)


def _resolution(value) -> tuple[int, int]:
    size = _array(value, (2,), "resolution")
    if not (np.all(np.isfinite(size)) and np.all(size == np.round(size)) and np.all(size >= 1)
            and np.all(size <= MAX_RESOLUTION)):
        raise ValueError(f"resolution: expected [width, height], whole numbers in [1, {MAX_RESOLUTION}], got "
                         f"{[float(v) for v in size]}")
    return int(size[0]), int(size[1])


def _read_json(path: Path, what: str):
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a valid JSON {what} file ({str(exc).splitlines()[0]})") from None


def load_calibration(path: str | os.PathLike) -> dict[str, Camera]:
    """Reads a Panoptic ``calibration_<seq>.json``.

    Args:
        path: The calibration file.

    Returns:
        ``{camera name: Camera}`` for every camera of the file (HD, VGA,
        Kinect), in file order; ``Camera.t`` is in centimetres like the file.

    Raises:
        DatasetError: missing, truncated or malformed file, or a malformed or
            duplicated camera; the message names the file (and the camera).
    """
    path = Path(path)
    data = _read_json(path, "calibration")
    cams = data.get("cameras") if isinstance(data, dict) else None
    if not isinstance(cams, list):
        raise DatasetError(f"{path}: not a Panoptic calibration file (expected a 'cameras' list)")
    out: dict[str, Camera] = {}
    for i, cam in enumerate(cams):
        name = cam.get("name") if isinstance(cam, dict) else None
        if not isinstance(name, str):
            raise DatasetError(f"{path}: camera #{i} has no 'name'")
        if name in out:
            raise DatasetError(f"{path}: camera {name!r} appears twice")
        try:
            width, height = _resolution(cam["resolution"])
            out[name] = Camera(K=_array(cam["K"], (3, 3), "K"), R=_array(cam["R"], (3, 3), "R"),
                               t=_array(cam["t"], (3,), "t"), dist=_array(cam["distCoef"], (5,), "distCoef"),
                               width=width, height=height)
        except KeyError as exc:
            raise DatasetError(f"{path}: camera {name!r} lacks {exc}") from None
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{path}: camera {name!r}: {exc}") from None
    return out


def read_skeleton_file(path: str | os.PathLike, key: str = "joints19") -> Bodies:
    """Reads one ``body3DScene_%08d.json``; bodies with negative ids are skipped.

    Args:
        path: The skeleton file.
        key: ``"joints19"`` (COCO19 files) or ``"joints15"`` (older files,
            mapped with :data:`JOINTS15_TO_COCO19`).

    Returns:
        The file's :class:`Bodies` (possibly none).

    Raises:
        DatasetError: missing, truncated or malformed file, a body without an
            id or joints, or a joints array of the wrong length; names the file.
        ValueError: ``key`` is neither ``"joints19"`` nor ``"joints15"``.
    """
    if key not in ("joints19", "joints15"):
        raise ValueError(f"key: expected 'joints19' or 'joints15', got {key!r}")
    path = Path(path)
    n_file = 19 if key == "joints19" else 15
    data = _read_json(path, "skeleton")
    bodies = data.get("bodies") if isinstance(data, dict) else None
    if not isinstance(bodies, list):
        raise DatasetError(f"{path}: not a Panoptic skeleton file (expected a 'bodies' list)")
    ids, rows = [], []
    for i, body in enumerate(bodies):
        if not isinstance(body, dict) or key not in body or "id" not in body:
            raise DatasetError(f"{path}: body #{i} lacks 'id' or '{key}'")
        body_id = body["id"]
        if (isinstance(body_id, bool) or not isinstance(body_id, (int, float))
                or (isinstance(body_id, float) and not math.isfinite(body_id)) or body_id != int(body_id)):
            raise DatasetError(f"{path}: body #{i} has a non-integer id {body_id!r}")
        if body_id < 0:
            continue
        if body_id > MAX_INDEX:
            raise DatasetError(f"{path}: body #{i} has an id out of range ({body_id!r} > {MAX_INDEX})")
        values = body[key]
        if not isinstance(values, list) or len(values) != 4 * n_file:
            got = len(values) if isinstance(values, list) else type(values).__name__
            raise DatasetError(f"{path}: body #{i} '{key}' has {got} values, expected {4 * n_file} "
                               f"({n_file} x (x, y, z, confidence))")
        try:
            rows.append(np.asarray(values, dtype=np.float64).reshape(n_file, 4))
        except (TypeError, ValueError):
            raise DatasetError(f"{path}: body #{i} '{key}' holds non-numbers") from None
        ids.append(int(body_id))
    raw = np.stack(rows) if rows else np.zeros((0, n_file, 4))  # [N, n_file, 4]
    if not np.all(np.isfinite(raw)):
        raise DatasetError(f"{path}: non-finite joint values")
    if n_file == 19:
        joints, conf = raw[..., :3].copy(), raw[..., 3].copy()
    else:
        src = np.asarray(JOINTS15_TO_COCO19)
        have = src >= 0
        joints = np.full((len(ids), 19, 3), np.nan)
        conf = np.full((len(ids), 19), -1.0)
        joints[:, have] = raw[:, src[have], :3]
        conf[:, have] = raw[:, src[have], 3]
    return Bodies(ids=np.asarray(ids, dtype=np.int64), joints=joints, confidence=conf)


def max_undistorted_radius2(dist: np.ndarray) -> float:
    """Largest squared normalised radius ``r^2`` over which the radial distortion is monotonic.

    ``r (1 + k1 r^2 + k2 r^4 + k3 r^6)`` folds back where its derivative
    ``1 + 3 k1 r^2 + 5 k2 r^4 + 7 k3 r^6`` first reaches zero: beyond it, a
    point far outside the field of view can land inside the image. Returns
    ``inf`` when the derivative stays positive.
    """
    k1, k2, _, _, k3 = (float(v) for v in np.asarray(dist, dtype=np.float64))
    coeffs = np.trim_zeros(np.array([7.0 * k3, 5.0 * k2, 3.0 * k1, 1.0]), "f")
    roots = np.roots(coeffs) if coeffs.size > 1 else np.zeros(0)
    real = roots[(np.abs(roots.imag) < 1e-12) & (roots.real > 0)].real
    return float(real.min()) if real.size else float("inf")


def bodies_to_scene(bodies: Bodies, camera: Camera, r2_max: float | None = None) -> Scene:
    """One frame's bodies as seen by ``camera`` (see the module docstring for the rules).

    Args:
        bodies: The frame's bodies (world cm).
        camera: The Panoptic camera (``t`` in cm).
        r2_max: :func:`max_undistorted_radius2` of the camera (computed when None).

    Returns:
        A :class:`Scene`: ``joints3d [N, 19, 3]`` camera-frame mm, ``joints2d
        [N, 19, 2]`` distorted image pixels (NaN behind the camera or where
        the file has no joint), ``valid3d``, ``in_image``, ``visible`` (=
        ``in_image``) ``[N, 19]``; its camera is :func:`scene_camera` of
        ``camera``.
    """
    if r2_max is None:
        r2_max = max_undistorted_radius2(camera.dist)
    return _to_scene(bodies, camera, r2_max, scene_camera(camera))


def scene_camera(camera: Camera) -> Camera:
    """The camera of the scenes of ``camera``: its intrinsics, distortion and
    image size, with ``R = I`` and ``t = 0`` (scene joints are camera-frame)."""
    return Camera(K=camera.K, R=np.eye(3), t=np.zeros(3), dist=camera.dist, width=camera.width,
                  height=camera.height)


def _to_scene(bodies: Bodies, camera: Camera, r2_max: float, out_camera: Camera) -> Scene:
    joints3d = (bodies.joints @ camera.R.T + camera.t) * 10.0  # [N, 19, 3] camera-frame mm
    with np.errstate(invalid="ignore"):
        valid3d = bodies.confidence > CONFIDENCE_THRESHOLD  # [N, 19]
    joints2d = project_points(joints3d, camera.K, camera.dist)  # [N, 19, 2], NaN where z <= 0
    z = joints3d[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = (joints3d[..., 0] ** 2 + joints3d[..., 1] ** 2) / (z * z)
        in_front = (z > 0) & (r2 < r2_max)
    in_image = valid3d & in_front & camera.in_image(joints2d)
    return Scene(camera=out_camera, joints3d=joints3d, joints2d=joints2d, in_image=in_image,
                 visible=in_image.copy(), valid3d=valid3d)

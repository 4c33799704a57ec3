"""Human3.6M from the preprocessed JSON annotations of Moon et al. (3DMPPE).

Layout (the annotation files of the 3DMPPE RootNet/PoseNet releases, also used
by I2L-MeshNet and its successors; one set of three files per subject ``S``)::

    <root>/annotations/Human36M_subject{S}_data.json
    <root>/annotations/Human36M_subject{S}_camera.json
    <root>/annotations/Human36M_subject{S}_joint_3d.json
    <root>/images/s_09_act_02_subact_01_ca_01/s_09_act_02_subact_01_ca_01_000001.jpg

Fields read:

* ``_data.json``: COCO style; ``images[]`` entries with ``file_name`` (under
  ``<root>/images``), ``width``, ``height``, ``subject``, ``action_idx``
  (2..16), ``subaction_idx``, ``cam_idx`` and ``frame_idx`` (0-based; the
  image file number is ``frame_idx + 1``). Its ``annotations`` (a box and
  in-image flags per image) are not used: the 2D joints and the flags are
  recomputed from the 3D joints and the camera, which is what they were made from.
* ``_camera.json``: per camera id (``"1"`` .. ``"4"``) ``R`` (3x3), ``t``
  (3, mm), ``f`` (fx, fy) and ``c`` (cx, cy) in pixels. No distortion.
* ``_joint_3d.json``: ``[str(action_idx)][str(subaction_idx)][str(frame_idx)]``
  -> 17 world joints ``[x, y, z]`` in mm (world Z points up), shared by the
  four cameras.

Camera convention: ``Xc = R Xw + t`` (:meth:`ssmp3d.geometry.Camera.world_to_camera`).
The original Human3.6M metadata gives the camera centre ``C`` with ``Xc = R (Xw
- C)``; the released JSON stores ``t = -R C`` instead (tested against the
published centre of S1's camera 1). Pixels: ``u = fx X / Z + cx``,
``v = fy Y / Z + cy``.

Joint order of the files: Pelvis, R_Hip, R_Knee, R_Ankle, L_Hip, L_Knee,
L_Ankle, Torso, Neck, Nose, Head, L_Shoulder, L_Elbow, L_Wrist, R_Shoulder,
R_Elbow, R_Wrist (:data:`SOURCE_JOINTS`), mapped by name onto
:data:`ssmp3d.skeleton.H36M17` through :data:`JOINT_NAMES` (Torso -> spine,
Neck -> thorax; the rest keep their names). Each frame holds one person whose
joints all have valid 3D; ``visible`` equals ``in_image``.

Protocol (the one of the paper's Human3.6M figure and of 3DMPPE's "protocol
2"): subjects 1, 5, 6, 7, 8 train and 9, 11 test; results are grouped by
the 15 actions of :data:`ACTIONS` (``action_idx - 2`` indexes it). Frames
are sub-sampled by ``frame_idx % every == 0``; the usual choices are every
5th frame for training and every 64th for testing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..geometry import Camera
from ..skeleton import H36M17
from .frames import MAX_INDEX, MAX_RESOLUTION, DatasetError, Frame, FrameDataset
from .scene import Scene

__all__ = ["ACTIONS", "JOINT_NAMES", "JOINT_PERMUTATION", "SOURCE_JOINTS", "SPLITS", "TEST_SUBJECTS",
           "TRAIN_SUBJECTS", "Human36MDataset", "camera_from_json"]

ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases", "Sitting",
           "SittingDown", "Smoking", "Photo", "Waiting", "Walking", "WalkDog", "WalkTogether")
"""The 15 actions; ``action_idx`` 2..16 of the layout is ``ACTIONS[action_idx - 2]``."""
FIRST_ACTION = 2
"""``action_idx`` of :data:`ACTIONS` ``[0]`` (index 1 is the unused "_ALL" of the original release)."""
TRAIN_SUBJECTS = (1, 5, 6, 7, 8)
TEST_SUBJECTS = (9, 11)
SPLITS = {"train": TRAIN_SUBJECTS, "test": TEST_SUBJECTS}

SOURCE_JOINTS = ("Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Nose",
                 "Head", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist")
"""Joint order of ``Human36M_subject{S}_joint_3d.json``."""
JOINT_NAMES = {"Pelvis": "pelvis", "R_Hip": "r_hip", "R_Knee": "r_knee", "R_Ankle": "r_ankle", "L_Hip": "l_hip",
               "L_Knee": "l_knee", "L_Ankle": "l_ankle", "Torso": "spine", "Neck": "thorax", "Nose": "nose",
               "Head": "head", "L_Shoulder": "l_shoulder", "L_Elbow": "l_elbow", "L_Wrist": "l_wrist",
               "R_Shoulder": "r_shoulder", "R_Elbow": "r_elbow", "R_Wrist": "r_wrist"}
"""Source joint name -> :data:`~ssmp3d.skeleton.H36M17` joint name."""
JOINT_PERMUTATION = tuple(SOURCE_JOINTS.index(next(s for s, d in JOINT_NAMES.items() if d == name))
                          for name in H36M17.joints)
"""``h36m17_joints = source_joints[JOINT_PERMUTATION]`` (the identity: the orders agree)."""


def _load_json(path: Path):
    """The parsed JSON file; :class:`DatasetError` naming it when missing, truncated or malformed."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such annotation file")
    try:
        with path.open("rb") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: truncated or malformed JSON ({exc})") from None
    except OSError as exc:
        raise DatasetError(f"{path}: unreadable ({exc.strerror or exc})") from None


def _array(value, shape: tuple[int, ...], what: str, path: Path) -> np.ndarray:
    """``value`` as a finite float64 array of ``shape``, or a :class:`DatasetError`."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        a = None
    if a is None or a.shape != shape or not np.all(np.isfinite(a)):
        raise DatasetError(f"{path}: {what}: expected finite numbers of shape {list(shape)}")
    return a


def camera_from_json(entry, width: int, height: int, path: str | os.PathLike = "camera.json") -> Camera:
    """A :class:`~ssmp3d.geometry.Camera` from one ``_camera.json`` entry.

    Args:
        entry: ``{"R": 3x3, "t": 3 (mm), "f": [fx, fy], "c": [cx, cy]}``.
        width, height: Image size in pixels.
        path: The file (named in errors).

    Returns:
        The camera: ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``, ``Xc = R Xw + t``, no distortion.

    Raises:
        DatasetError: a missing or malformed field.
    """
    path = Path(path)
    if not isinstance(entry, dict) or not {"R", "t", "f", "c"} <= entry.keys():
        raise DatasetError(f"{path}: a camera entry needs 'R', 't', 'f' and 'c'")
    rot = _array(entry["R"], (3, 3), "R", path)
    if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-6):
        raise DatasetError(f"{path}: R is not a rotation matrix")
    t = _array(entry["t"], (3,), "t", path)
    f = _array(entry["f"], (2,), "f", path)
    c = _array(entry["c"], (2,), "c", path)
    if not np.all(f > 0):
        raise DatasetError(f"{path}: f: focal lengths must be > 0")
    K = np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])
    return Camera(K=K, R=rot, t=t, dist=np.zeros(5), width=width, height=height)


_IMAGE_INTS = ("width", "height", "subject", "action_idx", "subaction_idx", "cam_idx", "frame_idx")


def _image_records(data, path: Path, subject: int) -> list[tuple]:
    """``(subject, action, subaction, cam, frame, width, height, file_name)`` of every image entry."""
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise DatasetError(f"{path}: expected a JSON object with an 'images' list")
    out = []
    for i, im in enumerate(images):
        if not isinstance(im, dict):
            raise DatasetError(f"{path}: images[{i}]: expected an object")
        values = []
        for key in _IMAGE_INTS:
            v = im.get(key)
            if isinstance(v, bool) or not isinstance(v, int):
                raise DatasetError(f"{path}: images[{i}].{key}: expected an int, got {v!r}")
            values.append(v)
        w, h, subj, act, sub, cam, frame = values
        name = im.get("file_name")
        if not isinstance(name, str) or not name:
            raise DatasetError(f"{path}: images[{i}].file_name: expected a path, got {name!r}")
        if not (1 <= w <= MAX_RESOLUTION and 1 <= h <= MAX_RESOLUTION):
            raise DatasetError(f"{path}: images[{i}]: width and height must be in [1, {MAX_RESOLUTION}], "
                               f"got {w} x {h}")
        if not 0 <= frame <= MAX_INDEX:
            raise DatasetError(f"{path}: images[{i}].frame_idx: expected an int in [0, {MAX_INDEX}], got {frame}")
        for key, v in (("subaction_idx", sub), ("cam_idx", cam)):
            if abs(v) > MAX_INDEX:
                raise DatasetError(f"{path}: images[{i}].{key}: out of range ({v})")
        if subj != subject:
            raise DatasetError(f"{path}: images[{i}].subject is {subj}, expected {subject}")
        if not FIRST_ACTION <= act < FIRST_ACTION + len(ACTIONS):
            raise DatasetError(f"{path}: images[{i}].action_idx: expected 2..16, got {act}")
        out.append((subj, act, sub, cam, frame, w, h, name))
    return out


def _evenly(n: int, m: int | None) -> np.ndarray:
    """``min(n, m)`` evenly spaced indices of ``range(n)`` (all when ``m`` is None)."""
    if m is None or m >= n:
        return np.arange(n)
    return (np.arange(m) * n) // m


class _LazyFrames(Sequence):
    """The dataset's frames, built on access from its compact arrays."""

    def __init__(self, owner: Human36MDataset) -> None:
        self._owner = owner

    def __len__(self) -> int:
        return len(self._owner.frame_ids)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._owner._frame(j) for j in range(*i.indices(len(self)))]
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"index: expected an int or a slice, got {type(i).__name__}")
        if not -n <= i < n:
            raise IndexError(f"frame {i} out of range for {n} frames")
        return self._owner._frame(int(i) % n)


def _check_positive(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {v!r}")
    if v < 1:
        raise ValueError(f"{name}: must be >= 1, got {v}")
    return int(v)


class Human36MDataset(FrameDataset):
    """Human3.6M frames of one split (module notes: layout, cameras, joints, protocol).

    Frames are ordered by subject, action, sub-action, camera and frame
    number. The JSON files are read once, at construction; images are read
    by :meth:`image` on demand.

    Args:
        root: The dataset folder (holding ``annotations/`` and ``images/``).
        split: ``"train"`` (subjects 1, 5, 6, 7, 8) or ``"test"`` (9, 11).
        subjects: Subject numbers to load instead of the split's.
        every: Keep frames with ``frame_idx % every == 0`` (5 for training
            and 64 for testing are the usual choices).
        max_frames: Keep at most this many frames, evenly spaced over the
            sorted frames left by ``every``.

    Attributes:
        subject_ids, action_ids, subaction_ids, camera_ids, frame_ids:
            ``[F]`` int64 per frame (``action_ids`` are ``action_idx``, 2..16).

    Raises:
        ValueError, TypeError: a bad ``split``, ``subjects``, ``every`` or ``max_frames``.
        DatasetError: a missing, truncated or malformed annotation file
            (named), or a frame without its camera or 3D joints.
    """

    name = "h36m"
    skeleton = H36M17
    group_label = "action"

    def __init__(self, root: str | os.PathLike, split: str = "test", *, subjects: Iterable[int] | None = None,
                 every: int = 1, max_frames: int | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {sorted(SPLITS)}, got {split!r}")
        every = _check_positive(every, "every")
        max_frames = None if max_frames is None else _check_positive(max_frames, "max_frames")
        subjects = SPLITS[split] if subjects is None else tuple(subjects)
        if not subjects or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                               for s in subjects) or len(set(subjects)) != len(subjects):
            raise ValueError(f"subjects: expected distinct positive subject numbers, got {subjects!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: no such dataset directory")
        self.split, self.every, self.subjects = split, every, tuple(int(s) for s in subjects)
        self._index(max_frames)
        self.frames = _LazyFrames(self)

    def _index(self, max_frames: int | None) -> None:
        records, cameras, world_rows, world_of = [], {}, [], []
        for s in self.subjects:
            ann = self.root / "annotations"
            data_path = ann / f"Human36M_subject{s}_data.json"
            cam_path = ann / f"Human36M_subject{s}_camera.json"
            joint_path = ann / f"Human36M_subject{s}_joint_3d.json"
            recs = [r for r in _image_records(_load_json(data_path), data_path, s) if r[4] % self.every == 0]
            cams = _load_json(cam_path)
            joints = _load_json(joint_path)
            if not isinstance(cams, dict):
                raise DatasetError(f"{cam_path}: expected a JSON object of cameras")
            if not isinstance(joints, dict):
                raise DatasetError(f"{joint_path}: expected a JSON object of actions")
            recs.sort()
            keep = {}
            for r in recs:
                _, act, sub, cam, frame, w, h, _ = r
                if (s, cam, w, h) not in cameras:
                    if str(cam) not in cams:
                        raise DatasetError(f"{cam_path}: no camera {cam} (used by {data_path.name})")
                    cameras[(s, cam, w, h)] = camera_from_json(cams[str(cam)], w, h, cam_path)
                key = (act, sub, frame)
                if key not in keep:
                    try:
                        value = joints[str(act)][str(sub)][str(frame)]
                    except (KeyError, TypeError):
                        raise DatasetError(f"{joint_path}: no joints for action {act}, subaction {sub}, "
                                           f"frame {frame} (listed in {data_path.name})") from None
                    keep[key] = len(world_rows)
                    world_rows.append(_array(value, (17, 3), f"joints of action {act}, subaction {sub}, "
                                                             f"frame {frame}", joint_path))
                world_of.append(keep[key])
                records.append(r)
        pick = _evenly(len(records), max_frames)
        cols = list(zip(*[records[i] for i in pick])) if len(pick) else [()] * 8
        self.subject_ids, self.action_ids, self.subaction_ids, self.camera_ids, self.frame_ids = (
            np.asarray(c, dtype=np.int64) for c in cols[:5])
        self._sizes = np.asarray(list(zip(cols[5], cols[6])), dtype=np.int64).reshape(-1, 2)
        self._files = list(cols[7])
        world = np.stack(world_rows)[:, list(JOINT_PERMUTATION)] if world_rows else np.zeros((0, 17, 3))
        self._world = world[np.asarray(world_of, dtype=np.int64)[pick]] if len(pick) else world[:0]
        self._cameras = cameras

    def camera(self, i: int) -> Camera:
        """The camera of frame ``i`` (image size included)."""
        w, h = (int(v) for v in self._sizes[i])
        return self._cameras[(int(self.subject_ids[i]), int(self.camera_ids[i]), w, h)]

    def groups(self) -> list[str]:
        """The actions present, in order of first appearance (from the index; no frame is built)."""
        return [ACTIONS[a - FIRST_ACTION] for a in dict.fromkeys(self.action_ids.tolist())]

    def world_joints(self, i: int) -> np.ndarray:
        """``[17, 3]`` world-frame joints (mm, H36M17 order) of frame ``i``."""
        return self._world[i].copy()

    def _frame(self, i: int) -> Frame:
        cam = self.camera(i)
        joints3d = cam.world_to_camera(self._world[i])[None]  # [1, 17, 3] camera mm
        joints2d = cam.project(joints3d)  # [1, 17, 2] NaN behind the camera
        in_image = cam.in_image(joints2d) & (joints3d[..., 2] > 0)
        scene = Scene(camera=cam, joints3d=joints3d, joints2d=joints2d, in_image=in_image,
                      visible=in_image.copy(), valid3d=np.ones(in_image.shape, dtype=bool))
        name = self._files[i]
        return Frame(key=Path(name).stem, image_path=self.root / "images" / name, scene=scene,
                     group=ACTIONS[int(self.action_ids[i]) - FIRST_ACTION])

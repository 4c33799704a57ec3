"""CMU Panoptic as a :class:`~ssmp3d.data.frames.FrameDataset`, with the paper's Panoptic protocol.

Layout of ``root`` (the panoptic-toolbox download, DESIGN.md section 9)::

    <root>/<seq>/calibration_<seq>.json
    <root>/<seq>/hdPose3d_stage1_coco19/body3DScene_%08d.json   (or hdPose3d_stage1/ with joints15)
    <root>/<seq>/hdImgs/<cam>/<cam>_%08d.jpg                    (frame index = skeleton file index)

The protocol (paper section 4, after Zanfir et al. 2018): test on the HD
cameras ``00_16`` and ``00_30``, train on the other HD cameras, four
scenarios (haggling, mafia, ultimatum, pizza), MPJPE over joints 0 and 2-14.
The paper names neither its sequences nor how its 9,600 test frames were
sampled; :data:`PANOPTIC_SEQUENCES` is the one sequence per scenario that
public evaluation code of this protocol uses (README, "Real datasets").

A frame is listed when its skeleton file holds at least one body with a
non-negative id. Each skeleton file is parsed once, when the index is built;
scenes are made from the kept arrays when a frame is asked for, so the
index of the 29 training cameras stays small. Images are read only by
:meth:`PanopticDataset.image`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..eval.metrics import PANOPTIC_PROTOCOL_JOINTS
from ..geometry import Camera
from ..skeleton import PANOPTIC19, Skeleton
from .frames import MAX_INDEX, DatasetError, Frame, FrameDataset
from .panoptic_files import (
    PANOPTIC_HD_CAMERAS,
    SKELETON_FORMATS,
    Bodies,
    _to_scene,
    load_calibration,
    max_undistorted_radius2,
    read_skeleton_file,
    scene_camera,
)

__all__ = ["PANOPTIC_SCENARIOS", "PANOPTIC_SEQUENCES", "PANOPTIC_TEST_CAMERAS", "PANOPTIC_TRAIN_CAMERAS",
           "PanopticDataset", "annotated_frames", "image_path", "load_calibration", "sample_positions",
           "scenario_of", "skeleton_files", "split_cameras"]

PANOPTIC_TEST_CAMERAS: tuple[str, ...] = ("00_16", "00_30")
"""HD cameras of the test split (the paper's cameras 16 and 30)."""
PANOPTIC_TRAIN_CAMERAS: tuple[str, ...] = tuple(c for c in PANOPTIC_HD_CAMERAS if c not in PANOPTIC_TEST_CAMERAS)
"""The other 29 HD cameras (the paper says 28; see the README)."""
PANOPTIC_SCENARIOS: tuple[str, ...] = ("haggling", "mafia", "ultimatum", "pizza")
"""Scenarios of the protocol, in the paper's Table 1 order."""
PANOPTIC_SEQUENCES: tuple[str, ...] = ("160422_haggling1", "160422_mafia2", "160422_ultimatum1", "160906_pizza1")
"""Default sequences of both splits: one per scenario, Table 1 order."""

_SKELETON_NAME = re.compile(r"body3DScene_(\d+)\.json")


def scenario_of(sequence: str) -> str:
    """The scenario of a sequence name: ``"160224_haggling1"`` -> ``"haggling"``,
    ``"170221_haggling_b1"`` -> ``"haggling"`` (date prefix, trailing digits and
    suffixes dropped, lower case); a name without letters is returned as is."""
    m = re.match(r"(?:\d+_)?([A-Za-z]+)", sequence)
    return m.group(1).lower() if m else sequence


def split_cameras(split: str) -> tuple[str, ...]:
    """The HD cameras of ``split`` (``"test"`` or ``"train"``)."""
    if split == "test":
        return PANOPTIC_TEST_CAMERAS
    if split == "train":
        return PANOPTIC_TRAIN_CAMERAS
    raise ValueError(f"split: expected 'test' or 'train', got {split!r}")


def sample_positions(n: int, every: int = 1, max_frames: int | None = None) -> np.ndarray:
    """Positions kept out of ``n`` frames: every ``every``-th, then at most
    ``max_frames`` of those, evenly spaced (the first always kept).

    Returns:
        ``[M]`` int64 increasing positions in ``[0, n)``.
    """
    kept = np.arange(0, n, every, dtype=np.int64)
    if max_frames is not None and kept.size > max_frames:
        kept = kept[(np.arange(max_frames, dtype=np.int64) * kept.size) // max_frames]
    return kept


def skeleton_files(sequence_dir: str | os.PathLike) -> tuple[str, dict[int, Path]]:
    """The skeleton files of a sequence: ``(JSON key, {frame index: path})``.

    Uses ``hdPose3d_stage1_coco19/`` when present, else ``hdPose3d_stage1/``
    (``joints15``). Files not named ``body3DScene_<digits>.json`` are ignored.

    Raises:
        DatasetError: neither folder exists (names the sequence folder), or a
            file's frame number does not fit in int64 (names the file).
    """
    sequence_dir = Path(sequence_dir)
    for folder, key, _ in SKELETON_FORMATS:
        d = sequence_dir / folder
        if d.is_dir():
            files = {}
            with os.scandir(d) as it:
                for entry in it:
                    m = _SKELETON_NAME.fullmatch(entry.name)
                    if m:
                        if int(m.group(1)) > MAX_INDEX:
                            raise DatasetError(f"{entry.path}: frame number out of range (more than {MAX_INDEX})")
                        files[int(m.group(1))] = Path(entry.path)
            return key, dict(sorted(files.items()))
    raise DatasetError(f"{sequence_dir}: no skeleton folder ({' or '.join(f for f, _, _ in SKELETON_FORMATS)})")


def annotated_frames(sequence_dir: str | os.PathLike) -> tuple[np.ndarray, list[Bodies], int]:
    """Parses every skeleton file of a sequence once.

    Returns:
        ``(frames [F] int64, bodies, empty)``: the frame indices whose file
        holds at least one body (ascending), their :class:`Bodies`, and how
        many files held none.

    Raises:
        DatasetError: a missing skeleton folder or a malformed file (named).
    """
    key, files = skeleton_files(sequence_dir)
    frames, bodies, empty = [], [], 0
    for index, path in files.items():
        b = read_skeleton_file(path, key)
        if b.num_bodies == 0:
            empty += 1
            continue
        frames.append(index)
        bodies.append(b)
    return np.asarray(frames, dtype=np.int64), bodies, empty


def image_path(root: str | os.PathLike, sequence: str, camera: str, frame: int) -> Path:
    """``<root>/<seq>/hdImgs/<cam>/<cam>_%08d.jpg``."""
    return Path(root) / sequence / "hdImgs" / camera / f"{camera}_{frame:08d}.jpg"


@dataclass(frozen=True, eq=False)
class _Sequence:
    """One sequence's kept frames and cameras; bodies concatenated over frames."""

    name: str
    scenario: str
    frames: np.ndarray  # [F] int64 frame indices
    offsets: np.ndarray  # [F + 1] int64 into ids / joints / confidence
    ids: np.ndarray  # [B] int64
    joints: np.ndarray  # [B, 19, 3] world cm
    confidence: np.ndarray  # [B, 19]
    cameras: tuple[tuple[str, Camera, Camera, float], ...]  # (name, camera, scene camera, r2_max)

    def bodies(self, pos: int) -> Bodies:
        a, b = self.offsets[pos], self.offsets[pos + 1]
        return Bodies(ids=self.ids[a:b], joints=self.joints[a:b], confidence=self.confidence[a:b])


class _FrameIndex(Sequence):
    """The frames of a :class:`PanopticDataset`, made on access from compact arrays."""

    def __init__(self, root: Path, sequences: list[_Sequence], entries: np.ndarray) -> None:
        self._root, self._sequences, self._entries = root, sequences, entries  # entries [M, 3]: seq, cam, pos

    def __len__(self) -> int:
        return int(self._entries.shape[0])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"frame index {i} out of range for {n} frames")
        s, c, pos = (int(v) for v in self._entries[i])
        seq = self._sequences[s]
        cam_name, camera, out_camera, r2_max = seq.cameras[c]
        frame = int(seq.frames[pos])
        return Frame(key=f"{seq.name}/{cam_name}/{frame:08d}",
                     image_path=image_path(self._root, seq.name, cam_name, frame),
                     scene=_to_scene(seq.bodies(pos), camera, r2_max, out_camera), group=seq.scenario)

    def groups(self) -> list[str]:
        return list(dict.fromkeys(self._sequences[int(s)].scenario for s in self._entries[:, 0]))


def _names(value, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v]
    if not isinstance(value, Sequence) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{what}: expected a non-empty list of names, got {value!r}")
    return tuple(dict.fromkeys(value))


def _positive(value, what: str, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what}: expected an int >= 1{' or None' if allow_none else ''}, got {value!r}")
    return int(value)


class PanopticDataset(FrameDataset):
    """CMU Panoptic frames of one split: every (sequence, camera, kept frame).

    Args:
        root: The dataset folder (one sub-folder per sequence).
        split: ``"test"`` (cameras ``00_16``, ``00_30``) or ``"train"`` (the
            other HD cameras); only picks the default cameras.
        sequences: Sequence names (default :data:`PANOPTIC_SEQUENCES`).
        cameras: Camera names, overriding the split's.
        every: Keep every ``every``-th annotated frame of each sequence.
        max_frames: Then at most this many per sequence and camera, evenly spaced.
        skeleton: Must be :data:`~ssmp3d.skeleton.PANOPTIC19`.

    Frames are ordered by sequence, camera, frame index; ``group`` is the
    scenario (:func:`scenario_of`). :attr:`stats` gives per sequence the
    skeleton files read, those without bodies, and the frames kept.

    Raises:
        DatasetError: a missing root or sequence folder, a missing or
            malformed calibration or skeleton file, or a camera absent from
            a calibration; the message names the file.
        ValueError: bad arguments.
    """

    name = "panoptic"
    group_label = "scenario"
    eval_joints = PANOPTIC_PROTOCOL_JOINTS

    def __init__(self, root: str | os.PathLike, split: str = "test", *, sequences: Sequence[str] | None = None,
                 cameras: Sequence[str] | None = None, every: int = 1, max_frames: int | None = None,
                 skeleton: Skeleton = PANOPTIC19) -> None:
        if skeleton != PANOPTIC19:
            raise ValueError(f"skeleton: Panoptic frames use PANOPTIC19, got {getattr(skeleton, 'name', skeleton)!r}")
        self.skeleton = skeleton
        self.root = Path(root)
        self.split = split
        self.cameras = split_cameras(split) if cameras is None else _names(cameras, "cameras")
        self.sequences = PANOPTIC_SEQUENCES if sequences is None else _names(sequences, "sequences")
        self.every = _positive(every, "every")
        self.max_frames = _positive(max_frames, "max_frames", allow_none=True)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: no such dataset folder")
        missing = [s for s in self.sequences if not (self.root / s).is_dir()]
        if missing:
            raise DatasetError(f"{self.root}: missing sequence folder(s) {', '.join(missing)} "
                               f"(pass sequences= to use others)")
        seqs: list[_Sequence] = []
        entries: list[np.ndarray] = []
        self.stats: dict[str, dict[str, int]] = {}
        for s, name in enumerate(self.sequences):
            seq = self._load_sequence(name)
            seqs.append(seq)
            kept = sample_positions(len(seq.frames), self.every, self.max_frames)
            for c in range(len(seq.cameras)):
                entries.append(np.stack([np.full_like(kept, s), np.full_like(kept, c), kept], axis=1))
            self.stats[name]["frames_kept"] = int(kept.size)
        self.frames = _FrameIndex(self.root, seqs, np.concatenate(entries) if entries else np.zeros((0, 3), np.int64))

    def _load_sequence(self, name: str) -> _Sequence:
        seq_dir = self.root / name
        calib_path = seq_dir / f"calibration_{name}.json"
        calibration = load_calibration(calib_path)
        absent = [c for c in self.cameras if c not in calibration]
        if absent:
            raise DatasetError(f"{calib_path}: no camera named {', '.join(absent)}")
        cams = tuple((c, calibration[c], scene_camera(calibration[c]), max_undistorted_radius2(calibration[c].dist))
                     for c in self.cameras)
        frames, bodies, empty = annotated_frames(seq_dir)
        counts = np.array([b.num_bodies for b in bodies], dtype=np.int64)
        self.stats[name] = {"skeleton_files": int(frames.size + empty), "without_bodies": int(empty)}
        cat = (lambda attr, shape: np.concatenate([getattr(b, attr) for b in bodies]) if bodies
               else np.zeros(shape))
        return _Sequence(name=name, scenario=scenario_of(name), frames=frames,
                         offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                         ids=cat("ids", (0,)).astype(np.int64), joints=cat("joints", (0, 19, 3)),
                         confidence=cat("confidence", (0, 19)), cameras=cams)

    def groups(self) -> list[str]:
        """The scenarios present, in order of first appearance."""
        return self.frames.groups()

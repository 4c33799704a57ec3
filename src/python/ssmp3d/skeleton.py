"""Joint sets: names, kinematic tree, ORPM limbs, torso joints and flip pairs.

A :class:`Skeleton` is plain immutable data; everything that depends on the
joint set (targets, decoding, evaluation, flipping) takes one explicitly.
Two are defined: :data:`PANOPTIC19` (CMU Panoptic COCO19, the default) and
:data:`H36M17` (Human3.6M, 17 joints).

ORPM read-out (DESIGN.md section 6.4) uses, for each joint ``j``, an ordered
*read-out chain* of joint locations: ``j`` itself, then the joints of ``j``'s
limb walking from the extremity toward the root, then the neck, then the
pelvis (duplicates dropped). The set of locations in that chain is where the
encoder writes map ``j`` (section 5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Skeleton:
    """An immutable joint set.

    Attributes:
        name: Short identifier (``"panoptic19"``, ``"h36m17"``).
        joints: Joint names, index order.
        parents: Parent index of each joint in the kinematic tree; ``-1`` for
            the root (the pelvis).
        limbs: ORPM limbs, each ordered extremity -> root.
        limb_names: One name per limb.
        neck: Index of the neck (seeds people in grouping, torso read-out).
        pelvis: Index of the pelvis (root; torso read-out).
        flip_pairs: Left/right joint index pairs swapped by a horizontal flip.
        mean_pose_mm: Default mean pose ``[K][3]`` (camera axes: x right,
            y down, z forward; pelvis-relative, millimetres). Its bone vectors
            are the decoder's last read-out fallback unless a dataset mean is
            supplied.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    limbs: tuple[tuple[int, ...], ...]
    limb_names: tuple[str, ...]
    neck: int
    pelvis: int
    flip_pairs: tuple[tuple[int, int], ...]
    mean_pose_mm: tuple[tuple[float, float, float], ...] = field(repr=False)

    def __post_init__(self) -> None:
        k = len(self.joints)
        if len(self.parents) != k or len(self.mean_pose_mm) != k:
            raise ValueError(f"skeleton {self.name!r}: parents/mean_pose_mm must have {k} entries")
        roots = [j for j, p in enumerate(self.parents) if p < 0]
        if roots != [self.pelvis]:
            raise ValueError(f"skeleton {self.name!r}: the pelvis must be the only root, got {roots}")
        order = self.topological_order
        if len(order) != k:
            raise ValueError(f"skeleton {self.name!r}: parents do not form a tree")
        seen: set[int] = set()
        for limb in self.limbs:
            for j in limb:
                if j in seen or j in (self.neck, self.pelvis) or not 0 <= j < k:
                    raise ValueError(f"skeleton {self.name!r}: bad limb joint {j}")
                seen.add(j)

    @property
    def num_joints(self) -> int:
        """Number of joints ``K``."""
        return len(self.joints)

    @property
    def torso(self) -> tuple[int, int]:
        """The torso joints ``(neck, pelvis)``."""
        return (self.neck, self.pelvis)

    @property
    def topological_order(self) -> tuple[int, ...]:
        """Joint indices with every parent before its children (root first)."""
        children: dict[int, list[int]] = {j: [] for j in range(len(self.joints))}
        for j, p in enumerate(self.parents):
            if p >= 0:
                children[p].append(j)
        order, stack = [], [self.pelvis]
        while stack:
            j = stack.pop(0)
            order.append(j)
            stack.extend(children[j])
        return tuple(order)

    def limb_of(self, joint: int) -> tuple[int, ...]:
        """The limb (extremity -> root) containing ``joint``; ``()`` for torso joints."""
        for limb in self.limbs:
            if joint in limb:
                return limb
        return ()

    def readout_chain(self, joint: int) -> tuple[int, ...]:
        """Ordered read-out locations for map ``joint`` (DESIGN.md section 6.4).

        ``joint`` itself, then its limb from the extremity toward the root,
        then the neck, then the pelvis, without repeats.
        """
        chain: list[int] = []
        for j in (joint, *self.limb_of(joint), self.neck, self.pelvis):
            if j not in chain:
                chain.append(j)
        return tuple(chain)

    def readout_sets(self) -> np.ndarray:
        """Boolean ``[K, K]`` matrix ``S[m, l]``: location of joint ``l`` is a
        read-out location of map ``m`` (where the encoder writes map ``m``)."""
        k = self.num_joints
        s = np.zeros((k, k), dtype=bool)
        for m in range(k):
            s[m, list(self.readout_chain(m))] = True
        return s

    def bone_vectors(self, joints3d: np.ndarray) -> np.ndarray:
        """Parent-relative bone vectors ``[..., K, 3]`` (zero for the pelvis)."""
        joints3d = np.asarray(joints3d)
        parents = np.asarray(self.parents)
        par = np.where(parents < 0, np.arange(len(parents)), parents)
        return joints3d - joints3d[..., par, :]

    def mean_bones_m(self) -> np.ndarray:
        """Bone vectors of :attr:`mean_pose_mm` in metres, ``[K, 3]`` float32."""
        pose = np.asarray(self.mean_pose_mm, dtype=np.float64)
        return (self.bone_vectors(pose) / 1000.0).astype(np.float32)

    def flip_permutation(self) -> np.ndarray:
        """Index array ``[K]`` that swaps left and right joints."""
        perm = np.arange(self.num_joints)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


def _mirror(pose: dict[str, tuple[float, float, float]]) -> dict[str, tuple[float, float, float]]:
    """Adds ``r_*`` entries mirroring ``l_*`` ones across x = 0."""
    out = dict(pose)
    for name, (x, y, z) in pose.items():
        if name.startswith("l_"):
            out["r_" + name[2:]] = (-x, y, z)
    return out


# Upright, arms down, facing the camera (subject's left on image right).
_MEAN_POSE = _mirror({
    "pelvis": (0.0, 0.0, 0.0),
    "neck": (0.0, -500.0, 0.0),
    "nose": (0.0, -600.0, -60.0),
    "l_shoulder": (175.0, -470.0, 0.0),
    "l_elbow": (195.0, -190.0, 10.0),
    "l_wrist": (200.0, 50.0, -20.0),
    "l_hip": (95.0, 10.0, 0.0),
    "l_knee": (100.0, 430.0, 0.0),
    "l_ankle": (100.0, 850.0, 20.0),
    "l_eye": (32.0, -635.0, -45.0),
    "l_ear": (72.0, -620.0, 10.0),
    "spine": (0.0, -230.0, 0.0),
    "head": (0.0, -720.0, -10.0),
})

_P19 = ("neck", "nose", "pelvis", "l_shoulder", "l_elbow", "l_wrist", "l_hip", "l_knee",
        "l_ankle", "r_shoulder", "r_elbow", "r_wrist", "r_hip", "r_knee", "r_ankle",
        "l_eye", "l_ear", "r_eye", "r_ear")

PANOPTIC19 = Skeleton(
    name="panoptic19",
    joints=_P19,
    parents=(2, 0, -1, 0, 3, 4, 2, 6, 7, 0, 9, 10, 2, 12, 13, 1, 15, 1, 17),
    limbs=((5, 4, 3), (11, 10, 9), (8, 7, 6), (14, 13, 12), (16, 18, 15, 17, 1)),
    limb_names=("l_arm", "r_arm", "l_leg", "r_leg", "head"),
    neck=0,
    pelvis=2,
    flip_pairs=((3, 9), (4, 10), (5, 11), (6, 12), (7, 13), (8, 14), (15, 17), (16, 18)),
    mean_pose_mm=tuple(_MEAN_POSE[n] for n in _P19),
)
"""CMU Panoptic COCO19 (DESIGN.md section 3); joint 2 is Panoptic's BodyCenter."""

# Human3.6M, 17 joints, in the order of the widely used preprocessed
# annotations (e.g. VideoPose3D's data_3d_h36m): joints 1-3 are the RIGHT leg,
# 4-6 the LEFT leg. "thorax" plays the neck's role; "nose" is H36M's
# neck/nose marker. tests/test_skeleton.py pins this order.
_H17 = ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine",
        "thorax", "nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder",
        "r_elbow", "r_wrist")
_H17_POSE = dict(_MEAN_POSE, thorax=_MEAN_POSE["neck"])

H36M17 = Skeleton(
    name="h36m17",
    joints=_H17,
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    limbs=((13, 12, 11), (16, 15, 14), (6, 5, 4), (3, 2, 1), (10, 9), (7,)),
    limb_names=("l_arm", "r_arm", "l_leg", "r_leg", "head", "spine"),
    neck=8,
    pelvis=0,
    flip_pairs=((1, 4), (2, 5), (3, 6), (11, 14), (12, 15), (13, 16)),
    mean_pose_mm=tuple(_H17_POSE[n] for n in _H17),
)
"""Human3.6M 17-joint set; the thorax (8) is the neck for grouping and read-out."""

SKELETONS = {s.name: s for s in (PANOPTIC19, H36M17)}


def get_skeleton(name: str) -> Skeleton:
    """Returns the skeleton called ``name`` (``"panoptic19"`` or ``"h36m17"``).

    Raises:
        ValueError: for an unknown name.
    """
    try:
        return SKELETONS[name]
    except KeyError:
        raise ValueError(f"skeleton: expected one of {sorted(SKELETONS)}, got {name!r}") from None

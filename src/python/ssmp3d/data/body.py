"""The synthetic body model: named body points, posing, and occlusion capsules.

Bodies are posed in a local frame (x = the person's left, y = down, z = the
person's back; pelvis at the origin, millimetres for a 1.75 m person) with
joint angles within anatomical limits. Skeleton joints are selected from the
body points by name, so every skeleton whose names the model knows works.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Camera
from ..skeleton import Skeleton

__all__ = ["BODY_POINTS", "MAX_CAPSULE_RADIUS_MM", "axis_rotations", "hidden_joints", "sample_bodies", "skeleton_index"]

# --------------------------------------------------------------------------
# Body model: local frame x = the person's left, y = down, z = the person's
# back (faces -z); origin at the pelvis; millimetres for a 1.75 m person.
# --------------------------------------------------------------------------

BODY_POINTS = ("pelvis", "spine", "neck", "nose", "head", "head_center", "l_eye", "r_eye",
               "l_ear", "r_ear", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
               "r_wrist", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle")
"""Points of the body model; skeleton joints are selected from them by name."""
_IDX = {name: i for i, name in enumerate(BODY_POINTS)}
_ALIASES = {"thorax": "neck"}
_HEAD = {  # head frame, relative to the neck
    "nose": (0.0, -110.0, -90.0), "head": (0.0, -220.0, -10.0), "head_center": (0.0, -140.0, -10.0),
    "l_eye": (32.0, -140.0, -70.0), "r_eye": (-32.0, -140.0, -70.0),
    "l_ear": (72.0, -125.0, 0.0), "r_ear": (-72.0, -125.0, 0.0),
}
_ANKLE_HEIGHT = 75.0  # sole -> ankle joint
# Occlusion capsules (point a, point b, radius mm for a 1.75 m person); a == b is a disc.
_CAPSULES = (("pelvis", "neck", 120.0), ("l_shoulder", "l_hip", 80.0), ("r_shoulder", "r_hip", 80.0),
             ("l_shoulder", "r_shoulder", 60.0), ("l_hip", "r_hip", 80.0),
             ("l_shoulder", "l_elbow", 50.0), ("l_elbow", "l_wrist", 40.0),
             ("r_shoulder", "r_elbow", 50.0), ("r_elbow", "r_wrist", 40.0),
             ("l_hip", "l_knee", 75.0), ("l_knee", "l_ankle", 55.0),
             ("r_hip", "r_knee", 75.0), ("r_knee", "r_ankle", 55.0),
             ("neck", "head_center", 55.0), ("head_center", "head_center", 105.0))
_CAP_A = np.array([_IDX[a] for a, _, _ in _CAPSULES])
_CAP_B = np.array([_IDX[b] for _, b, _ in _CAPSULES])
_CAP_R = np.array([r for _, _, r in _CAPSULES])
MAX_CAPSULE_RADIUS_MM = float(_CAP_R.max())
"""Largest occlusion capsule radius (mm, 1.75 m person)."""


def axis_rotations(axis: int, a: np.ndarray) -> np.ndarray:
    """Batched right-handed rotations ``[n, 3, 3]`` about ``axis`` by angles ``a [n]`` (rad)."""
    c, s = np.cos(a), np.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r = np.zeros(a.shape + (3, 3))
    r[:, axis, axis] = 1.0
    r[:, i, i], r[:, i, j], r[:, j, i], r[:, j, j] = c, -s, s, c
    return r


def _mv(r: np.ndarray, v) -> np.ndarray:
    """Batched ``r [n, 3, 3] @ v [n, 3] or [3]`` -> ``[n, 3]``."""
    v = np.broadcast_to(np.asarray(v, dtype=np.float64), r.shape[:-1])
    return np.einsum("nij,nj->ni", r, v)


def _chain(*rs: np.ndarray) -> np.ndarray:
    out = rs[0]
    for r in rs[1:]:
        out = out @ r
    return out


def sample_bodies(rng: np.random.Generator, n: int, height_range_mm: tuple[float, float]):
    """Posed bodies in the local frame.

    Args:
        rng: Random generator (consumed in a fixed order).
        n: Number of bodies.
        height_range_mm: Uniform body height range.

    Returns:
        ``points [n, P, 3]`` (mm, pelvis at the origin), ``ground_y [n]`` (the
        local ``y`` of the ground plane) and ``scale [n]`` (height / 1.75 m).
    """
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    rad = np.deg2rad
    height = u(*height_range_mm)
    s = height / 1750.0
    seg = rng.uniform(0.95, 1.05, (6, n)) * s  # torso, upper arm, forearm, thigh, shank, head
    pts = np.zeros((n, len(BODY_POINTS), 3))

    r_torso = _chain(axis_rotations(1, rad(u(-25, 25))), axis_rotations(0, rad(u(-10, 30))), axis_rotations(2, rad(u(-12, 12))))
    neck = _mv(r_torso, (0.0, -500.0, 0.0)) * seg[0][:, None]
    pts[:, _IDX["neck"]] = neck
    pts[:, _IDX["spine"]] = 0.45 * neck
    r_head = _chain(r_torso, axis_rotations(1, rad(u(-70, 70))), axis_rotations(0, rad(u(-30, 40))), axis_rotations(2, rad(u(-15, 15))))
    for name, off in _HEAD.items():
        pts[:, _IDX[name]] = neck + _mv(r_head, off) * seg[5][:, None]

    for side, sgn in (("l", 1.0), ("r", -1.0)):
        raised = rng.random(n) < 0.4
        flex = np.where(raised, u(-40, 170), u(-30, 45))
        abd = np.where(raised, u(0, 110), u(0, 40))
        elbow = np.where(rng.random(n) < 0.5, u(0, 60), u(0, 145))
        r_arm = _chain(r_torso, axis_rotations(2, rad(-sgn * abd)), axis_rotations(0, rad(-flex)), axis_rotations(1, rad(sgn * u(-30, 80))))
        sh = neck + _mv(r_torso, (sgn * 175.0, 30.0, 0.0)) * s[:, None]
        el = sh + _mv(r_arm, (0.0, 290.0, 0.0)) * seg[1][:, None]
        wr = el + _mv(r_arm @ axis_rotations(0, rad(-elbow)), (0.0, 250.0, 0.0)) * seg[2][:, None]
        lifted = rng.random(n) < 0.15
        if side == "l":
            left_lifted = lifted
        else:
            lifted &= ~left_lifted  # at most one leg off the ground
        hflex = np.where(lifted, u(30, 100), u(-20, 40))
        knee = np.where(lifted, u(30, 130), u(0, 40))
        r_leg = _chain(axis_rotations(2, rad(-sgn * u(-8, 20))), axis_rotations(0, rad(-hflex)), axis_rotations(1, rad(sgn * u(-30, 30))))
        hip = np.stack([sgn * 95.0 * s, 20.0 * s, np.zeros(n)], axis=-1)
        kn = hip + _mv(r_leg, (0.0, 430.0, 0.0)) * seg[3][:, None]
        an = kn + _mv(r_leg @ axis_rotations(0, rad(knee)), (0.0, 430.0, 0.0)) * seg[4][:, None]
        for name, v in (("shoulder", sh), ("elbow", el), ("wrist", wr),
                        ("hip", hip), ("knee", kn), ("ankle", an)):
            pts[:, _IDX[f"{side}_{name}"]] = v
    # Ground: 75 mm (scaled) below the lowest ankle, and below every body point.
    ankles = np.maximum(pts[:, _IDX["l_ankle"], 1], pts[:, _IDX["r_ankle"], 1])
    ground_y = np.maximum(ankles + _ANKLE_HEIGHT * s, pts[..., 1].max(axis=1))
    return pts, ground_y, s


def hidden_joints(cam: Camera, body_cam: np.ndarray, joints_uv: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``[M, K]`` bool: joint inside an occlusion capsule of a nearer person."""
    m = body_cam.shape[0]
    if m < 2:
        return np.zeros(joints_uv.shape[:2], dtype=bool)
    f = cam.K[0, 0]
    uv = cam.project(body_cam)  # [M, P, 2]
    a, b = uv[:, _CAP_A], uv[:, _CAP_B]  # [M, C, 2]
    za, zb = body_cam[:, _CAP_A, 2], body_cam[:, _CAP_B, 2]
    r = f * _CAP_R[None] * scale[:, None] / np.maximum(0.5 * (za + zb), 1.0)  # [M, C]
    ab = b - a
    q = joints_uv[:, :, None, None, :]  # [M, K, 1, 1, 2] vs capsules [1, 1, M, C, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.einsum("pkmci,mci->pkmc", q - a, ab) / np.einsum("mci,mci->mc", ab, ab)
        t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)
        d = q - (a + t[..., None] * ab)
        inside = np.einsum("pkmci,pkmci->pkmc", d, d) <= r * r  # [M, K, M, C]
    depth = body_cam[:, _IDX["pelvis"], 2]
    nearer = depth[None, :] < depth[:, None]  # [p, q]: q nearer than p
    return np.any(inside.any(axis=-1) & nearer[:, None, :], axis=-1)


def skeleton_index(skeleton: Skeleton) -> np.ndarray:
    """``[K]`` body-point index of each skeleton joint (by name; the thorax is the neck)."""
    try:
        return np.array([_IDX[_ALIASES.get(n, n)] for n in skeleton.joints])
    except KeyError as e:
        raise ValueError(f"skeleton: joint {e.args[0]!r} of {skeleton.name!r} is not in the "
                         f"synthetic body model {BODY_POINTS}") from None



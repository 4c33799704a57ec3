"""Seeded synthetic multi-person 3D scenes (DESIGN.md section 9).

People are built from one body model by joint *name*, so any skeleton whose
joint names it knows works (:data:`~ssmp3d.skeleton.PANOPTIC19`,
:data:`~ssmp3d.skeleton.H36M17`; ``"thorax"`` is the neck). Each person gets a
height (1.50-1.95 m) with symmetric per-segment proportions (+-5 %), joint
angles within anatomical limits (torso lean/bend/twist, head turn/nod/roll,
shoulder flexion/abduction/rotation, elbow, hip flexion/abduction/rotation,
knee), a heading about the vertical axis, and stands with its lowest sole on
the ground plane.

World frame (millimetres): ``X`` right, ``Y`` down (gravity), ``Z`` forward
(horizontal), ground plane ``Y = 0``. The camera sits at ``(0, -height, 0)``,
pitched down, so ``camera.R``/``camera.t`` map this world frame to the camera
frame; ``Scene.joints3d`` is camera-frame millimetres.

Placement draws candidate positions (depth ahead of the camera, horizontal
angle within the field of view, or straddling a side border with probability
``border_fraction``) and keeps the first admissible one: pelvises at least
``min_separation_mm`` apart on the ground; without truncation every body point
at least ``border_margin_px`` inside the image, with it at least
``min_in_image`` of them inside; without overlap the person's 2D footprint
(box of its body points grown by its largest occlusion-capsule radius and
``box_margin_px``) meets no other footprint. A person with no admissible
candidate among ``placement_tries`` is dropped, so a scene may hold fewer
people than drawn (possibly fewer than ``min_people``, even 0 when bodies
hardly fit the configuration); such scenes are still valid. The crowded
preset places every drawn person (checked for 1-20 people); the sparse one
fits 3-5 people in a 512 x 512 image, so larger draws come out smaller.

Visibility: each person's body is approximated in the image by capsules
around its limbs and torso plus a head disc, radius in millimetres scaled by
``focal / depth``. A joint is hidden (``visible`` False) when it falls inside a
capsule of a person whose pelvis is nearer to the camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry import Camera
from ..skeleton import PANOPTIC19, Skeleton
from .body import (BODY_POINTS, MAX_CAPSULE_RADIUS_MM, axis_rotations, hidden_joints, sample_bodies,
                   skeleton_index)
from .scene import Scene

__all__ = ["SceneConfig", "sample_scene", "sample_scenes", "BODY_POINTS"]


@dataclass(frozen=True)
class SceneConfig:
    """Synthetic scene sampling parameters (lengths in mm, angles in degrees).

    Attributes:
        image_size: ``(width, height)`` in pixels.
        min_people: Fewest people drawn per scene (>= 1).
        max_people: Most people drawn per scene.
        allow_truncation: People may be cut by the image border.
        allow_overlap: People's 2D footprints may overlap (occlusion).
        focal_length: ``fx = fy`` as a fraction of the image height (0.82:
            a 1.75 m person 3.5 m away spans about 0.4 of the image height).
        focal_jitter: Relative uniform jitter of the focal length per scene.
        distortion: OpenCV ``[k1, k2, p1, p2, k3]`` (default barrel, monotone).
        camera_height_mm: Range of the camera height above the ground.
        camera_pitch_deg: Range of the downward camera pitch.
        depth_range_mm: Range of the pelvis ground distance ahead of the camera.
        height_range_mm: Range of body heights.
        lateral_spread: Pelvis horizontal angle uniform within +-spread x half
            the horizontal field of view.
        border_fraction: With truncation, probability that a person is
            placed straddling the left or right image border.
        min_separation_mm: Least ground distance between two pelvises.
        min_in_image: With truncation, least fraction of body points inside.
        border_margin_px: Without truncation, least distance of body points
            from the image border.
        box_margin_px: Without overlap, margin added around each footprint:
            joints of two people are at least ``2 * box_margin_px`` apart.
        placement_tries: Candidate positions tried per person.
    """

    image_size: tuple[int, int] = (512, 512)
    min_people: int = 1
    max_people: int = 12
    allow_truncation: bool = True
    allow_overlap: bool = True
    focal_length: float = 0.82
    focal_jitter: float = 0.05
    distortion: tuple[float, float, float, float, float] = (-0.05, 0.02, 0.0, 0.0, 0.0)
    camera_height_mm: tuple[float, float] = (1500.0, 2000.0)
    camera_pitch_deg: tuple[float, float] = (5.0, 15.0)
    depth_range_mm: tuple[float, float] = (2000.0, 7000.0)
    height_range_mm: tuple[float, float] = (1500.0, 1950.0)
    lateral_spread: float = 1.0
    border_fraction: float = 0.15
    min_separation_mm: float = 600.0
    min_in_image: float = 0.35
    border_margin_px: float = 4.0
    box_margin_px: float = 16.0
    placement_tries: int = 128

    def __post_init__(self) -> None:
        for name in ("min_people", "max_people", "placement_tries"):
            v = getattr(self, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"SceneConfig.{name}: expected an int, got {v!r}")
        size = self.image_size
        if (len(size) != 2 or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer))
                                  for v in size)):
            raise TypeError(f"SceneConfig.image_size: expected (width, height) ints, got {size!r}")
        if min(size) < 16:
            raise ValueError(f"SceneConfig.image_size: expected sizes >= 16, got {size}")
        if not 1 <= self.min_people <= self.max_people:
            raise ValueError(f"SceneConfig: need 1 <= min_people <= max_people, got "
                             f"{self.min_people}, {self.max_people}")
        for name in ("camera_height_mm", "camera_pitch_deg", "depth_range_mm", "height_range_mm"):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ValueError(f"SceneConfig.{name}: expected a finite range lo <= hi, got {(lo, hi)}")
        if self.depth_range_mm[0] < 500.0 or self.height_range_mm[0] <= 0.0:
            raise ValueError("SceneConfig: depth_range_mm must start >= 500, heights must be > 0")
        if len(self.distortion) != 5 or not all(math.isfinite(d) for d in self.distortion):
            raise ValueError(f"SceneConfig.distortion: expected 5 finite values, got {self.distortion}")
        if not (self.focal_length > 0 and 0 <= self.focal_jitter < 1 and self.lateral_spread > 0):
            raise ValueError("SceneConfig: focal_length and lateral_spread must be > 0, "
                             "focal_jitter in [0, 1)")
        if not (0 <= self.border_fraction <= 1 and 0 <= self.min_in_image <= 1):
            raise ValueError("SceneConfig: border_fraction and min_in_image must lie in [0, 1]")
        if min(self.min_separation_mm, self.border_margin_px, self.box_margin_px) < 0:
            raise ValueError("SceneConfig: margins and separations must be >= 0")
        if self.placement_tries < 1:
            raise ValueError(f"SceneConfig.placement_tries: must be >= 1, got {self.placement_tries}")

    @classmethod
    def sparse(cls, max_people: int = 4, **overrides) -> "SceneConfig":
        """Separated people: none truncated, no two 2D footprints overlapping.

        Every body point lies inside the image (8 px margin), nobody is hidden
        (``visible == in_image``, all True) and joints of different people are
        at least ``2 * box_margin_px`` = 32 px (8 map pixels at stride 4)
        apart. A 512 x 512 image fits 3-5 such people; larger draws come out
        smaller.
        """
        kw = dict(min_people=1, max_people=max_people, allow_truncation=False, allow_overlap=False,
                  depth_range_mm=(3000.0, 7000.0), border_fraction=0.0, border_margin_px=8.0,
                  box_margin_px=16.0)
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def crowded(cls, max_people: int = 12, **overrides) -> "SceneConfig":
        """Many people close together: truncation by the border and occlusion."""
        kw = dict(min_people=max(1, max_people // 2), max_people=max_people, allow_truncation=True,
                  allow_overlap=True, depth_range_mm=(1800.0, 7000.0), lateral_spread=1.05,
                  border_fraction=0.3)
        kw.update(overrides)
        return cls(**kw)


def _make_camera(rng: np.random.Generator, cfg: SceneConfig) -> Camera:
    """A Panoptic-like camera at ``(0, -height, 0)``, pitched down."""
    w, h = (int(v) for v in cfg.image_size)
    f = cfg.focal_length * h * rng.uniform(1.0 - cfg.focal_jitter, 1.0 + cfg.focal_jitter)
    k = np.array([[f, 0.0, (w - 1) / 2.0], [0.0, f, (h - 1) / 2.0], [0.0, 0.0, 1.0]])
    pitch = math.radians(rng.uniform(*cfg.camera_pitch_deg))
    c, s = math.cos(pitch), math.sin(pitch)
    r = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])  # rows: camera axes in world
    centre = np.array([0.0, -rng.uniform(*cfg.camera_height_mm), 0.0])
    return Camera(K=k, R=r, t=-r @ centre, dist=np.array(cfg.distortion), width=w, height=h)


def _place(rng, cfg: SceneConfig, cam: Camera, pts, ground_y, scale):
    """Chooses positions (module notes).

    Returns:
        Camera-frame body points ``[M, P, 3]`` and indices ``[M]`` of the kept people.
    """
    w, h = cam.width, cam.height
    f = cam.K[0, 0]
    half_fov = math.atan((w / 2.0) / f)
    b = cfg.placement_tries
    placed_cam, placed_xz, boxes, kept = [], [], [], []
    for i in range(pts.shape[0]):
        z = rng.uniform(*cfg.depth_range_mm, b)
        phi = rng.uniform(-1.0, 1.0, b) * cfg.lateral_spread * half_fov
        if cfg.allow_truncation and cfg.border_fraction > 0:
            at_border = rng.random(b) < cfg.border_fraction
            edge = np.where(rng.random(b) < 0.5, -1.0, 1.0) * half_fov * rng.uniform(0.9, 1.1, b)
            phi = np.where(at_border, edge, phi)
        x = z * np.tan(phi)
        heading = rng.uniform(0.0, 2.0 * np.pi, b)
        world = np.einsum("bij,pj->bpi", axis_rotations(1, heading), pts[i])
        world += np.stack([x, np.full(b, -ground_y[i]), z], axis=-1)[:, None, :]
        cam_pts = world @ cam.R.T + cam.t  # [b, P, 3]
        uv = cam.project(cam_pts)
        ok = np.ones(b, dtype=bool)
        if placed_xz:
            d = np.stack([x, z], -1)[:, None, :] - np.asarray(placed_xz)[None]
            ok &= np.all(np.einsum("bmi,bmi->bm", d, d) >= cfg.min_separation_mm**2, axis=1)
        with np.errstate(invalid="ignore"):
            if cfg.allow_truncation:
                ok &= cam.in_image(uv).mean(axis=1) >= cfg.min_in_image
            else:
                m = cfg.border_margin_px
                inside = ((uv[..., 0] >= m) & (uv[..., 0] <= w - 1 - m)
                          & (uv[..., 1] >= m) & (uv[..., 1] <= h - 1 - m))
                ok &= inside.all(axis=1)
        if not cfg.allow_overlap:
            # Footprint: box of the body points grown by the largest capsule
            # radius and the margin; NaN (a point behind the camera) rejects.
            zmin = np.maximum(cam_pts[..., 2].min(axis=1), 1.0)
            grow = f * MAX_CAPSULE_RADIUS_MM * scale[i] / zmin + cfg.box_margin_px
            box = np.concatenate([uv.min(axis=1) - grow[:, None], uv.max(axis=1) + grow[:, None]], axis=1)
            ok &= np.all(np.isfinite(box), axis=1)
            for q in boxes:
                ok &= ~((box[:, 0] < q[2]) & (q[0] < box[:, 2]) & (box[:, 1] < q[3]) & (q[1] < box[:, 3]))
        good = np.flatnonzero(ok)
        if good.size == 0:
            continue  # this person does not fit: dropped
        g = good[0]
        kept.append(i)
        placed_cam.append(cam_pts[g])
        placed_xz.append((x[g], z[g]))
        if not cfg.allow_overlap:
            boxes.append(box[g])
    return np.asarray(placed_cam).reshape(-1, len(BODY_POINTS), 3), np.asarray(kept, dtype=np.int64)


def _as_rng(seed_or_rng) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, (bool, np.bool_)) or not isinstance(
            seed_or_rng, (int, np.integer, np.random.SeedSequence)):
        raise TypeError(f"seed_or_rng: expected an int, SeedSequence or Generator, got {seed_or_rng!r}")
    return np.random.default_rng(seed_or_rng)


def sample_scene(seed_or_rng, config: SceneConfig | None = None, skeleton: Skeleton = PANOPTIC19) -> Scene:
    """Samples one scene: camera, people, 2D/3D ground truth and visibility.

    Args:
        seed_or_rng: An int seed, a ``numpy.random.SeedSequence`` or a
            ``numpy.random.Generator`` (advanced in place). Same seed, same scene.
        config: Sampling parameters (default :class:`SceneConfig` ``()``).
        skeleton: Joint set of the output (joints selected by name).

    Returns:
        A :class:`Scene` with ``joints3d [N, K, 3]`` camera-frame mm,
        ``joints2d [N, K, 2]``, ``in_image``, ``visible``, ``valid3d`` (all
        True) ``[N, K]``; ``N <= `` the drawn count (see the module notes).

    Raises:
        TypeError: bad seed, config or skeleton type.
        ValueError: a skeleton joint unknown to the body model.
    """
    config = SceneConfig() if config is None else config
    if not isinstance(config, SceneConfig):
        raise TypeError(f"config: expected a SceneConfig, got {type(config).__name__}")
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    sel = skeleton_index(skeleton)
    rng = _as_rng(seed_or_rng)
    cam = _make_camera(rng, config)
    n = int(rng.integers(config.min_people, config.max_people + 1))
    pts, ground_y, scale = sample_bodies(rng, n, config.height_range_mm)
    body_cam, kept = _place(rng, config, cam, pts, ground_y, scale)
    m = body_cam.shape[0]
    joints3d = body_cam[:, sel]  # [M, K, 3]
    joints2d = cam.project(joints3d)
    in_image = cam.in_image(joints2d) & (joints3d[..., 2] > 0)
    hidden = hidden_joints(cam, body_cam, joints2d, scale[kept])
    return Scene(camera=cam, joints3d=joints3d, joints2d=joints2d, in_image=in_image,
                 visible=in_image & ~hidden, valid3d=np.ones((m, len(sel)), dtype=bool))


def sample_scenes(n: int, seed: int = 0, config: SceneConfig | None = None,
                  skeleton: Skeleton = PANOPTIC19) -> list[Scene]:
    """Samples ``n`` scenes; scene ``i`` uses ``SeedSequence(seed).spawn(n)[i]``.

    Scene ``i`` is therefore independent of ``n`` and equal to
    ``sample_scene(np.random.SeedSequence(seed, spawn_key=(i,)), config, skeleton)``.

    Args:
        n: Number of scenes (>= 0).
        seed: Root seed (non-negative int).
        config: Sampling parameters.
        skeleton: Joint set of the output.

    Returns:
        ``n`` scenes.
    """
    for name, v in (("n", n), ("seed", seed)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}: expected a non-negative int, got {v!r}")
        if v < 0:
            raise ValueError(f"{name}: must be >= 0, got {v}")
    children = np.random.SeedSequence(int(seed)).spawn(int(n))
    return [sample_scene(np.random.default_rng(c), config, skeleton) for c in children]


"""Seeded cluttered backgrounds for synthetic images (DESIGN.md section 9).

A background is, in drawing order: a linear colour gradient (the "wall"); a
perspective checkerboard floor where the camera sees the ground plane; random
clutter (filled and outlined rectangles, ellipses, lines, polygons); and a
two-octave noise texture. Everything is drawn with OpenCV into an RGB
``uint8`` array and is fully determined by the random generator.

The floor assumes the synthetic world frame of :mod:`ssmp3d.data.synthetic`
(ground plane ``Y = 0``, ``Y`` down, ``camera.R``/``camera.t`` world ->
camera) and ignores lens distortion (at most a pixel or two at the image
corners for the default barrel distortion); turn it off
(``BackgroundConfig.floor=False``) for cameras of other worlds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry import Camera

__all__ = ["BackgroundConfig", "render_background"]


def require_cv2():
    """Imports OpenCV, or raises an ``ImportError`` that says how to install it."""
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ssmp3d.data rendering and augmentation need OpenCV: "
                          "pip install opencv-python-headless (or the 'test' extra of ssmp3d)") from e
    return cv2


@dataclass(frozen=True)
class BackgroundConfig:
    """Background clutter parameters.

    Attributes:
        num_shapes: ``(lo, hi)`` inclusive range of clutter shapes per image.
        floor: Draw a checkerboard ground plane (synthetic world frame only).
        floor_tile_mm: Range of the floor tile size (mm).
        noise_std: Standard deviation of the noise texture (grey levels, per
            octave); 0 disables it.
    """

    num_shapes: tuple[int, int] = (8, 24)
    floor: bool = True
    floor_tile_mm: tuple[float, float] = (300.0, 1200.0)
    noise_std: float = 6.0

    def __post_init__(self) -> None:
        lo, hi = self.num_shapes
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (lo, hi)):
            raise TypeError(f"BackgroundConfig.num_shapes: expected two ints, got {self.num_shapes!r}")
        if not 0 <= lo <= hi:
            raise ValueError(f"BackgroundConfig.num_shapes: need 0 <= lo <= hi, got {self.num_shapes}")
        a, b = self.floor_tile_mm
        if not (math.isfinite(a) and math.isfinite(b) and 0 < a <= b):
            raise ValueError(f"BackgroundConfig.floor_tile_mm: need 0 < lo <= hi, got {self.floor_tile_mm}")
        if not (math.isfinite(self.noise_std) and self.noise_std >= 0):
            raise ValueError(f"BackgroundConfig.noise_std: must be finite and >= 0, got {self.noise_std}")


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def _gradient(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """``[H, W, 3]`` uint8 linear gradient between two random colours."""
    cv2 = require_cv2()
    c0 = rng.uniform(30, 225, 3).astype(np.float32)
    c1 = np.clip(c0 + rng.uniform(-90, 90, 3), 0, 255).astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    g = np.linspace(-0.5, 0.5, 9, dtype=np.float32)
    t = np.clip(g[:, None] * math.sin(a) + g[None, :] * math.cos(a) + 0.5, 0.0, 1.0)[..., None]
    small = np.round(c0 + t * (c1 - c0)).astype(np.uint8)  # [9, 9, 3]; a linear ramp resizes exactly
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _floor(rng: np.random.Generator, img: np.ndarray, cam: Camera, tile_range) -> None:
    """Draws a perspective checkerboard into ``img`` where rays hit ``Y = 0`` (in place).

    The ground plane maps to the image by the homography ``K [r1 r3 t]``; a
    64 x 64 tile texture (one texel per tile, contrast fading with distance)
    is warped with nearest sampling; beyond it, up to the horizon, the floor
    takes the texture's mean colour.
    """
    cv2 = require_cv2()
    h, w = img.shape[:2]
    c0 = rng.uniform(40, 200, 3)
    c1 = np.clip(c0 + rng.uniform(-70, 70, 3), 0, 255)
    tile = rng.uniform(*tile_range)
    shift = rng.uniform(0.0, 1.0, 2) * tile
    centre = -cam.R.T @ cam.t
    if not centre[1] < 0:  # camera not above the ground
        return
    # Horizon: image points whose ray is parallel to the ground; floor where l . (u, v, 1) > 0.
    line = np.linalg.inv(cam.K).T @ (cam.R @ np.array([0.0, 1.0, 0.0]))
    corners = [(-0.5, -0.5), (w - 0.5, -0.5), (w - 0.5, h - 0.5), (-0.5, h - 0.5)]
    poly = []
    for i, p in enumerate(corners):  # clip the image rectangle to the floor half-plane
        q = corners[(i + 1) % 4]
        dp, dq = line @ (*p, 1.0), line @ (*q, 1.0)
        if dp > 0:
            poly.append(p)
        if (dp > 0) != (dq > 0):
            t = dp / (dp - dq)
            poly.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    if len(poly) < 3:
        return
    mean = tuple(float(v) for v in 0.5 * (c0 + c1))
    cv2.fillConvexPoly(img, np.round(np.asarray(poly) * 16).astype(np.int32), mean, cv2.LINE_AA, 4)
    n = 64  # tiles per side; texel (i, j) = ground X = x0 + j * tile, Z = z0 + i * tile
    x0, z0 = centre[0] - n / 2 * tile - shift[0], max(centre[2], 0.0) + 0.2 * tile - shift[1]
    ii, jj = np.indices((n, n))
    check = ((ii + jj) % 2).astype(np.float64)
    fade = np.exp(-(z0 + (ii + 0.5) * tile - centre[2]).clip(0) / 15000.0)
    tex = c0 + (0.5 + (check - 0.5) * fade)[..., None] * (c1 - c0)
    tex = np.concatenate([tex, np.full((n, n, 1), 255.0)], -1).astype(np.uint8)
    texel = np.array([[tile, 0.0, x0], [0.0, tile, z0], [0.0, 0.0, 1.0]])  # (j, i, 1) -> (X, Z, 1)
    hom = cam.K @ np.stack([cam.R[:, 0], cam.R[:, 2], cam.t], axis=1) @ texel
    warped = cv2.warpPerspective(tex, hom, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=(0, 0, 0, 0))
    np.copyto(img, warped[..., :3], where=warped[..., 3:] > 0)


def _clutter(rng: np.random.Generator, img: np.ndarray, count: int, aa: int) -> None:
    """Draws ``count`` random shapes into the uint8 image ``img`` in place."""
    cv2 = require_cv2()
    h, w = img.shape[:2]
    size = max(w, h)
    for _ in range(count):
        kind = int(rng.integers(0, 5))
        col = _colour(rng)
        cx, cy = int(rng.integers(-w // 8, w + w // 8)), int(rng.integers(-h // 8, h + h // 8))
        a, b = (int(v) for v in rng.integers(max(size // 40, 2), max(size // 4, 3), 2))
        thick = -1 if rng.random() < 0.6 else int(rng.integers(1, max(size // 64, 2) + 1))
        if kind == 0:  # rotated rectangle
            box = cv2.boxPoints(((cx, cy), (2 * a, 2 * b), float(rng.uniform(0, 180))))
            box = np.round(box).astype(np.int32)
            if thick < 0:
                cv2.fillConvexPoly(img, box, col, aa)
            else:
                cv2.polylines(img, [box], True, col, thick, aa)
        elif kind == 1:  # ellipse
            cv2.ellipse(img, (cx, cy), (a, b), float(rng.uniform(0, 180)), 0, 360, col, thick, aa)
        elif kind == 2:  # line
            x2, y2 = cx + int(rng.integers(-size // 2, size // 2)), cy + int(rng.integers(-size // 2, size // 2))
            cv2.line(img, (cx, cy), (x2, y2), col, max(thick, 1) + 1, aa)
        elif kind == 3:  # random polygon
            n = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * math.pi, n))
            rad = rng.uniform(0.4, 1.0, n) * a
            pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], -1).astype(np.int32)
            cv2.fillPoly(img, [pts], col, aa)
        else:  # stripes inside a box
            x0, y0 = cx - a, cy - b
            step = max(int(rng.integers(3, 12)), 2) * max(size // 256, 1)
            for k in range(0, 2 * a, 2 * step):
                cv2.rectangle(img, (x0 + k, y0), (x0 + k + step - 1, y0 + 2 * b), col, -1)


def render_background(rng: np.random.Generator, camera: Camera, config: BackgroundConfig | None = None,
                      antialias: bool = True) -> np.ndarray:
    """Renders a seeded cluttered background of the camera's image size.

    Args:
        rng: Random generator (advanced in place; same state, same image).
        camera: The scene camera (``width x height``; the floor uses its
            pose, see the module notes).
        config: Background parameters (default :class:`BackgroundConfig` ``()``).
        antialias: Draw shapes with anti-aliased edges.

    Returns:
        ``[H, W, 3]`` uint8 RGB image.
    """
    cv2 = require_cv2()
    config = BackgroundConfig() if config is None else config
    if not isinstance(config, BackgroundConfig):
        raise TypeError(f"config: expected a BackgroundConfig, got {type(config).__name__}")
    w, h = int(camera.width), int(camera.height)
    out = _gradient(rng, w, h)
    if config.floor:
        _floor(rng, out, camera, config.floor_tile_mm)
    _clutter(rng, out, int(rng.integers(config.num_shapes[0], config.num_shapes[1] + 1)),
             cv2.LINE_AA if antialias else cv2.LINE_8)
    if config.noise_std > 0:
        noise = np.zeros((h, w, 3), dtype=np.float32)
        for div in (8, 2):  # a coarse and a fine octave
            small = rng.standard_normal((max(h // div, 1), max(w // div, 1), 3), dtype=np.float32)
            noise += cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        out = cv2.add(out, noise * np.float32(config.noise_std), dtype=cv2.CV_8U)
    return out

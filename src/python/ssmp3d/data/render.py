"""Render a :class:`~ssmp3d.data.scene.Scene` to an RGB image with OpenCV.

People are drawn far to near by pelvis depth (the order that defines
``Scene.visible``), each as volumetric parts: a filled torso polygon with a
spine capsule, upper arms, forearms with hands, thighs, shanks with shoes, a
neck and a head. Every limb is a tapered capsule whose width follows
perspective: a radius in millimetres (for a 1.75 m person, scaled by the
person's neck-pelvis length) times ``fx / z`` at each end. Within a person,
parts are drawn back to front by their far-surface depth (mean ``z`` plus the
radius), so a far arm passes behind the torso and a near one in front.

Shading: each part is drawn three times, a dark rim, the base colour at
0.72 of the radius and a highlight along the centre line. The head is a
hair ellipse and a face ellipse (the farther first, so a person facing away
shows hair); eyes, nose and mouth marks are drawn only where they face the
camera. Colours (shirt, trousers, skin, hair, shoes; short sleeves or
shorts) come from :func:`sample_appearances`.

Joints are selected by name: a skeleton needs ``pelvis``, ``neck`` (or
``thorax``), both shoulders, elbows, wrists, hips, knees and ankles, and
``l_ear``/``r_ear`` or ``head`` for the head (PANOPTIC19 and H36M17 both do).
Parts outside the image are clipped (truncation); parts with a joint behind
the camera are skipped.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field

import numpy as np

from ..skeleton import PANOPTIC19, Skeleton
from ._figure import BANDS, FigureJoints, body_points, draw_person, shade
from .background import BackgroundConfig, render_background, require_cv2
from .scene import Scene
from .synthetic import _as_rng

__all__ = ["Appearance", "RenderConfig", "render_people", "render_scene", "sample_appearances"]

_SKIN = ((255, 224, 196), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36),
         (92, 56, 30), (234, 192, 134), (255, 205, 148))
_HAIR = ((20, 16, 14), (60, 40, 25), (110, 75, 40), (180, 140, 80), (200, 200, 200), (120, 40, 20))


@dataclass(frozen=True)
class RenderConfig:
    """Rendering parameters.

    Attributes:
        background: Background clutter (:class:`BackgroundConfig`).
        radius_scale: Multiplies every body part radius.
        shading: Draw the rim/base/highlight bands (else flat colours).
        face: Draw eyes, nose and mouth on faces turned to the camera.
        antialias: Anti-aliased edges (``cv2.LINE_AA``).
    """

    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    radius_scale: float = 1.0
    shading: bool = True
    face: bool = True
    antialias: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.background, BackgroundConfig):
            raise TypeError(f"RenderConfig.background: expected a BackgroundConfig, "
                            f"got {type(self.background).__name__}")
        if not (math.isfinite(self.radius_scale) and self.radius_scale > 0):
            raise ValueError(f"RenderConfig.radius_scale: must be finite and > 0, got {self.radius_scale}")


@dataclass(frozen=True)
class Appearance:
    """Colours of one person (RGB 0-255) and clothing cut."""

    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shoes: tuple[int, int, int]
    short_sleeves: bool
    shorts: bool


def _hsv(rng: np.random.Generator, s: tuple[float, float], v: tuple[float, float]) -> tuple[int, int, int]:
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*s), rng.uniform(*v))
    return tuple(round(255 * c) for c in rgb)


def sample_appearances(rng: np.random.Generator, n: int) -> tuple[Appearance, ...]:
    """Draws ``n`` seeded per-person appearances (fixed draw order per person).

    Args:
        rng: Random generator (advanced in place).
        n: Number of people (>= 0).

    Returns:
        ``n`` :class:`Appearance` objects.
    """
    out = []
    for _ in range(int(n)):
        skin = np.clip(np.asarray(_SKIN[int(rng.integers(len(_SKIN)))]) * rng.uniform(0.9, 1.08), 0, 255)
        out.append(Appearance(
            shirt=_hsv(rng, (0.05, 0.95), (0.2, 0.97)), trousers=_hsv(rng, (0.05, 0.8), (0.12, 0.8)),
            skin=tuple(int(c) for c in skin), hair=_HAIR[int(rng.integers(len(_HAIR)))],
            shoes=_hsv(rng, (0.0, 0.6), (0.05, 0.5)), short_sleeves=bool(rng.random() < 0.4),
            shorts=bool(rng.random() < 0.2)))
    return tuple(out)


def _materials(app: Appearance, shading: bool):
    """Material name -> band colours (rim, base, highlight) of one person."""
    m = {"shirt": app.shirt, "trousers": app.trousers, "skin": app.skin, "hair": app.hair, "shoes": app.shoes,
         "sleeve": app.skin if app.short_sleeves else app.shirt, "shank": app.skin if app.shorts else app.trousers}
    return {k: tuple(shade(c, b[1]) for b in BANDS) if shading else (c,) for k, c in m.items()}


def render_people(image: np.ndarray, scene: Scene, appearances, config: RenderConfig | None = None,
                  skeleton: Skeleton = PANOPTIC19, labels: np.ndarray | None = None) -> None:
    """Draws the scene's people into ``image`` in place, far to near.

    Args:
        image: ``[H, W, 3]`` uint8 RGB of the camera's size (modified).
        scene: The scene (``joints3d [N, K, 3]`` camera mm).
        appearances: ``N`` :class:`Appearance` objects, one per person.
        config: Rendering parameters.
        skeleton: Joint set of the scene.
        labels: Optional ``[H, W]`` uint8 map; person ``p``'s pixels are set
            to ``p`` (nearest person wins), others untouched.

    Raises:
        ValueError: image of the wrong size or dtype, wrong number of
            appearances, a skeleton without the joints the renderer needs.
    """
    cv2 = require_cv2()
    config = RenderConfig() if config is None else config
    j = FigureJoints(skeleton)
    w, h = scene.image_size
    if image.shape != (h, w, 3) or image.dtype != np.uint8:
        raise ValueError(f"image: expected uint8 [{h}, {w}, 3], got {image.dtype} {list(image.shape)}")
    if labels is not None and (labels.shape != (h, w) or labels.dtype != np.uint8):
        raise ValueError(f"labels: expected uint8 [{h}, {w}], got {labels.dtype} {list(labels.shape)}")
    if len(appearances) != scene.num_people:
        raise ValueError(f"appearances: expected {scene.num_people}, got {len(appearances)}")
    if scene.num_people == 0:
        return
    lt = cv2.LINE_AA if config.antialias else cv2.LINE_8
    pts, scale, rh, flags = body_points(np.asarray(scene.joints3d, dtype=np.float64), j)
    uv = scene.camera.project(pts)  # [N, S, 2]
    z = pts[..., 2]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(uv).all(-1) & (z >= 1.0) & (np.abs(uv) < 64.0 * max(w, h)).all(-1)
    fx = float(scene.camera.K[0, 0])
    order = np.argsort(-scene.joints3d[:, skeleton.pelvis, 2], kind="stable")
    uv_l, z_l, ok_l, flags_l = uv.tolist(), z.tolist(), ok.tolist(), flags.tolist()
    for p in order.tolist():
        draw_person(cv2, image, labels, p, uv_l[p], z_l[p], ok_l[p], float(scale[p]), float(rh[p]),
                     flags_l[p], _materials(appearances[p], config.shading), config, fx, lt)


def render_scene(scene: Scene, seed_or_rng, config: RenderConfig | None = None,
                 skeleton: Skeleton = PANOPTIC19, *, return_labels: bool = False):
    """Renders a scene: seeded background, then people far to near.

    Args:
        scene: The scene; the image has the camera's size ``W x H``.
        seed_or_rng: Int seed, ``numpy.random.SeedSequence`` or ``Generator``.
            Same seed and scene, same image.
        config: Rendering parameters (default :class:`RenderConfig` ``()``).
        skeleton: Joint set of the scene (see the module notes).
        return_labels: Also return the person label map.

    Returns:
        ``[H, W, 3]`` uint8 RGB image; with ``return_labels`` also an
        ``[H, W]`` uint8 map holding the index of the person drawn at each
        pixel (255: background).

    Raises:
        TypeError: bad scene, seed, config or skeleton type.
        ValueError: a skeleton without the joints the renderer needs.
        ImportError: OpenCV is not installed.
    """
    if not isinstance(scene, Scene):
        raise TypeError(f"scene: expected a Scene, got {type(scene).__name__}")
    config = RenderConfig() if config is None else config
    if not isinstance(config, RenderConfig):
        raise TypeError(f"config: expected a RenderConfig, got {type(config).__name__}")
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    if return_labels and scene.num_people > 255:
        raise ValueError(f"scene: a label map holds at most 255 people, got {scene.num_people}")
    rng = _as_rng(seed_or_rng)
    image = render_background(rng, scene.camera, config.background, config.antialias)
    labels = np.full(image.shape[:2], 255, dtype=np.uint8) if return_labels else None
    render_people(image, scene, sample_appearances(rng, scene.num_people), config, skeleton, labels)
    return (image, labels) if return_labels else image

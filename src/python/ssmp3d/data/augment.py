"""Augmentation applied consistently to an image and its scene ground truth.

Geometry is one similarity affine ``A = [L | b]`` from the source image to the
output crop (:func:`augment_affine`): fit the source into the output, zoom by
``scale``, rotate by ``rotation_deg`` about the centre, mirror horizontally
when ``flip``, shift by ``translate``. The image is warped with
``cv2.warpAffine`` (bilinear; uncovered pixels take ``pad_value``) and the 2D
joints are mapped by the same ``A``.

3D stays in the camera frame and stays consistent with the 2D **exactly**:

* ``L = U Q`` (RQ decomposition; ``U`` upper triangular with a positive
  diagonal, ``Q`` orthogonal). The camera-frame 3D is transformed by ``Q``
  about the optical axis ``Z`` (a rotation by ``rotation_deg``, composed with
  ``X -> -X`` when flipped), so pelvis-relative bone vectors are rotated and
  mirrored with the image.
* The output camera gets ``K' = [U | L c + b]`` (``c``: the principal point,
  which moves with the image rather than staying at the image centre) and
  tangential distortion ``(p2, p1)`` transformed by ``Q`` (radial distortion
  commutes with ``Q``). Then ``project(joints3d', K') == A joints2d`` up to
  rounding, for any ``K`` and distortion. A camera that re-centred the
  principal point instead would only agree for rotations about it; for
  ``fx == fy`` and no skew ``Q`` is exactly the drawn rotation (and flip).
* Extrinsics follow: ``R' = Q3 R``, ``t' = Q3 t`` (``Q3 = diag(Q, 1)``;
  improper when flipped).

A flip also swaps left and right joints (``skeleton.flip_pairs``), so the
output's ``l_*`` joints are the mirrored ``r_*`` ones. ``in_image`` becomes
"was in the source image and lies inside the output" (a joint outside the
source image has no pixels to show, even where the crop reaches past it);
``visible`` is ``visible & in_image``.

Colour jitter (brightness, contrast, saturation, a hue rotation in YIQ
space) is one 3x4 colour matrix applied by ``cv2.transform`` (saturating).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry import Camera
from ..skeleton import PANOPTIC19, Skeleton
from .background import require_cv2
from .scene import Scene

__all__ = ["AugmentConfig", "AugmentParams", "augment", "augment_affine", "jitter_colour",
           "random_augment", "sample_params", "transform_scene", "warp_image"]

PAD_VALUE = (124, 116, 104)
"""Default fill of uncovered pixels: the normalisation mean (0 after normalising)."""


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random augmentation (see :func:`sample_params`).

    Attributes:
        scale: ``(lo, hi)`` zoom range, log-uniform (> 1 zooms in).
        rotation_deg: Rotation uniform in ``+-rotation_deg``.
        translate: Shift uniform in ``+-translate`` x the output size.
        flip_prob: Probability of a horizontal flip.
        brightness: Brightness factor uniform in ``1 +- brightness``.
        contrast: Contrast factor uniform in ``1 +- contrast``.
        saturation: Saturation factor uniform in ``1 +- saturation``.
        hue_deg: Hue rotation uniform in ``+-hue_deg``.
    """

    scale: tuple[float, float] = (0.75, 1.25)
    rotation_deg: float = 30.0
    translate: float = 0.1
    flip_prob: float = 0.5
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    hue_deg: float = 10.0

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
            raise ValueError(f"AugmentConfig.scale: need 0 < lo <= hi, got {self.scale}")
        for name, top in (("rotation_deg", 180.0), ("translate", 1.0), ("flip_prob", 1.0), ("brightness", 0.99),
                          ("contrast", 0.99), ("saturation", 1.0), ("hue_deg", 180.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"AugmentConfig.{name}: expected a number, got {v!r}")
            if not 0 <= v <= top:
                raise ValueError(f"AugmentConfig.{name}: must lie in [0, {top}], got {v}")

    @classmethod
    def none(cls) -> AugmentConfig:
        """No augmentation: identity geometry (up to the output size fit), no jitter."""
        return cls(scale=(1.0, 1.0), rotation_deg=0.0, translate=0.0, flip_prob=0.0, brightness=0.0,
                   contrast=0.0, saturation=0.0, hue_deg=0.0)


@dataclass(frozen=True)
class AugmentParams:
    """One drawn augmentation.

    Attributes:
        scale: Zoom factor (on top of fitting the source into the output).
        rotation_deg: Rotation; the 2D matrix ``[[cos, -sin], [sin, cos]]``
            in pixel coordinates (x right, y down): clockwise on screen.
        translate: ``(tx, ty)`` shift in output pixels.
        flip: Mirror horizontally (and swap left/right joints).
        brightness, contrast, saturation: Factors (1 = unchanged).
        hue_deg: Hue rotation in degrees.
    """

    scale: float = 1.0
    rotation_deg: float = 0.0
    translate: tuple[float, float] = (0.0, 0.0)
    flip: bool = False
    brightness: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    hue_deg: float = 0.0


def sample_params(rng: np.random.Generator, config: AugmentConfig, output_size: tuple[int, int]) -> AugmentParams:
    """Draws one :class:`AugmentParams` (always 9 draws, in a fixed order).

    Args:
        rng: Random generator (advanced in place).
        config: The ranges.
        output_size: ``(width, height)`` of the output (for the shift).

    Returns:
        The parameters.
    """
    if not isinstance(config, AugmentConfig):
        raise TypeError(f"config: expected an AugmentConfig, got {type(config).__name__}")
    u = rng.uniform(-1.0, 1.0, 8)
    lo, hi = config.scale
    scale = math.exp(math.log(lo) + (u[0] + 1) / 2 * (math.log(hi) - math.log(lo)))
    flip = bool(rng.random() < config.flip_prob)
    return AugmentParams(
        scale=scale, rotation_deg=float(u[1] * config.rotation_deg),
        translate=(float(u[2] * config.translate * output_size[0]), float(u[3] * config.translate * output_size[1])),
        flip=flip, brightness=float(1 + u[4] * config.brightness), contrast=float(1 + u[5] * config.contrast),
        saturation=float(1 + u[6] * config.saturation), hue_deg=float(u[7] * config.hue_deg))


def _size(size, name: str) -> tuple[int, int]:
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in size)):
        raise TypeError(f"{name}: expected (width, height) ints, got {size!r}")
    if min(size) < 1:
        raise ValueError(f"{name}: sizes must be >= 1, got {size}")
    return int(size[0]), int(size[1])


def augment_affine(src_size: tuple[int, int], dst_size: tuple[int, int], params: AugmentParams) -> np.ndarray:
    """The ``[2, 3]`` source -> output image affine of ``params``.

    Centre to centre (pixel-centre convention, centre ``((w - 1) / 2, (h - 1) / 2)``),
    scaled by ``min(dst / src) * params.scale``, rotated, mirrored about the
    output centre when flipped, then shifted by ``params.translate``.
    """
    (sw, sh), (dw, dh) = _size(src_size, "src_size"), _size(dst_size, "dst_size")
    s = min(dw / sw, dh / sh) * params.scale
    a = math.radians(params.rotation_deg)
    lin = s * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    if params.flip:
        lin[0] *= -1.0
    c_src = np.array([(sw - 1) / 2.0, (sh - 1) / 2.0])
    c_dst = np.array([(dw - 1) / 2.0, (dh - 1) / 2.0]) + np.asarray(params.translate, dtype=np.float64)
    return np.concatenate([lin, (c_dst - lin @ c_src)[:, None]], axis=1)


def _rq2(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``m [2, 2] = U Q``: ``U`` upper triangular (positive diagonal), ``Q`` orthogonal."""
    u22 = math.hypot(m[1, 0], m[1, 1])
    q2 = m[1] / u22
    u12 = float(m[0] @ q2)
    r = m[0] - u12 * q2
    u11 = math.hypot(r[0], r[1])
    return np.array([[u11, u12], [0.0, u22]]), np.stack([r / u11, q2])


def transform_scene(scene: Scene, params: AugmentParams, output_size: tuple[int, int] | None = None,
                    skeleton: Skeleton = PANOPTIC19) -> Scene:
    """The scene's ground truth after the augmentation's geometry (module notes).

    Args:
        scene: Source scene (``joints3d [N, K, 3]``, ``joints2d [N, K, 2]``, flags ``[N, K]``).
        params: The augmentation.
        output_size: ``(width, height)`` of the output; default the source size.
        skeleton: Joint set (its flip pairs are swapped on a flip).

    Returns:
        A new :class:`Scene` for the output image (new camera, same shapes).
    """
    if not isinstance(scene, Scene):
        raise TypeError(f"scene: expected a Scene, got {type(scene).__name__}")
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    if scene.joints3d.shape[1:] != (skeleton.num_joints, 3):
        raise ValueError(f"scene: joints3d {scene.joints3d.shape} does not fit skeleton {skeleton.name!r}")
    out_size = scene.image_size if output_size is None else _size(output_size, "output_size")
    aff = augment_affine(scene.image_size, out_size, params)
    lin, b = aff[:, :2], aff[:, 2]
    cam = scene.camera
    u, q = _rq2(lin @ cam.K[:2, :2])
    q3 = np.eye(3)
    q3[:2, :2] = q
    k = np.eye(3)
    k[:2, :2] = u
    k[:2, 2] = lin @ cam.K[:2, 2] + b
    dist = cam.dist.copy()
    dist[3], dist[2] = q @ cam.dist[[3, 2]]  # (p2, p1) transforms as a vector
    new_cam = Camera(K=k, R=q3 @ cam.R, t=q3 @ cam.t, dist=dist, width=out_size[0], height=out_size[1])
    perm = skeleton.flip_permutation() if params.flip else np.arange(skeleton.num_joints)
    joints2d = scene.joints2d[:, perm] @ lin.T + b
    in_image = scene.in_image[:, perm] & new_cam.in_image(joints2d)
    return Scene(camera=new_cam, joints3d=scene.joints3d[:, perm] @ q3.T, joints2d=joints2d, in_image=in_image,
                 visible=scene.visible[:, perm] & in_image, valid3d=scene.valid3d[:, perm].copy())


def warp_image(image: np.ndarray, params: AugmentParams, output_size: tuple[int, int] | None = None,
               pad_value=PAD_VALUE) -> np.ndarray:
    """Warps an ``[H, W, C]`` image by :func:`augment_affine` (bilinear) to ``output_size``.

    Returns:
        ``[H', W', C]`` image of the same dtype (a copy even for the identity).
    """
    cv2 = require_cv2()
    h, w = image.shape[:2]
    out = (w, h) if output_size is None else _size(output_size, "output_size")
    aff = augment_affine((w, h), out, params)
    if out == (w, h) and np.array_equal(aff, np.eye(2, 3)):
        return image.copy()
    return cv2.warpAffine(image, aff, out, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=tuple(float(v) for v in pad_value))


_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def jitter_colour(image: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Brightness, contrast (about the mean luminance), saturation and hue of an RGB uint8 image.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
        params: Factors (1 and 0 degrees leave the image unchanged).

    Returns:
        ``[H, W, 3]`` uint8 RGB (a copy).
    """
    cv2 = require_cv2()
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected uint8 [H, W, 3], got {image.dtype} {list(image.shape)}")
    if (params.brightness, params.contrast, params.saturation, params.hue_deg) == (1.0, 1.0, 1.0, 0.0):
        return image.copy()
    a = math.radians(params.hue_deg)
    rot = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(a), -math.sin(a)], [0.0, math.sin(a), math.cos(a)]])
    hue = np.linalg.inv(_YIQ) @ rot @ _YIQ  # keeps luminance
    sat = params.saturation * np.eye(3) + (1 - params.saturation) * np.tile(_YIQ[0], (3, 1))
    m = params.contrast * params.brightness * (sat @ hue)
    mean_lum = float(np.dot(cv2.mean(image)[:3], _YIQ[0]))
    offset = (1 - params.contrast) * params.brightness * mean_lum
    return cv2.transform(image, np.concatenate([m, np.full((3, 1), offset)], axis=1))


def augment(image: np.ndarray, scene: Scene, params: AugmentParams, output_size: tuple[int, int] | None = None,
            skeleton: Skeleton = PANOPTIC19, pad_value=PAD_VALUE) -> tuple[np.ndarray, Scene]:
    """Applies ``params`` to an image and its scene.

    Args:
        image: ``[H, W, 3]`` uint8 RGB of the scene's size.
        scene: Its ground truth.
        params: The augmentation.
        output_size: ``(width, height)``; default the source size.
        skeleton: Joint set of the scene.
        pad_value: RGB fill of pixels the source does not cover.

    Returns:
        ``(image [H', W', 3] uint8, scene)`` of the output.
    """
    w, h = scene.image_size
    if not isinstance(image, np.ndarray) or image.shape != (h, w, 3) or image.dtype != np.uint8:
        raise ValueError(f"image: expected uint8 [{h}, {w}, 3] (the scene's size), got "
                         f"{getattr(image, 'dtype', type(image).__name__)} {list(np.shape(image))}")
    out_scene = transform_scene(scene, params, output_size, skeleton)
    out = warp_image(image, params, out_scene.image_size, pad_value)
    return jitter_colour(out, params), out_scene


def random_augment(image: np.ndarray, scene: Scene, rng: np.random.Generator, config: AugmentConfig | None = None,
                   output_size: tuple[int, int] | None = None,
                   skeleton: Skeleton = PANOPTIC19) -> tuple[np.ndarray, Scene]:
    """Draws parameters with :func:`sample_params` and applies :func:`augment`.

    Returns:
        ``(image [H', W', 3] uint8, scene)``.
    """
    config = AugmentConfig() if config is None else config
    size = scene.image_size if output_size is None else _size(output_size, "output_size")
    return augment(image, scene, sample_params(rng, config, size), size, skeleton)

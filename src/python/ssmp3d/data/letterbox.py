"""Fitting an image of any size into the square network input (resize + pad).

The affine is :func:`ssmp3d.geometry.letterbox_affine` (pixel-centre
convention); pass it to :class:`ssmp3d.geometry.MapTransform` so decoded
joints come back in the original image's pixels, or to
:func:`letterbox_scene` to move ground truth into the input.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Camera, letterbox_affine
from .augment import PAD_VALUE
from .scene import Scene

__all__ = ["letterbox", "letterbox_scene"]


def _size(size) -> tuple[int, int]:
    w, h = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if int(w) < 1 or int(h) < 1:
        raise ValueError(f"size: expected positive (width, height), got {size!r}")
    return int(w), int(h)


def letterbox(image: np.ndarray, size: int | tuple[int, int], *,
              pad_value: int | tuple[int, int, int] = PAD_VALUE) -> tuple[np.ndarray, np.ndarray]:
    """Resizes ``image`` to fit ``size`` keeping its aspect ratio, centred, padded with ``pad_value``.

    Args:
        image: ``[H, W, 3]`` (or ``[H, W]``) uint8.
        size: Output side, or ``(width, height)``.
        pad_value: Grey level of the padding, or one value per channel;
            default :data:`ssmp3d.data.augment.PAD_VALUE`, the normalisation
            mean (RGB), which the network sees around augmented images, so
            training, evaluation and inference pad alike.

    Returns:
        ``(out [h, w, 3] uint8, affine [2, 3])`` with ``affine`` mapping
        original pixels to output pixels.

    Raises:
        ValueError: an empty image or a non-positive size.
    """
    import cv2

    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image: expected a non-empty [H, W, 3] array, got shape {image.shape}")
    w, h = _size(size)
    fill = tuple(float(v) for v in pad_value) if isinstance(pad_value, (tuple, list)) else (float(pad_value),) * 3
    if len(fill) != 3:
        raise ValueError(f"pad_value: expected an int or 3 values, got {pad_value!r}")
    affine = letterbox_affine((image.shape[1], image.shape[0]), (w, h))
    if image.shape[1] == w and image.shape[0] == h:
        return image.copy(), affine
    shrink = affine[0, 0] < 1.0
    out = cv2.warpAffine(image, affine, (w, h), flags=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    return out, affine


def letterbox_scene(scene: Scene, affine: np.ndarray, size: int | tuple[int, int]) -> Scene:
    """The ground truth of ``scene`` in the letterboxed image of ``size``.

    2D joints go through ``affine``; ``in_image`` is recomputed for the new
    frame (a letterbox keeps the whole image, so it only changes for joints
    on the last half pixel); 3D joints are unchanged (camera frame). The
    camera's intrinsics are scaled and shifted like the image.
    """
    w, h = _size(size)
    a = np.asarray(affine, dtype=np.float64)
    if a.shape != (2, 3) or a[0, 1] != 0 or a[1, 0] != 0:
        raise ValueError("affine: expected a [2, 3] scale-and-shift letterbox affine")
    cam = scene.camera
    K = cam.K.copy()
    # X' = s X + b in the pixel-centre convention; K maps normalised coords to X.
    K[0] *= a[0, 0]
    K[1] *= a[1, 1]
    K[0, 2] += a[0, 2]
    K[1, 2] += a[1, 2]
    camera = Camera(K=K, R=cam.R, t=cam.t, dist=cam.dist, width=w, height=h)
    uv = scene.joints2d @ a[:, :2].T + a[:, 2]
    inside = camera.in_image(uv)
    in_image = scene.in_image & inside
    return Scene(camera=camera, joints3d=scene.joints3d, joints2d=uv, in_image=in_image,
                 visible=scene.visible & in_image, valid3d=scene.valid3d)

"""Cameras, projection with OpenCV distortion, and the one map <-> image transform.

Conventions (DESIGN.md section 3):

* 3D points are in the camera frame, millimetres: x right, y down, z forward.
* Image coordinates follow OpenCV: integer coordinates are pixel centres, so
  pixel ``i`` spans ``[i - 0.5, i + 0.5)``.
* The network input is the image after a 2x3 affine ``A`` (crop, resize,
  letterbox padding; identity for synthetic scenes rendered at input size).
* Output map pixel ``x`` (stride ``s``) covers network-input pixels
  ``x*s .. x*s + s - 1``; its centre is at input coordinate
  ``x*s + (s - 1) / 2``. :class:`MapTransform` is the only place that
  converts between map and image coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera with OpenCV distortion ``[k1, k2, p1, p2, k3]``.

    Attributes:
        K: Intrinsics ``[3, 3]`` (fx, fy, cx, cy; skew allowed).
        R: World -> camera rotation ``[3, 3]``.
        t: World -> camera translation ``[3]``, in the world's units.
        dist: Distortion ``[5]``.
        width: Image width in pixels.
        height: Image height in pixels.
    """

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    dist: np.ndarray
    width: int
    height: int

    def __post_init__(self) -> None:
        for name, shape in (("K", (3, 3)), ("R", (3, 3)), ("t", (3,)), ("dist", (5,))):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != shape or not np.all(np.isfinite(value)):
                raise ValueError(f"Camera.{name}: expected finite array of shape {shape}, "
                                 f"got {value.shape}")
            object.__setattr__(self, name, value)
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise ValueError(f"Camera: width and height must be positive, got "
                             f"{self.width}x{self.height}")

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """``Xc = R Xw + t`` for points ``[..., 3]``."""
        return np.asarray(points, dtype=np.float64) @ self.R.T + self.t

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Projects camera-frame points ``[..., 3]`` to image pixels ``[..., 2]``.

        Points with ``z <= 0`` project to NaN.
        """
        return project_points(points_cam, self.K, self.dist)

    def in_image(self, uv: np.ndarray) -> np.ndarray:
        """Boolean ``[...]``: pixel coordinates ``uv [..., 2]`` fall inside the image."""
        uv = np.asarray(uv)
        u, v = uv[..., 0], uv[..., 1]
        with np.errstate(invalid="ignore"):
            return (u >= -0.5) & (u < self.width - 0.5) & (v >= -0.5) & (v < self.height - 0.5)


def project_points(points_cam: np.ndarray, K: np.ndarray, dist: np.ndarray | None = None) -> np.ndarray:
    """Projects camera-frame points with the OpenCV model (same as ``cv2.projectPoints``).

    Args:
        points_cam: ``[..., 3]`` camera-frame points.
        K: ``[3, 3]`` intrinsics.
        dist: ``[5]`` distortion ``[k1, k2, p1, p2, k3]`` or None.

    Returns:
        ``[..., 2]`` float64 pixel coordinates; NaN where ``z <= 0``.
    """
    p = np.asarray(points_cam, dtype=np.float64)
    if p.shape[-1:] != (3,):
        raise ValueError(f"points_cam: expected shape [..., 3], got {p.shape}")
    K = np.asarray(K, dtype=np.float64)
    z = p[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(z > 0, p[..., 0] / z, np.nan)
        y = np.where(z > 0, p[..., 1] / z, np.nan)
    if dist is not None:
        k1, k2, p1, p2, k3 = np.asarray(dist, dtype=np.float64)
        r2 = x * x + y * y
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
        yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
        x, y = xd, yd
    u = K[0, 0] * x + K[0, 1] * y + K[0, 2]
    v = K[1, 1] * y + K[1, 2]
    return np.stack([u, v], axis=-1)


def letterbox_affine(src_size: tuple[int, int], dst_size: tuple[int, int]) -> np.ndarray:
    """Affine ``[2, 3]`` (image -> network input) that resizes ``src_size`` (w, h)
    to fit ``dst_size`` (w, h), keeping the aspect ratio, centred with padding.

    Uses the pixel-centre convention: ``X' = (X + 0.5) * scale - 0.5 + pad``.
    """
    sw, sh = src_size
    dw, dh = dst_size
    if min(sw, sh, dw, dh) <= 0:
        raise ValueError(f"letterbox_affine: sizes must be positive, got {src_size} -> {dst_size}")
    scale = min(dw / sw, dh / sh)
    pad_x = (dw - sw * scale) / 2.0
    pad_y = (dh - sh * scale) / 2.0
    return np.array([[scale, 0.0, 0.5 * scale - 0.5 + pad_x],
                     [0.0, scale, 0.5 * scale - 0.5 + pad_y]])


@dataclass(frozen=True, eq=False)
class MapTransform:
    """Image pixels <-> output-map pixels, through the input affine and the stride.

    Attributes:
        affine: ``[2, 3]`` image -> network-input affine (identity by default).
        stride: Output stride ``s`` (network input pixels per map pixel).
    """

    affine: np.ndarray = None  # type: ignore[assignment]
    stride: int = 4

    def __post_init__(self) -> None:
        a = np.eye(2, 3) if self.affine is None else np.asarray(self.affine, dtype=np.float64)
        if a.shape != (2, 3) or not np.all(np.isfinite(a)) or abs(np.linalg.det(a[:, :2])) < 1e-12:
            raise ValueError(f"MapTransform.affine: expected an invertible finite [2, 3] matrix, "
                             f"got shape {a.shape}")
        if int(self.stride) != self.stride or self.stride < 1:
            raise ValueError(f"MapTransform.stride: expected a positive integer, got {self.stride}")
        object.__setattr__(self, "affine", a)
        identity = a[0, 0] == 1 and a[1, 1] == 1 and a[0, 1] == 0 and a[1, 0] == 0
        object.__setattr__(self, "_identity", bool(identity))
        object.__setattr__(self, "_inverse", None if identity else np.linalg.inv(a[:, :2]))
        # x - 0.0 is x for every float64 (-0.0 and NaN included): no subtraction then.
        object.__setattr__(self, "_offset", None if a[0, 2] == 0 and a[1, 2] == 0 else a[:, 2].copy())

    def image_to_map(self, points: np.ndarray) -> np.ndarray:
        """Image pixel coordinates ``[..., 2]`` -> continuous map coordinates ``[..., 2]``."""
        p = np.asarray(points, dtype=np.float64)
        inp = p @ self.affine[:, :2].T + self.affine[:, 2]
        return (inp - (self.stride - 1) / 2.0) / self.stride

    def map_to_image(self, points: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Map coordinates ``[..., 2]`` (integer peaks or refined) -> image pixels ``[..., 2]``.

        ``out``: a float64 array of the points' shape that receives the result (it may be
        ``points`` itself; with a non-identity affine the last step still allocates).
        """
        p = np.asarray(points, dtype=np.float64)
        inp = np.multiply(p, self.stride, out=out)
        inp += (self.stride - 1) / 2.0  # in place: the same float64 operations, fewer temporaries
        if self._offset is not None:
            inp -= self._offset
        if self._identity:
            return inp  # what the product with the identity gives, without a BLAS call
        return inp @ self._inverse.T


def map_pixel(points_map: np.ndarray) -> np.ndarray:
    """Nearest map pixel ``[..., 2]`` int64 of continuous map coordinates (half rounds up)."""
    return np.floor(np.asarray(points_map, dtype=np.float64) + 0.5).astype(np.int64)

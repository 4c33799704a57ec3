"""Pictures of predictions: a 2D skeleton overlay (OpenCV) and a 3D view (matplotlib, or OpenCV).

Overlay: one colour per person, limbs from the skeleton's parents, joints
as dots; joints that were not detected are not drawn (nor their limbs).

3D view: the network predicts pelvis-relative poses only (no distance to
the camera), so the people are placed side by side, 1 m apart, in the
left-to-right order of their pelvis (or mean detected joint) in the image,
and drawn in camera axes turned upright (x right, depth away, up = -y),
over a grid of 1 m squares.
:func:`~ssmp3d.predict.draw_people.pose3d_people_image` draws one small 3D
view per person instead. Both use matplotlib (Agg canvas, no pyplot state) when it
is installed and otherwise an OpenCV drawing of the same oblique view;
:func:`have_matplotlib` tells which.
"""

from __future__ import annotations

import numpy as np

from .types import ImagePoses

__all__ = ["PALETTE", "draw_overlay", "have_matplotlib", "pose3d_image", "side_by_side"]

#: Person colours, RGB (cycled).
PALETTE = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40), (255, 225, 25))

_SPACING_MM = 1000.0


def have_matplotlib() -> bool:
    """True when matplotlib can be imported (the 3D view then uses it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _color(i: int, color: str) -> tuple[int, int, int]:
    c = PALETTE[i % len(PALETTE)]
    return c[::-1] if color == "bgr" else c


def draw_overlay(image: np.ndarray, poses: ImagePoses, *, color: str = "rgb", thickness: int | None = None) -> np.ndarray:
    """Draws the 2D skeletons of ``poses`` on a copy of ``image``.

    Args:
        image: ``[H, W, 3]`` uint8, the image the poses were predicted on.
        poses: The prediction.
        color: Channel order of ``image`` (``"rgb"`` or ``"bgr"``); person colours follow it.
        thickness: Limb width in pixels (default: from the image size).

    Returns:
        ``[H, W, 3]`` uint8, same channel order.

    Raises:
        ValueError: ``image`` is not an ``[H, W, 3]`` uint8 array.
    """
    import cv2

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image: expected an [H, W, 3] uint8 array, got {image.dtype} {list(image.shape)}")
    out = np.ascontiguousarray(image).copy()
    t = thickness or max(1, int(round(max(image.shape[:2]) / 200)))
    parents = poses.skeleton.parents
    for i, person in enumerate(poses.people):
        c = _color(i, color)
        xy = np.asarray(person.joints2d, dtype=np.float64)
        det = np.asarray(person.detected, dtype=bool) & np.all(np.isfinite(xy), axis=1)
        for j, p in enumerate(parents):
            if p >= 0 and det[j] and det[p]:
                a, b = (tuple(int(round(v)) for v in xy[k]) for k in (j, p))
                cv2.line(out, a, b, c, t, cv2.LINE_AA)
        for j in np.flatnonzero(det):
            centre = tuple(int(round(v)) for v in xy[j])
            cv2.circle(out, centre, t + 1, c, -1, cv2.LINE_AA)
            cv2.circle(out, centre, t + 1, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def side_by_side(poses: ImagePoses) -> np.ndarray:
    """The people's 3D joints placed for one view: ``[N, K, 3]`` mm, person ``i``
    shifted along x by 1 m times its rank in the image's left-to-right order."""
    if not poses.people:
        return np.zeros((0, poses.skeleton.num_joints, 3))
    pel = poses.skeleton.pelvis
    keys = []
    for p in poses.people:
        xy = np.asarray(p.joints2d, dtype=np.float64)
        det = np.asarray(p.detected, dtype=bool)
        keys.append(xy[pel, 0] if det[pel] else float(np.nanmean(xy[det, 0])) if det.any() else 0.0)
    order = np.argsort(keys, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    joints = np.stack([np.asarray(p.joints3d, dtype=np.float64) for p in poses.people])
    shift = (rank - (len(order) - 1) / 2.0) * _SPACING_MM
    joints[..., 0] += shift[:, None]
    return joints


def _upright(joints: np.ndarray) -> np.ndarray:
    """Camera axes (x right, y down, z forward) -> plot axes (x right, depth, up)."""
    return np.stack([joints[..., 0], joints[..., 2], -joints[..., 1]], axis=-1)


def pose3d_image(poses: ImagePoses, size: int | tuple[int, int] = 400, *, title: str | None = None,
                 backend: str = "auto") -> np.ndarray:
    """A 3D view of the people of ``poses`` as an RGB image.

    Args:
        poses: The prediction.
        size: Side, or ``(width, height)``, of the picture in pixels.
        title: Text above the view.
        backend: ``"matplotlib"``, ``"opencv"`` or ``"auto"`` (matplotlib when installed).

    Returns:
        ``[H, W, 3]`` uint8 RGB.

    Raises:
        ImportError: ``backend="matplotlib"`` without matplotlib.
        ValueError: an unknown backend.
    """
    w, h = (size, size) if isinstance(size, int) else size
    if backend == "auto":
        backend = "matplotlib" if have_matplotlib() else "opencv"
    if backend not in ("matplotlib", "opencv"):
        raise ValueError(f"backend: expected 'auto', 'matplotlib' or 'opencv', got {backend!r}")
    joints = _upright(side_by_side(poses))  # [N, K, 3]
    if backend == "matplotlib":
        return _matplotlib_view(joints, poses, (w, h), title)
    return _opencv_view(joints, poses, (w, h), title)


def _limits(joints: np.ndarray) -> tuple[np.ndarray, float]:
    pts = joints.reshape(-1, 3)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        return np.zeros(3), 1000.0
    lo, hi = pts.min(0), pts.max(0)
    return (lo + hi) / 2.0, max(float((hi - lo).max()) / 2.0, 900.0)


def _matplotlib_view(joints, poses, size, title) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MultipleLocator

    w, h = size
    fig = Figure(figsize=(w / 100.0, h / 100.0), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(projection="3d")
    parents = poses.skeleton.parents
    for i, person in enumerate(joints):
        c = np.asarray(PALETTE[i % len(PALETTE)]) / 255.0
        for j, p in enumerate(parents):
            if p >= 0:
                ax.plot(*person[[j, p]].T, color=c, linewidth=2)
        ax.scatter(*person.T, color=c, s=6)
    centre, half = _limits(joints)
    for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
        setter(c - half, c + half)
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=15, azim=-70)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MultipleLocator(1000.0))  # a 1 m grid, no numbers: positions are relative
        axis.set_ticklabels([])
    ax.set_title(title or f"{len(joints)} people", fontsize=8)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=0.92)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _opencv_view(joints, poses, size, title) -> np.ndarray:
    import cv2

    w, h = size
    out = np.full((h, w, 3), 255, np.uint8)
    centre, half = _limits(joints)
    az, el = np.radians(-70.0 + 90.0), np.radians(15.0)
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(el), -np.sin(el)], [0, np.sin(el), np.cos(el)]])
    scale = 0.42 * min(w, h) / half

    def project(points: np.ndarray) -> np.ndarray:  # [..., 3] plot axes -> [..., 2] pixels
        v = (points - centre) @ (rx @ rz).T
        return np.stack([w / 2 + scale * v[..., 0], h / 2 - scale * v[..., 2]], axis=-1)

    ground = centre[2] - half
    for a in np.linspace(-half, half, 5):  # a floor grid for depth cues
        for p, q in (((a, -half), (a, half)), ((-half, a), (half, a))):
            ends = project(np.array([[centre[0] + p[0], centre[1] + p[1], ground],
                                     [centre[0] + q[0], centre[1] + q[1], ground]]))
            cv2.line(out, tuple(int(v) for v in ends[0]), tuple(int(v) for v in ends[1]), (220, 220, 220), 1)
    parents = poses.skeleton.parents
    for i, person in enumerate(joints):
        xy = project(person)
        c = PALETTE[i % len(PALETTE)]
        for j, p in enumerate(parents):
            if p >= 0 and np.all(np.isfinite(xy[[j, p]])):
                cv2.line(out, tuple(int(v) for v in xy[j]), tuple(int(v) for v in xy[p]), c, 2, cv2.LINE_AA)
    label = title or f"{len(joints)} people, pelvis-relative"
    cv2.putText(out, label + " (3D, no matplotlib)", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                cv2.LINE_AA)
    return out

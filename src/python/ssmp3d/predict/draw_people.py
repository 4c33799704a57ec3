"""One small 3D view per person: :func:`pose3d_people_image`, the 3D row of ``ssmp3d demo``.

Each person is centred on its own root (the pelvis, or the mean of its valid
joints) and drawn at one metric scale shared by all panels (a cube of
``extent_mm``), in the colour :func:`~ssmp3d.predict.draw.draw_overlay` gives
that person, standing on a light 1 m floor grid. Panels fill the picture in
the grid that makes the figures largest, so they stay readable whatever the
number of people (the side-by-side view of :func:`~ssmp3d.predict.draw.pose3d_image`
shrinks them as people spread out). matplotlib (Agg canvas) when installed,
else an OpenCV drawing of the same orthographic view at the same scale.
"""

from __future__ import annotations

import numpy as np

from .draw import _color, _upright, have_matplotlib
from .types import ImagePoses

__all__ = ["pose3d_people_image"]


def pose3d_people_image(poses: ImagePoses, size: int | tuple[int, int] = 400, *, max_people: int = 9,
                        title: str | None = None, extent_mm: float = 2000.0, elev: float = 12.0,
                        azim: float = -60.0, backend: str = "auto") -> np.ndarray:
    """One small 3D view per person, in a grid filling the picture, as an RGB image.

    Each person is centred on its own root (the pelvis, or the mean of its
    finite 3D joints when the pelvis is not finite) and drawn at one metric
    scale shared by all panels (orthographic, no perspective): a length of
    ``extent_mm`` spans 94 % of a panel's height, or of its width / 0.7 when
    panels are narrower than that (a standing figure is narrow, so panels may
    be tall). The grid of equal panels is the one where that scale is
    largest. Axes are the camera's turned upright (x right, depth away,
    up = -y), seen obliquely from ``elev`` / ``azim`` (matplotlib's
    convention: ``azim=-90`` looks along the camera's optical axis), with a
    1 m floor grid of 0.5 m squares at the person's lowest joint. Person
    ``i`` of ``poses.people`` has the colour :func:`draw_overlay` gives it;
    limbs join each joint to its parent in ``poses.skeleton.parents`` where
    both are finite. People without a finite 3D joint are skipped; beyond
    ``max_people`` panels the first people (best score first) are shown and
    the title ends in ``(+N more)``.

    Args:
        poses: The prediction (``joints3d [K, 3]`` mm per person; limbs from ``poses.skeleton.parents``).
        size: Side, or ``(width, height)``, of the picture in pixels.
        max_people: Most panels (>= 1).
        title: Text above the panels (default: ``"N people"``).
        extent_mm: Side of the cube around each root that a panel shows, millimetres (> 0).
        elev: Elevation of the view, degrees.
        azim: Azimuth of the view, degrees.
        backend: ``"matplotlib"``, ``"opencv"`` or ``"auto"`` (matplotlib when installed).

    Returns:
        ``[H, W, 3]`` uint8 RGB, ``(W, H)`` = ``size``.

    Raises:
        ImportError: ``backend="matplotlib"`` without matplotlib.
        ValueError: an unknown backend, ``max_people < 1``, ``extent_mm <= 0`` or a size below 1 pixel.
    """
    w, h = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if w < 1 or h < 1:
        raise ValueError(f"size: expected a positive side or (width, height), got {size!r}")
    if isinstance(max_people, bool) or not isinstance(max_people, (int, np.integer)) or max_people < 1:
        raise ValueError(f"max_people: expected an int >= 1, got {max_people!r}")
    if not np.isfinite(extent_mm) or extent_mm <= 0:
        raise ValueError(f"extent_mm: expected a positive number of millimetres, got {extent_mm!r}")
    if backend == "auto":
        backend = "matplotlib" if have_matplotlib() else "opencv"
    if backend not in ("matplotlib", "opencv"):
        raise ValueError(f"backend: expected 'auto', 'matplotlib' or 'opencv', got {backend!r}")
    shown, hidden = _people_panels(poses, int(max_people))
    label = title if title is not None else f"{poses.num_people} people"
    if hidden:
        label += f" (+{hidden} more)"
    layout = _PanelLayout.make(len(shown), w, h, float(extent_mm))
    view = (float(extent_mm) / 2.0, float(elev), float(azim))
    if backend == "matplotlib":
        return _matplotlib_people(shown, poses.skeleton.parents, layout, label, view)
    return _opencv_people(shown, poses.skeleton.parents, layout, label, view)


def _person_root(joints: np.ndarray, pelvis: int) -> np.ndarray | None:
    """The root of ``[K, 3]`` joints: the pelvis if finite, else the mean finite joint, else None."""
    finite = np.all(np.isfinite(joints), axis=1)
    if finite[pelvis]:
        return joints[pelvis]
    return joints[finite].mean(axis=0) if finite.any() else None


def _people_panels(poses: ImagePoses, max_people: int) -> tuple[list[tuple[int, np.ndarray]], int]:
    """``([(person index, [K, 3] upright root-relative mm)], people left out)`` for the panels."""
    valid = []
    for i, person in enumerate(poses.people):
        joints = np.asarray(person.joints3d, dtype=np.float64).reshape(-1, 3)
        root = _person_root(joints, poses.skeleton.pelvis)
        if root is not None:
            valid.append((i, _upright(joints - root)))
    return valid[:max_people], max(0, len(valid) - max_people)


class _PanelLayout:
    """Where :func:`pose3d_people_image` puts its title and panels, and the pixels per millimetre.

    Attributes:
        size: ``(W, H)`` of the picture.
        band: Height of the title band at the top.
        fontsize: Title size in points (at 100 dpi).
        panels: ``(x0, y0)`` top-left pixel of each panel, ``panel`` in size; rows are centred.
        panel: ``(pw, ph)`` of every panel.
        scale: Pixels per millimetre, the same in every panel.
    """

    def __init__(self, size: tuple[int, int], band: int, fontsize: float, panels: list[tuple[int, int]],
                 panel: tuple[int, int], scale: float) -> None:
        self.size, self.band, self.fontsize, self.panels, self.panel, self.scale = (
            size, band, fontsize, panels, panel, scale)

    @staticmethod
    def _span(pw: int, ph: int) -> float:
        """Pixels that the cube's side may span in a ``pw`` x ``ph`` panel (a standing figure is narrow)."""
        return min(ph, pw / _PANEL_MIN_ASPECT)

    @classmethod
    def make(cls, n: int, w: int, h: int, extent_mm: float) -> "_PanelLayout":
        fontsize = float(np.clip(h / 32.0, 8.0, 12.0))
        band = min(h - 1, int(round(fontsize * 100.0 / 72.0 * 1.6)))
        area_h = h - band
        cols, rows = 1, 1
        if n:
            best = -1.0
            for c in range(1, n + 1):  # the grid where figures are largest
                r = -(-n // c)
                span = cls._span(w // c, area_h // r)
                if span > best:
                    best, cols, rows = span, c, r
        pw, ph = w // cols, area_h // rows
        panels = []
        for k in range(n if min(pw, ph) >= 8 else 0):  # no room for a figure: title only
            r, c = divmod(k, cols)
            in_row = min(cols, n - r * cols)
            panels.append(((w - in_row * pw) // 2 + c * pw, band + (area_h - rows * ph) // 2 + r * ph))
        scale = _PANEL_FILL * cls._span(pw, ph) / extent_mm
        return cls((w, h), band, fontsize, panels, (pw, ph), scale)


#: Share of a panel that the cube's side spans (the rest is margin).
_PANEL_FILL = 0.94
#: A panel's width may be this share of the cube's side (in pixels) without shrinking the figures.
_PANEL_MIN_ASPECT = 0.7
_FLOOR_MM = 500.0


def _view_axes(elev: float, azim: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Screen right, screen up and towards-the-viewer unit vectors in plot axes, as matplotlib's view."""
    e, a = np.radians(elev), np.radians(azim)
    right = np.array([-np.sin(a), np.cos(a), 0.0])
    up = np.array([-np.sin(e) * np.cos(a), -np.sin(e) * np.sin(a), np.cos(e)])
    toward = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
    return right, up, toward


def _floor_segments(joints: np.ndarray) -> np.ndarray:
    """``[S, 2, 3]`` a grid of 0.5 m squares, 1 m across, under the lowest finite joint of ``joints``."""
    z = joints[np.all(np.isfinite(joints), axis=1), 2].min()
    ticks = np.linspace(-_FLOOR_MM, _FLOOR_MM, 3)
    segs = [[(t, -_FLOOR_MM, z), (t, _FLOOR_MM, z)] for t in ticks]
    segs += [[(-_FLOOR_MM, t, z), (_FLOOR_MM, t, z)] for t in ticks]
    return np.asarray(segs, dtype=np.float64)


def _limb_pairs(joints: np.ndarray, parents) -> list[tuple[int, int]]:
    return [(j, p) for j, p in enumerate(parents) if p >= 0 and np.all(np.isfinite(joints[[j, p]]))]


def _limb_width(layout: _PanelLayout) -> float:
    """Limb width in pixels: from the size of a person in the panels."""
    return max(1.5, layout.scale * 1000.0 / 16.0)


def _matplotlib_people(shown, parents, layout: _PanelLayout, label: str, view) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    from mpl_toolkits.mplot3d import proj3d

    half, elev, azim = view
    w, h = layout.size
    fig = Figure(figsize=(w / 100.0, h / 100.0), dpi=100)
    canvas = FigureCanvasAgg(fig)
    fig.text(0.5, 1.0 - layout.band / 2.0 / h, label, ha="center", va="center", fontsize=layout.fontsize)
    if not shown:
        fig.text(0.5, 0.5 - layout.band / 2.0 / h, "no 3D joints", ha="center", va="center",
                 fontsize=layout.fontsize, color="0.6")
    pw, ph = layout.panel
    side = max(pw, ph)  # a 3D axes is square: it overhangs its panel, clipped to it
    width_pt = _limb_width(layout) * 72.0 / 100.0  # pixels -> points at 100 dpi
    axes = []
    for (i, joints), (x0, y0) in zip(shown, layout.panels):
        frame = Rectangle((x0 / w, 1.0 - (y0 + ph) / h), pw / w, ph / h, transform=fig.transFigure, fill=False,
                          edgecolor="none")
        fig.patches.append(Rectangle(((x0 + 0.5) / w, 1.0 - (y0 + ph - 0.5) / h), (pw - 1.0) / w, (ph - 1.0) / h,
                                     transform=fig.transFigure, fill=False, edgecolor="0.88", linewidth=0.72))
        cx, cy = x0 + pw / 2.0, y0 + ph / 2.0
        ax = fig.add_axes(((cx - side / 2.0) / w, 1.0 - (cy + side / 2.0) / h, side / w, side / h), projection="3d")
        ax.set_axis_off()
        ax.patch.set_visible(False)
        ax.set_proj_type("ortho")
        for setter in (ax.set_xlim, ax.set_ylim, ax.set_zlim):
            setter(-half, half)
        ax.view_init(elev=elev, azim=azim)
        artists = [ax.plot(*seg.T, color="0.8", linewidth=0.5 * width_pt)[0] for seg in _floor_segments(joints)]
        c = np.asarray(_color(i, "rgb")) / 255.0
        for j, p in _limb_pairs(joints, parents):
            artists += ax.plot(*joints[[j, p]].T, color=c, linewidth=width_pt, solid_capstyle="round")
        finite = joints[np.all(np.isfinite(joints), axis=1)]
        artists.append(ax.scatter(*finite.T, color=c, s=(1.2 * width_pt) ** 2, depthshade=False))
        for artist in artists:
            artist.set_clip_path(frame)
        axes.append(ax)
    if axes:  # one zoom for all panels, found by projecting a known length: layout.scale pixels per mm
        ax = axes[0]
        ax.set_box_aspect((1, 1, 1))
        ax.apply_aspect()
        right, _, _ = _view_axes(elev, azim)
        ends = np.stack([-half * right, half * right])
        x, y, _ = proj3d.proj_transform(ends[:, 0], ends[:, 1], ends[:, 2], ax.get_proj())
        px = ax.transData.transform(np.stack([x, y], axis=1))
        measured = float(np.hypot(*(px[1] - px[0])))
        zoom = layout.scale * 2.0 * half / measured if measured > 0 else 1.0
        for ax in axes:
            ax.set_box_aspect((1, 1, 1), zoom=zoom)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _opencv_people(shown, parents, layout: _PanelLayout, label: str, view) -> np.ndarray:
    import cv2

    half, elev, azim = view
    w, h = layout.size
    out = np.full((h, w, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX

    def text(s: str, cy: float, colour) -> None:
        (tw, th), _ = cv2.getTextSize(s, font, 1.0, 1)
        scale = min(0.6 * layout.band / th, (w - 4) / tw)
        if scale <= 0:
            return
        (tw, th), _ = cv2.getTextSize(s, font, scale, 1)
        cv2.putText(out, s, (int(round((w - tw) / 2)), int(round(cy + th / 2))), font, scale, colour, 1, cv2.LINE_AA)

    text(label, layout.band / 2.0, (0, 0, 0))
    if not shown:
        text("no 3D joints", (layout.band + h) / 2.0, (150, 150, 150))
    right, up, toward = _view_axes(elev, azim)
    pw, ph = layout.panel
    t = max(1, int(round(0.75 * _limb_width(layout))))  # OpenCV's anti-aliased lines look wider than Agg's
    radius = max(1, int(round(0.6 * _limb_width(layout))))

    def project(points: np.ndarray) -> np.ndarray:  # [..., 3] plot axes, mm -> [..., 2] panel pixels
        return np.stack([pw / 2.0 + layout.scale * points @ right, ph / 2.0 - layout.scale * points @ up], axis=-1)

    def pt(xy) -> tuple[int, int]:
        return int(round(xy[0])), int(round(xy[1]))

    for (i, joints), (x0, y0) in zip(shown, layout.panels):
        panel = np.full((ph, pw, 3), 255, np.uint8)
        for seg in project(_floor_segments(joints)):
            cv2.line(panel, pt(seg[0]), pt(seg[1]), (205, 205, 205), 1, cv2.LINE_AA)
        c = _color(i, "rgb")
        xy, depth = project(joints), joints @ toward
        for j, p in sorted(_limb_pairs(joints, parents), key=lambda jp: depth[jp[0]] + depth[jp[1]]):  # far first
            cv2.line(panel, pt(xy[j]), pt(xy[p]), c, t, cv2.LINE_AA)
        for j in np.flatnonzero(np.all(np.isfinite(joints), axis=1)):
            cv2.circle(panel, pt(xy[j]), radius, c, -1, cv2.LINE_AA)
        cv2.rectangle(panel, (0, 0), (pw - 1, ph - 1), (225, 225, 225), 1)
        out[y0:y0 + ph, x0:x0 + pw] = panel
    return out

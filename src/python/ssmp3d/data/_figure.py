"""Geometry and drawing of one synthetic person (used by :mod:`ssmp3d.data.render`).

:func:`body_points` derives, for all people at once, the 3D points the
figure is drawn from (torso corners, hands, heels and toes, head, hair and
face centres, eyes, nose, mouth) from the skeleton joints. :func:`draw_person`
draws one person's part groups back to front, each part as shaded bands.
"""

from __future__ import annotations

import math

import numpy as np

from ..skeleton import Skeleton

_SHIFT = 4  # fixed-point bits of OpenCV drawing coordinates
_ONE = 1 << _SHIFT


class FigureJoints:
    """Skeleton joint indices by name for the renderer (``idx``: name -> index).

    Raises:
        ValueError: the skeleton lacks a joint the figure is built from.
    """

    def __init__(self, skeleton: Skeleton):
        idx = {n: i for i, n in enumerate(skeleton.joints)}
        idx.setdefault("neck", idx.get("thorax", -1))
        need = ["pelvis", "neck"] + [f"{s}_{p}" for s in "lr" for p in
                                     ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]
        missing = [n for n in need if idx.get(n, -1) < 0]
        if missing or not (("l_ear" in idx and "r_ear" in idx) or "head" in idx):
            raise ValueError(f"skeleton: {skeleton.name!r} lacks joints the renderer draws: "
                             f"{missing or ['l_ear/r_ear or head']}")
        self.idx = idx


def _unit(v: np.ndarray, fallback) -> np.ndarray:
    """Rows of ``v [N, 3]`` normalised; ``fallback [3]`` where degenerate."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    ok = np.isfinite(n) & (n > 1e-9)
    return np.where(ok, v / np.where(ok, n, 1.0), np.asarray(fallback, dtype=np.float64))


def shade(c, k: float) -> tuple[int, int, int]:
    """Darkens (``k < 1``) or lightens toward white (``k > 1``) an RGB colour."""
    return tuple(int(min(255, max(0, round(v * k if k < 1 else v + (255 - v) * (k - 1))))) for v in c)


# Primitive templates: (kind, point slots, radii in mm for a 1.75 m person, material).
# Groups are drawn back to front by their first primitive's far-surface depth.
_GROUPS = (
    (("poly", ("tl", "tr", "br", "bl"), (120,), "shirt"), ("cap", ("pelvis", "neck"), (110, 110), "shirt"),
     ("cap", ("l_hip", "r_hip"), (85, 85), "trousers")),
    *((("cap", (f"{s}_shoulder", f"{s}_elbow"), (52, 44), "shirt"),) for s in "lr"),
    *((("cap", (f"{s}_elbow", f"{s}_wrist"), (42, 34), "sleeve"),
       ("cap", (f"{s}_wrist", f"{s}_hand"), (36, 30), "skin")) for s in "lr"),
    *((("cap", (f"{s}_hip", f"{s}_knee"), (80, 60), "trousers"),) for s in "lr"),
    *((("cap", (f"{s}_knee", f"{s}_ankle"), (56, 44), "shank"),
       ("cap", (f"{s}_heel", f"{s}_toe"), (45, 40), "shoes")) for s in "lr"),
    (("cap", ("neck", "neck_top"), (50, 48), "skin"), ("head", (), (), "")),
)
SLOTS = ("pelvis", "neck", "tl", "tr", "br", "bl", "neck_top", "hair", "hair_up", "face", "face_up",
          "eye_l", "eye_r", "nose", "mouth_l", "mouth_r",
          *(f"{s}_{p}" for s in "lr" for p in ("shoulder", "elbow", "wrist", "hand", "hip", "knee",
                                                "ankle", "heel", "toe")))
SLOT = {n: i for i, n in enumerate(SLOTS)}
BANDS = ((1.0, 0.62), (0.72, 1.0), (0.3, 1.3))  # (radius factor, shade) rim, base, highlight


def body_points(x: np.ndarray, j: FigureJoints):
    """Derived 3D points of all people (vectorised over people).

    Args:
        x: ``[N, K, 3]`` camera-frame joints (mm).

    Returns:
        ``pts [N, S, 3]`` (slots :data:`SLOTS`), ``scale [N]``, head radius
        ``[N]`` (mm), face-mark flags ``[N, 3]`` (left eye, right eye, nose
        and mouth face the camera).
    """
    def g(name):
        return x[:, j.idx[name]]

    pelvis, neck = g("pelvis"), g("neck")
    s = np.linalg.norm(neck - pelvis, axis=-1) / 500.0
    s = np.clip(np.where(np.isfinite(s), s, 1.0), 0.6, 1.5)[:, None]
    left = _unit(g("l_hip") - g("r_hip"), (1, 0, 0))
    down = _unit(pelvis - neck, (0, 1, 0))
    fwd = _unit(np.cross(down, left), (0, 0, -1))
    head = 0.5 * (g("l_ear") + g("r_ear")) if "l_ear" in j.idx and "r_ear" in j.idx else neck + 0.64 * (g("head") - neck)
    up_h = _unit(head - neck, (0, -1, 0))
    hf = g("nose") - head if "nose" in j.idx else fwd
    fwd_h = _unit(hf - np.sum(hf * up_h, -1, keepdims=True) * up_h, (0, 0, -1))
    left_h = np.cross(up_h, fwd_h)
    rh = 105.0 * s
    p = {"pelvis": pelvis, "neck": neck, "neck_top": neck + 0.55 * (head - neck)}
    p["tl"], p["tr"] = g("l_shoulder") + 40 * s * left, g("r_shoulder") - 40 * s * left
    p["br"], p["bl"] = g("r_hip") - 35 * s * left, g("l_hip") + 35 * s * left
    p["hair"] = head + 0.3 * rh * up_h - 0.3 * rh * fwd_h
    p["face"] = head + 0.2 * rh * fwd_h - 0.1 * rh * up_h
    p["hair_up"], p["face_up"] = p["hair"] + rh * up_h, p["face"] + rh * up_h
    if "l_eye" in j.idx and "r_eye" in j.idx:
        p["eye_l"], p["eye_r"] = g("l_eye"), g("r_eye")
    else:
        p["eye_l"], p["eye_r"] = (head + (60 * fwd_h + sg * 32 * left_h) * s for sg in (1.0, -1.0))
    p["nose"] = g("nose") if "nose" in j.idx else head + 95 * s * fwd_h
    mouth = p["nose"] - 45 * s * up_h
    p["mouth_l"], p["mouth_r"] = mouth + 22 * s * left_h, mouth - 22 * s * left_h
    for sd in "lr":
        for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle"):
            p[f"{sd}_{part}"] = g(f"{sd}_{part}")
        wr, an = p[f"{sd}_wrist"], p[f"{sd}_ankle"]
        p[f"{sd}_hand"] = wr + 90 * s * _unit(wr - p[f"{sd}_elbow"], (0, 1, 0))
        p[f"{sd}_heel"] = an + 50 * s * down - 40 * s * fwd
        p[f"{sd}_toe"] = an + 65 * s * down + 150 * s * fwd
    pts = np.stack([p[n] for n in SLOTS], axis=1)

    def faces(q, n):  # the surface normal n at q turns toward the camera (origin)
        return np.sum(n * -q, -1) > 0.1 * np.linalg.norm(q, axis=-1)

    flags = np.stack([faces(p["eye_l"], _unit(p["eye_l"] - head, (0, 0, -1))),
                      faces(p["eye_r"], _unit(p["eye_r"] - head, (0, 0, -1))), faces(p["nose"], fwd_h)], -1)
    return pts, s[:, 0], rh[:, 0], flags


def _fix(v: float) -> int:
    return round(v * _ONE)


def _capsule(cv2, img, a, b, ra: float, rb: float, col, lt) -> None:
    """A tapered capsule: end discs of radii ``ra``, ``rb`` (px) joined by a quad."""
    (ax, ay), (bx, by) = a, b
    cv2.circle(img, (_fix(ax), _fix(ay)), max(_fix(ra), 1), col, -1, lt, _SHIFT)
    cv2.circle(img, (_fix(bx), _fix(by)), max(_fix(rb), 1), col, -1, lt, _SHIFT)
    dx, dy = bx - ax, by - ay
    n = math.hypot(dx, dy)
    if n > 1e-6:
        nx, ny = -dy / n, dx / n
        quad = np.array([[ax + ra * nx, ay + ra * ny], [bx + rb * nx, by + rb * ny],
                         [bx - rb * nx, by - rb * ny], [ax - ra * nx, ay - ra * ny]])
        cv2.fillConvexPoly(img, np.round(quad * _ONE).astype(np.int32), col, lt, _SHIFT)


def _ellipse(cv2, img, c, up, r: float, col, lt) -> None:
    """A head ellipse at ``c``, long axis (1.12 r) toward ``up``, short axis 0.92 r."""
    d = (up[0] - c[0], up[1] - c[1])
    ang = math.degrees(math.atan2(d[1], d[0])) if math.hypot(*d) > 1e-6 else 90.0
    cv2.ellipse(img, (_fix(c[0]), _fix(c[1])), (max(_fix(1.12 * r), 1), max(_fix(0.92 * r), 1)), ang,
                0, 360, col, -1, lt, _SHIFT)


def draw_person(cv2, img, labels, label, uv, z, ok, s, rh, flags, mats, cfg, fx, lt) -> None:
    """Draws one person's part groups back to front by far-surface depth.

    Args:
        cv2: The OpenCV module.
        img: ``[H, W, 3]`` uint8 image (drawn in place).
        labels: ``[H, W]`` uint8 label map or None (rim band only, no anti-aliasing).
        label: This person's label value.
        uv, z, ok: Per slot (:data:`SLOTS`) pixel position ``[S][2]``, depth
            ``[S]`` (mm) and drawability ``[S]``, as Python lists.
        s, rh: Body scale and head radius (mm).
        flags: Face marks facing the camera (left eye, right eye, nose/mouth).
        mats: Material name -> band colours.
        cfg: The :class:`~ssmp3d.data.render.RenderConfig`.
        fx: Focal length in pixels.
        lt: OpenCV line type of the image.
    """
    sc = cfg.radius_scale * fx * s  # px per mm at depth 1 mm
    keys = []
    for gi, grp in enumerate(_GROUPS):
        k = -math.inf
        for kind, slots, radii, _ in grp:
            sl = slots if kind != "head" else ("hair", "face")
            zz = sum(z[SLOT[n]] for n in sl) / len(sl)
            k = max(k, zz + (max(radii) * s if kind != "head" else rh))
        keys.append((-k, gi))
    bands = BANDS if cfg.shading else ((1.0, 1.0),)
    for _, gi in sorted(keys):
        for kind, slots, radii, mat in _GROUPS[gi]:
            if kind == "head":
                _draw_head(cv2, img, labels, label, uv, z, ok, rh, flags, mats, cfg, fx, lt)
                continue
            ids = [SLOT[n] for n in slots]
            if not all(ok[i] for i in ids):
                continue
            cols = mats[mat]
            for bi, (f, _) in enumerate(bands):
                dsts = ((img, cols[bi], lt), (labels, label, cv2.LINE_8)) if bi == 0 and labels is not None \
                    else ((img, cols[bi], lt),)
                for dst, col, t in dsts:
                    if kind == "cap":
                        _capsule(cv2, dst, uv[ids[0]], uv[ids[1]], f * sc * radii[0] / z[ids[0]],
                                 f * sc * radii[1] / z[ids[1]], col, t)
                    else:  # torso polygon, shrunk toward its centroid for the inner bands
                        q = np.asarray([uv[i] for i in ids])
                        c = q.mean(axis=0)
                        q = np.round((c + (0.25 + 0.75 * f) * (q - c)) * _ONE).astype(np.int32)
                        cv2.fillPoly(dst, [q], col, t, _SHIFT)


def _draw_head(cv2, img, labels, label, uv, z, ok, rh, flags, mats, cfg, fx, lt) -> None:
    """Hair and face ellipses (farther first), then face marks that face the camera."""
    parts = sorted((("hair", "hair_up", "hair", 1.0), ("face", "face_up", "skin", 0.88)),
                   key=lambda p: -z[SLOT[p[0]]])
    bands = BANDS if cfg.shading else ((1.0, 1.0),)
    for c, up, mat, k in parts:
        ic, iu = SLOT[c], SLOT[up]
        if not (ok[ic] and ok[iu]):
            continue
        r = cfg.radius_scale * fx * k * rh / z[ic]
        for bi, (f, _) in enumerate(bands):
            _ellipse(cv2, img, uv[ic], uv[iu], f * r, mats[mat][bi], lt)
            if bi == 0 and labels is not None:
                _ellipse(cv2, labels, uv[ic], uv[iu], r, label, cv2.LINE_8)
    if not cfg.face:
        return
    sc = cfg.radius_scale * fx * rh / 105.0  # px per mm at depth 1 mm
    for flag, slot, rad, col in ((flags[0], "eye_l", 11, (25, 20, 20)), (flags[1], "eye_r", 11, (25, 20, 20)),
                                 (flags[2], "nose", 13, mats["skin"][0])):
        i = SLOT[slot]
        if flag and ok[i]:
            cv2.circle(img, (_fix(uv[i][0]), _fix(uv[i][1])), max(_fix(sc * rad / z[i]), _ONE // 2),
                       col, -1, lt, _SHIFT)
    a, b = SLOT["mouth_l"], SLOT["mouth_r"]
    if flags[2] and ok[a] and ok[b]:
        cv2.line(img, (_fix(uv[a][0]), _fix(uv[a][1])), (_fix(uv[b][0]), _fix(uv[b][1])), (120, 40, 40),
                 max(round(sc * 6 / z[a]), 1), lt, _SHIFT)



"""A miniature Human3.6M tree in the 3DMPPE JSON layout, with generated images.

The cameras are the published ones of subject 1 (cameras 1 and 2: R and t
as released, ``t = -R C``), their intrinsics divided by 4 for 250-pixel
images (the real ones are 1000 x 1002 and 1000 x 1000). The person is a
standing pose walking and turning about the world Z axis (up). The 2D joints
are projected here with plain formulas, independently of ``ssmp3d.geometry``,
and returned for the tests to compare with.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

SOURCE_JOINTS = ("Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Nose",
                 "Head", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist")
ACTION_NAMES = {2: "Directions", 3: "Discussion", 4: "Eating"}

# Subject 1, cameras 1 and 2, as released (R, t in mm, f and c in pixels of 1000-pixel images).
CAMERAS = {
    1: {"R": [[-0.9153617321513369, 0.40180836633680234, 0.02574754463350265],
              [0.051548117060134555, 0.1803735689384521, -0.9822464900705729],
              [-0.399319034032262, -0.8977836111057917, -0.185819527201491]],
        "t": [-346.05078140028075, 546.9807793144001, 5474.481087434061],
        "f": [1145.04940458804, 1143.78109572365], "c": [512.541504956548, 515.4514869776]},
    2: {"R": [[0.9281683400814921, 0.3721538354721445, 0.002248380248018696],
              [0.08166409428175585, -0.1977722953267526, -0.976840363061605],
              [-0.3630902204349604, 0.9068559102440475, -0.21395758897485287]],
        "t": [251.42516271750836, 420.9422103702068, 5588.195881837821],
        "f": [1149.67569986785, 1147.59161666764], "c": [508.848621645943, 508.064917088557]},
}
S1_CAMERA1_CENTRE = (1841.107028, 4955.284623, 1563.445396)  # Human3.6M metadata, world mm
SIZES = {1: (250, 251), 2: (250, 250)}  # (width, height)
SCALE = 0.25

# A standing person facing +Y of the world (Z up), pelvis at the origin: source-order joints, mm.
_POSE = {
    "Pelvis": (0, 0, 0), "R_Hip": (-130, 0, -10), "R_Knee": (-140, 20, -450), "R_Ankle": (-150, 0, -880),
    "L_Hip": (130, 0, -10), "L_Knee": (140, 30, -450), "L_Ankle": (150, 0, -880), "Torso": (0, 10, 230),
    "Neck": (0, 20, 480), "Nose": (0, 110, 600), "Head": (0, 30, 700), "L_Shoulder": (180, 10, 460),
    "L_Elbow": (260, 60, 200), "L_Wrist": (280, 200, 20), "R_Shoulder": (-180, 10, 460),
    "R_Elbow": (-250, -20, 190), "R_Wrist": (-270, 40, -60),
}
_LIMBS = ((0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10), (8, 11), (11, 12),
          (12, 13), (8, 14), (14, 15), (15, 16))

RICH = {"actions": (2, 4), "subactions": (1,), "cameras": (1, 2), "frames": 6}
POOR = {"actions": (2,), "subactions": (1,), "cameras": (1,), "frames": 2}
DEFAULT_SUBJECTS = {1: RICH, 9: RICH, 5: POOR, 6: POOR, 7: POOR, 8: POOR, 11: POOR}


def camera_entry(cam: int) -> dict:
    """The scaled camera entry of ``_camera.json``."""
    e = CAMERAS[cam]
    return {"R": e["R"], "t": e["t"], "f": [v * SCALE for v in e["f"]], "c": [v * SCALE for v in e["c"]]}


def world_pose(subject: int, action: int, subaction: int, frame: int) -> np.ndarray:
    """``[17, 3]`` world joints (mm, source order) of one frame: the pose turned and moved."""
    pose = np.array([_POSE[n] for n in SOURCE_JOINTS], dtype=np.float64)
    a = math.radians(40.0 * frame + 25.0 * action + 7.0 * subject)
    rot = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
    shift = np.array([60.0 * frame - 150.0, 40.0 * action - 100.0, 920.0 + 3.0 * subaction])
    return pose @ rot.T + shift


def project(world: np.ndarray, cam: int) -> np.ndarray:
    """``[17, 2]`` pixels of ``world`` in the scaled camera ``cam``: ``f (R Xw + t)_xy / z + c``."""
    e = camera_entry(cam)
    xc = world @ np.asarray(e["R"]).T + np.asarray(e["t"])
    return xc[:, :2] / xc[:, 2:] * np.asarray(e["f"]) + np.asarray(e["c"])


def file_name(subject: int, action: int, subaction: int, cam: int, frame: int) -> str:
    """``s_SS_act_AA_subact_BB_ca_CC/..._{frame + 1:06d}.jpg`` as in the layout."""
    folder = f"s_{subject:02d}_act_{action:02d}_subact_{subaction:02d}_ca_{cam:02d}"
    return f"{folder}/{folder}_{frame + 1:06d}.jpg"


def _draw(uv: np.ndarray, size: tuple[int, int], seed: int) -> np.ndarray:
    import cv2

    w, h = size
    rng = np.random.default_rng(seed)
    image = np.full((h, w, 3), 90, np.uint8) + rng.integers(0, 30, (h, w, 3), dtype=np.uint8)
    for a, b in _LIMBS:
        p, q = (tuple(int(round(v)) for v in uv[j]) for j in (a, b))
        cv2.line(image, p, q, (40, 160, 230), 3, cv2.LINE_AA)
    for j, (u, v) in enumerate(uv):
        cv2.circle(image, (int(round(u)), int(round(v))), 3, (255, 255 - 12 * j, 12 * j), -1, cv2.LINE_AA)
    return image


def make_h36m_tree(root: Path, subjects: dict | None = None, images: bool = True) -> dict:
    """Writes the tree under ``root``; returns ``{file_name: [17, 2] generated pixels}``.

    Args:
        root: Target folder (``annotations/`` and ``images/`` are created).
        subjects: ``{subject: {"actions", "subactions", "cameras", "frames"}}``;
            default :data:`DEFAULT_SUBJECTS`.
        images: Write the JPEG images too.
    """
    import cv2

    root = Path(root)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    truth: dict[str, np.ndarray] = {}
    img_id = 0
    for s, spec in (DEFAULT_SUBJECTS if subjects is None else subjects).items():
        imgs, anns, joints = [], [], {}
        for a in spec["actions"]:
            for sa in spec["subactions"]:
                for f in range(spec["frames"]):
                    world = world_pose(s, a, sa, f)
                    joints.setdefault(str(a), {}).setdefault(str(sa), {})[str(f)] = world.tolist()
                    for c in spec["cameras"]:
                        name = file_name(s, a, sa, c, f)
                        w, h = SIZES[c]
                        uv = project(world, c)
                        truth[name] = uv
                        imgs.append({"id": img_id, "file_name": name, "width": w, "height": h, "subject": s,
                                     "action_name": ACTION_NAMES[a], "action_idx": a, "subaction_idx": sa,
                                     "cam_idx": c, "frame_idx": f})
                        lo, hi = uv.min(0), uv.max(0)
                        vis = ((uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)).tolist()
                        anns.append({"id": img_id, "image_id": img_id, "keypoints_vis": vis,
                                     "bbox": [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]),
                                              float(hi[1] - lo[1])]})
                        if images:
                            path = root / "images" / name
                            path.parent.mkdir(parents=True, exist_ok=True)
                            cv2.imwrite(str(path), _draw(uv, (w, h), img_id))
                        img_id += 1
        cams = {str(c): camera_entry(c) for c in sorted(set(spec["cameras"]))}
        ann = root / "annotations"
        (ann / f"Human36M_subject{s}_data.json").write_text(json.dumps({"images": imgs, "annotations": anns}))
        (ann / f"Human36M_subject{s}_camera.json").write_text(json.dumps(cams))
        (ann / f"Human36M_subject{s}_joint_3d.json").write_text(json.dumps(joints))
    return truth

"""The demo behind ``ssmp3d demo``: synthetic scenes through the network and every decoder.

Scenes come from the fixed synthetic test set (:class:`~ssmp3d.data.dataset.SyntheticTestSet`,
seed :data:`~ssmp3d.train.evaluate.EVAL_SEED`) at the checkpoint's input
size, with the scene preset and people count it was trained on. The
network runs once on all of them; every available decoder backend
(:func:`~ssmp3d.decoding.available_backends`) decodes the same maps, and the
demo checks that they find the same people (same joints detected and
read-out sources; 2D and 3D joints within :data:`TOLERANCE`). Timings are
medians over ``repeat`` runs after ``warmup`` runs, per frame (a batch of
all scenes divided by their number), CUDA work synchronised inside the timed
call; the decoders are timed through :func:`ssmp3d.decoding.decode`, the
public call. Writes ``demo.png`` (top row: 2D overlays; bottom row: one
small 3D view per person at a shared metric scale,
:func:`~ssmp3d.predict.draw_people.pose3d_people_image`) and ``demo.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .bench import _median_seconds, machine_info
from .data.augment import AugmentConfig
from .data.dataset import SyntheticTestSet
from .decoding import available_backends, decode
from .eval import EvalConfig, Evaluator
from .eval.report import json_safe
from .geometry import MapTransform
from .predict import ImagePoses, Predictor
from .predict.draw import draw_overlay, have_matplotlib
from .predict.draw_people import pose3d_people_image
from .train.config import TrainConfig
from .train.evaluate import EVAL_SEED
from .train.trainer import data_config

__all__ = ["TOLERANCE", "DemoConfig", "compare_poses", "demo_picture", "run_demo"]

#: Largest differences allowed between backends: 2D pixels, 3D millimetres.
TOLERANCE = {"joints2d_px": 1e-3, "joints3d_mm": 1e-2}


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs.

    Attributes:
        scenes: Synthetic scenes (>= 1).
        seed: Seed of the synthetic test set.
        repeat: Timed runs (the median is reported).
        warmup: Untimed runs first.
        cell: Side of each picture cell in pixels (0: the network input size, at least 256).
    """

    scenes: int = 4
    seed: int = EVAL_SEED
    repeat: int = 5
    warmup: int = 1
    cell: int = 0

    def __post_init__(self) -> None:
        for name, low in (("scenes", 1), ("seed", 0), ("repeat", 1), ("warmup", 0), ("cell", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")


def compare_poses(a: list[ImagePoses], b: list[ImagePoses]) -> dict:
    """How far two backends' predictions of the same frames are apart.

    Returns:
        ``{"same_people": bool, "max_joints2d_px": float, "max_joints3d_mm": float}``:
        same people means equal counts, detected masks and read-out sources
        per person and frame, and coordinates within :data:`TOLERANCE`.
    """
    same, d2, d3 = True, 0.0, 0.0
    for pa, pb in zip(a, b, strict=True):
        if pa.num_people != pb.num_people:
            same = False
            continue
        for x, y in zip(pa.people, pb.people):
            if not (np.array_equal(x.detected, y.detected) and np.array_equal(x.readout_rule, y.readout_rule)
                    and np.array_equal(x.readout_joint, y.readout_joint)):
                same = False
                continue
            det = np.asarray(x.detected, dtype=bool)
            if det.any():
                d2 = max(d2, float(np.abs(x.joints2d[det] - y.joints2d[det]).max()))
            d3 = max(d3, float(np.abs(x.joints3d - y.joints3d).max()))
    same = same and d2 <= TOLERANCE["joints2d_px"] and d3 <= TOLERANCE["joints3d_mm"]
    return {"same_people": same, "max_joints2d_px": d2, "max_joints3d_mm": d3}


def demo_picture(images: list[np.ndarray], poses: list[ImagePoses], cell: int) -> np.ndarray:
    """2D overlays above 3D views, one column per scene: ``[2 * cell, n * cell, 3]`` uint8 RGB.

    The 3D cell of a scene has one panel per person (:func:`~ssmp3d.predict.draw_people.pose3d_people_image`),
    in the person's overlay colour, under the title ``"scene i: N people"``.
    """
    import cv2

    top = [cv2.resize(draw_overlay(im, p), (cell, cell), interpolation=cv2.INTER_LINEAR)
           for im, p in zip(images, poses)]
    bottom = [pose3d_people_image(p, cell, title=f"scene {i}: {p.num_people} people") for i, p in enumerate(poses)]
    return np.vstack([np.hstack(top), np.hstack(bottom)])


def run_demo(predictor: Predictor, out_dir: str | os.PathLike, config: DemoConfig = DemoConfig(), *,
             progress: Callable[[int], None] = lambda n: None) -> dict:
    """Runs the demo (module notes) and writes ``demo.png`` and ``demo.json`` into ``out_dir``.

    Args:
        predictor: The network and decoder settings (its backend is ignored: all are run).
        out_dir: Output folder (created).
        config: Scenes and timing repeats.
        progress: Called with 1 after each step (the network, then each backend, then the picture).

    Returns:
        ``demo.json``'s content: ``checkpoint``, ``step``, ``device``, ``scenes``,
        ``people`` (ground truth), ``timings`` (``model_ms_per_frame``,
        ``decoders``: per backend ``ms_per_frame`` and ``ratio_to_python`` = python
        time / backend time), ``backends_agree`` and ``comparison`` (per backend
        against python), ``metrics`` (MPJPE, recall, precision of the python
        decoder's people), ``picture``, ``renderer_3d``, ``machine``, ``frames``
        (the python backend's :meth:`ImagePoses.to_dict` per scene).
    """
    if not isinstance(config, DemoConfig):
        raise TypeError(f"config: expected a DemoConfig, got {type(config).__name__}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stored = predictor.checkpoint_config
    run_config = TrainConfig(model=predictor.model.config, preset=stored.get("preset", "sparse"),
                             max_people=stored.get("max_people", 4))
    test_set = SyntheticTestSet(config.seed, config.scenes, skeleton=predictor.skeleton,
                                **{**data_config(run_config), "augment_config": AugmentConfig.none()})
    pairs = [test_set.image_and_scene(i) for i in range(config.scenes)]
    images = [im for im, _ in pairs]
    inputs, affines = predictor.preprocess(images)
    sizes = [(im.shape[1], im.shape[0]) for im in images]
    device = predictor.device
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    model_s = _median_seconds(lambda: predictor.infer(inputs), config.repeat, config.warmup, sync)
    with torch.inference_mode():
        last = predictor.model(inputs)[-1]
    progress(1)
    backends = ("python",) + tuple(b for b in available_backends() if b != "python")
    transform = MapTransform(affine=affines[0], stride=predictor.model.config.stride)
    poses: dict[str, list[ImagePoses]] = {}
    decoders: dict[str, dict] = {}
    for backend in backends:
        maps = [x.float() if backend == "cuda" else x.float().cpu() for x in last]
        if backend == "cuda" and maps[0].device.type != "cuda":
            maps = [x.cuda() for x in maps]

        def run(maps=maps, backend=backend):
            return decode(*maps, predictor.decode_config, skeleton=predictor.skeleton, transform=transform,
                          backend=backend)

        seconds = _median_seconds(run, config.repeat, config.warmup, sync)
        poses[backend] = predictor.decode(type(last)(*maps), affines, sizes, backend=backend)
        ms = 1e3 * seconds / config.scenes
        decoders[backend] = {"ms_per_frame": ms, "ratio_to_python": None}
        progress(1)
    for backend, row in decoders.items():
        row["ratio_to_python"] = decoders["python"]["ms_per_frame"] / row["ms_per_frame"]
    comparison = {b: compare_poses(poses["python"], poses[b]) for b in backends if b != "python"}
    evaluator = Evaluator(predictor.skeleton, EvalConfig())
    for p, (_, scene) in zip(poses["python"], pairs):
        evaluator.add(list(p.people), scene)
    report = evaluator.report().to_dict()
    cell = config.cell or max(predictor.input_size, 256)
    picture = demo_picture(images, poses["python"], cell)
    import cv2

    picture_path = out / "demo.png"
    if not cv2.imwrite(str(picture_path), picture[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise ValueError(f"{picture_path}: cannot write the picture")
    progress(1)
    result = {
        "checkpoint": str(predictor.checkpoint_path), "step": predictor.step, "device": str(device),
        "skeleton": predictor.skeleton.name, "scenes": config.scenes, "seed": config.seed,
        "preset": run_config.preset, "input_size": predictor.input_size,
        "people": int(sum(s.num_people for _, s in pairs)),
        "timings": {"repeat": config.repeat, "warmup": config.warmup, "threads": torch.get_num_threads(),
                    "model_ms_per_frame": 1e3 * model_s / config.scenes, "decoders": decoders},
        "decode_config": predictor.decode_config.to_dict(),
        "backends": list(backends), "backends_agree": all(c["same_people"] for c in comparison.values()),
        "comparison": comparison,
        "metrics": {k: report.get(k) for k in ("mpjpe_mm", "recall", "precision", "pck3d")},
        "picture": str(picture_path), "renderer_3d": "matplotlib" if have_matplotlib() else "opencv",
        "machine": machine_info(), "frames": [p.to_dict() for p in poses["python"]],
    }
    result = json_safe(result)
    (out / "demo.json").write_text(json.dumps(result, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return result

"""Which half limits a checkpoint: network and ground-truth maps mixed, decoded and evaluated.

A network predicts two things the decoder combines: heatmaps and tags (who
is where) and ORPM maps (how the body is posed in 3D). Swapping either half
for the ground truth, encoded exactly as the training targets are, shows
which one costs more. :func:`decompose_model` decodes the fixed synthetic
test set with these sources (the last stack's predictions; rows in
:data:`ROWS` order):

=================  ====================  ==============================================
heatmaps + tags    ORPM                  what the row measures
=================  ====================  ==============================================
network            network               the checkpoint as it is
network            mean pose             ORPM maps that hold the skeleton's upright,
                                         camera-facing mean-pose bones everywhere
                                         (= every joint read from the last fallback)
network            training mean         ORPM maps that hold the training targets'
                                         mean bones (the best constant; only when the
                                         checkpoint stores them, ``extra["mean_bones"]``)
network            ground truth          a perfect ORPM half behind the network's 2D half
ground truth       network               a perfect 2D half in front of the network's ORPM
ground truth       ground truth          the decoder alone (the oracle)
=================  ====================  ==============================================

Each row reports the full and the naive read-out (``EvalReport`` dicts:
MPJPE, PCK3D, recall, precision, per read-out rule).
``ssmp3d eval --decompose`` prints the table (:func:`format_decomposition`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from ..data.dataset import SyntheticTestSet
from ..decoding import DecodeConfig, decode
from ..encode import encode_batch
from ..eval import EvalConfig, Evaluator
from ..geometry import MapTransform
from ..model import HourglassNet
from .evaluate import fastest_backend

__all__ = ["ROWS", "decompose_model", "format_decomposition"]

#: ``(heatmaps + tags source, ORPM source)`` of each row, in report order.
ROWS: tuple[tuple[str, str], ...] = (
    ("network", "network"),
    ("network", "mean pose"),
    ("network", "training mean"),
    ("network", "ground truth"),
    ("ground truth", "network"),
    ("ground truth", "ground truth"),
)


def _constant_orpm(bones: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """``[B, K, 3, H, W]`` maps that hold ``bones [K, 3]`` at every pixel (shape and device of ``like``)."""
    b, k, _, h, w = like.shape
    t = torch.as_tensor(np.asarray(bones, dtype=np.float32), device=like.device)
    return t.view(1, k, 3, 1, 1).expand(b, k, 3, h, w).contiguous()


@torch.no_grad()
def decompose_model(model: HourglassNet, test_set: SyntheticTestSet, *,
                    decode_config: DecodeConfig = DecodeConfig(), train_mean_bones: np.ndarray | None = None,
                    backend: str = "auto", batch_size: int = 8, device: torch.device | str | None = None,
                    progress: Callable[[int], None] | None = None) -> dict:
    """Decodes the test set with network and ground-truth halves mixed (module docstring).

    Args:
        model: The network (its mode is restored afterwards).
        test_set: A synthetic test set without augmentation (its images and
            scenes agree pixel for pixel, so ground-truth maps line up).
        decode_config: Decoder parameters of every row (``readout`` is set per column).
        train_mean_bones: ``[K, 3]`` metres, the training targets' mean bones;
            None drops the ``"training mean"`` row.
        backend: Decoder backend; ``"auto"`` = :func:`~ssmp3d.train.evaluate.fastest_backend`.
        batch_size: Images per forward pass.
        device: Where the model runs (default: its parameters' device).
        progress: Called with the number of images done after each batch.

    Returns:
        ``{"rows": [{"heatmaps_tags", "orpm", "full", "naive"}], "scenes", "backend"}``
        with ``EvalReport`` dicts under ``"full"`` and ``"naive"``.

    Raises:
        ValueError: an empty test set, or ``train_mean_bones`` of the wrong shape.
    """
    if len(test_set) == 0:
        raise ValueError("test_set: expected at least one scene")
    skeleton = test_set.maker.skeleton
    k = skeleton.num_joints
    if train_mean_bones is not None:
        train_mean_bones = np.asarray(train_mean_bones, dtype=np.float32)
        if train_mean_bones.shape != (k, 3) or not np.all(np.isfinite(train_mean_bones)):
            raise ValueError(f"train_mean_bones: expected finite [{k}, 3] metres, got {train_mean_bones.shape}")
    rows = [r for r in ROWS if r[1] != "training mean" or train_mean_bones is not None]
    device = torch.device(device) if device is not None else next(model.parameters()).device
    backend = fastest_backend(device) if backend == "auto" else backend
    map_device = device if backend == "cuda" else torch.device("cpu")
    transform = MapTransform(stride=model.config.stride)
    targets = test_set.maker.target_config
    evaluators = {(row, r): Evaluator(skeleton, EvalConfig()) for row in rows for r in ("full", "naive")}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(test_set), batch_size):
            idx = range(start, min(start + batch_size, len(test_set)))
            images = torch.stack([test_set[i].image for i in idx]).to(device)
            scenes = [test_set.image_and_scene(i)[1] for i in idx]
            out = model(images)[-1]
            net = {"heat": out.heatmaps.float().to(map_device), "tags": out.tags.float().to(map_device),
                   "orpm": out.orpm.float().to(map_device)}
            enc = encode_batch(scenes, skeleton, targets, backend="auto")
            gt = {"heat": torch.from_numpy(enc.heatmaps).to(map_device),
                  "tags": torch.from_numpy(enc.tag_maps).to(map_device),
                  "orpm": torch.from_numpy(enc.orpm).to(map_device)}
            orpm = {"network": net["orpm"], "ground truth": gt["orpm"],
                    "mean pose": _constant_orpm(skeleton.mean_bones_m(), net["orpm"])}
            if train_mean_bones is not None:
                orpm["training mean"] = _constant_orpm(train_mean_bones, net["orpm"])
            for row in rows:
                two_d = net if row[0] == "network" else gt
                for r in ("full", "naive"):
                    result = decode(two_d["heat"], two_d["tags"], orpm[row[1]], replace(decode_config, readout=r),
                                    skeleton=skeleton, transform=transform, backend=backend)
                    for b, scene in enumerate(scenes):
                        evaluators[(row, r)].add(result.people(b), scene)
            if progress is not None:
                progress(len(idx))
    finally:
        model.train(was_training)
    return {"scenes": len(test_set), "backend": backend,
            "rows": [{"heatmaps_tags": row[0], "orpm": row[1],
                      **{r: evaluators[(row, r)].report().to_dict() for r in ("full", "naive")}} for row in rows]}


def format_decomposition(report: dict) -> str:
    """The decomposition as a text table: MPJPE full / naive, PCK3D, recall, precision per row."""
    def num(v, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    lines = [f"{'heatmaps+tags':<15}{'ORPM':<15}{'full mm':>9}{'naive mm':>10}{'PCK3D':>7}{'recall':>8}"
             f"{'precision':>11}"]
    for row in report["rows"]:
        full, naive = row["full"], row["naive"]
        lines.append(f"{row['heatmaps_tags']:<15}{row['orpm']:<15}{num(full['mpjpe_mm'], '.1f'):>9}"
                     f"{num(naive['mpjpe_mm'], '.1f'):>10}{num(full['pck3d'], '.3f'):>7}"
                     f"{num(full['recall'], '.3f'):>8}{num(full['precision'], '.3f'):>11}")
    return "\n".join(lines)

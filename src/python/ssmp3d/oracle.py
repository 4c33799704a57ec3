"""Oracle round trip: encode ground truth into maps, decode them, evaluate.

Decoding ground-truth-encoded maps measures the decoder alone: the best a
network predicting perfect maps could reach, and how much the ORPM read-out
redundancy (``full``) buys over reading each joint at its own position
(``naive``). Errors left come from genuine conflicts (two people's peaks or
discs on the same pixels, merged peaks) and the mean-pose fallback; the report
splits them per read-out rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch

from .data.scene import Scene
from .data.synthetic import SceneConfig, sample_scenes
from .decoding import DecodeConfig, DecodeResult, decode
from .encode import TargetConfig, encode_batch
from .eval import EvalConfig, Evaluator
from .geometry import MapTransform
from .skeleton import PANOPTIC19, Skeleton


@dataclass(frozen=True)
class OracleConfig:
    """What the oracle run decodes and how.

    Attributes:
        scenes: Number of synthetic scenes.
        seed: Scene seed (scene ``i`` derives its own seed from it).
        preset: ``"crowded"`` (truncation, occlusion) or ``"sparse"``
            (non-overlapping people fully in view).
        max_people: Most people per scene.
        backend: Decoder backend.
        batch_size: Frames decoded per call.
        decode: Decoder parameters; its ``readout`` is the headline one, the
            other read-out is reported beside it.
        targets: Target encoding parameters.
        evaluation: Evaluation parameters.
    """

    scenes: int = 200
    seed: int = 0
    preset: str = "crowded"
    max_people: int = 12
    backend: str = "python"
    batch_size: int = 16
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    targets: TargetConfig = field(default_factory=TargetConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.scenes, int) or self.scenes < 1:
            raise ValueError(f"scenes: expected an int >= 1, got {self.scenes!r}")
        if self.preset not in ("crowded", "sparse"):
            raise ValueError(f"preset: expected 'crowded' or 'sparse', got {self.preset!r}")
        if not isinstance(self.max_people, int) or self.max_people < 1:
            raise ValueError(f"max_people: expected an int >= 1, got {self.max_people!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size: expected an int >= 1, got {self.batch_size!r}")

    def scene_config(self) -> SceneConfig:
        """The sampler configuration of this run."""
        if self.preset == "sparse":
            return SceneConfig.sparse(max_people=self.max_people)
        return SceneConfig.crowded(max_people=self.max_people)


def stack_maps(
    scenes: Sequence[Scene], skeleton: Skeleton, targets: TargetConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ground-truth maps of ``scenes`` as a batch.

    Encoded by :func:`ssmp3d.encode.encode_batch` with ``backend="auto"``:
    the compiled encoders when ``ssmp3d._C`` is built, else the reference;
    the maps are identical either way.

    Returns:
        ``heatmaps [B, K, H, W]``, ``tags [B, K, H, W]`` (oracle tag maps) and
        ``orpm [B, K, 3, H, W]``, float32 CPU tensors.
    """
    enc = encode_batch(scenes, skeleton, targets, backend="auto")
    return torch.from_numpy(enc.heatmaps), torch.from_numpy(enc.tag_maps), torch.from_numpy(enc.orpm)


def run_oracle(
    config: OracleConfig,
    skeleton: Skeleton = PANOPTIC19,
    scenes: Sequence[Scene] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Runs the oracle round trip and returns a JSON-ready report.

    Args:
        config: The run's parameters.
        skeleton: Joint set.
        scenes: Scenes to use instead of sampling ``config.scenes`` synthetic ones.
        progress: Called with the number of frames done after each batch.

    Returns:
        The headline read-out's metrics (``mpjpe_mm``, ``recall``,
        ``precision``, ``people``, per-joint and per-rule errors, ...), plus
        ``readouts`` with both read-outs' metrics and ``full_over_naive``.
    """
    sampled = scenes is None
    if scenes is None:
        scenes = sample_scenes(config.scenes, config.seed, config.scene_config(), skeleton)
    if len(scenes) == 0:
        raise ValueError("scenes: expected at least one scene")
    transform = MapTransform(stride=config.targets.stride)
    modes = (config.decode.readout, "naive" if config.decode.readout == "full" else "full")
    evaluators = {m: Evaluator(skeleton, config.evaluation) for m in modes}
    for start in range(0, len(scenes), config.batch_size):
        chunk = scenes[start : start + config.batch_size]
        heat, tags, orpm = stack_maps(chunk, skeleton, config.targets)
        for mode in modes:
            result: DecodeResult = decode(heat, tags, orpm, replace(config.decode, readout=mode),
                                          skeleton=skeleton, transform=transform, backend=config.backend)
            for b, scene in enumerate(chunk):
                evaluators[mode].add(result.people(b), scene)
        if progress is not None:
            progress(len(chunk))
    reports = {m: e.report().to_dict() for m, e in evaluators.items()}
    out = dict(reports[config.decode.readout])
    full, naive = reports["full"]["mpjpe_mm"], reports["naive"]["mpjpe_mm"]
    out.update(
        readout=config.decode.readout,
        backend=config.backend,
        scenes=len(scenes),
        preset=config.preset if sampled else "given",
        seed=config.seed,
        skeleton=skeleton.name,
        readouts=reports,
        full_over_naive=(full / naive) if full is not None and naive else None,
    )
    return out

"""Synthetic associative-embedding maps with controlled ambiguity, for the grouping benchmark.

Each frame is a crowded synthetic scene (:func:`ssmp3d.data.synthetic.sample_scene`,
exactly ``people`` people, truncation and overlap allowed) seen at stride 4:
19 x 128 x 128 maps for the default 512 x 512 image. Per joint type:

* heatmap: Gaussians (sigma 2 map pixels, max over people) at the joints in
  the image, minus a random share ``missing`` of them (dropped joints);
* tag map: person ``p``'s tag ``spacing * perm[p]`` (a random permutation, so
  tag order says nothing about position) on the pixels within 3 map pixels of
  its joint, each pixel going to the nearest such joint (no depth order:
  every peak reads its own person's tag unless two people's joints of that
  type are closer than the peak shift), 0 elsewhere; then Gaussian noise of
  standard deviation ``noise`` on every pixel.

``spacing`` against ``noise`` sets the ambiguity: with the decoders' default
``tag_threshold`` of 1.0, spacing 1.0 and noise 0.3 puts neighbouring
people's tags within the threshold of each other; spacing 2.0 and noise 0.1
keeps them apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..data.synthetic import SceneConfig, sample_scene
from ..encode import TargetConfig
from ..encode.heatmaps import encode_heatmaps
from ..geometry import MapTransform
from ..skeleton import PANOPTIC19, Skeleton

__all__ = ["AmbiguityConfig", "GroupingFrame", "make_frames"]

#: Radius (map pixels) of the tag written around each joint.
TAG_RADIUS = 3.0


@dataclass(frozen=True)
class AmbiguityConfig:
    """How hard the tags make grouping.

    Attributes:
        spacing: Difference between consecutive person tags (> 0).
        noise: Standard deviation of the per-pixel tag noise (>= 0).
        missing: Share of joints dropped from the heatmaps, in [0, 1).
    """

    spacing: float = 1.0
    noise: float = 0.3
    missing: float = 0.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.spacing) and self.spacing > 0):
            raise ValueError(f"spacing: expected a finite float > 0, got {self.spacing!r}")
        if not (np.isfinite(self.noise) and self.noise >= 0):
            raise ValueError(f"noise: expected a finite float >= 0, got {self.noise!r}")
        if not 0 <= self.missing < 1:
            raise ValueError(f"missing: expected a float in [0, 1), got {self.missing!r}")


@dataclass(frozen=True, eq=False)
class GroupingFrame:
    """One benchmark frame.

    Attributes:
        heatmaps: ``[K, H, W]`` float32.
        tags: ``[K, H, W]`` float32.
        joints: ``[N, K, 2]`` float64 map coordinates of the people's joints.
        present: ``[N, K]`` bool: in the map and not dropped (drawn in the heatmap).
        person_tags: ``[N]`` float64 tag of each person.
    """

    heatmaps: np.ndarray
    tags: np.ndarray
    joints: np.ndarray
    present: np.ndarray
    person_tags: np.ndarray


def make_frame(people: int, seed: int, ambiguity: AmbiguityConfig, skeleton: Skeleton = PANOPTIC19,
               image_size: int = 512, stride: int = 4) -> GroupingFrame:
    """One frame of ``people`` people (see the module docstring); depends only on its arguments."""
    rng = np.random.default_rng(seed)
    cfg = replace(SceneConfig.crowded(max_people=people), min_people=people, image_size=(image_size, image_size))
    scene = sample_scene(rng, cfg, skeleton)
    size = (image_size // stride, image_size // stride)
    joints = MapTransform(stride=stride).image_to_map(np.asarray(scene.joints2d, np.float64))
    h, w = size
    inside = np.asarray(scene.in_image, bool) & (joints[..., 0] > -0.5) & (joints[..., 0] < w - 0.5) \
        & (joints[..., 1] > -0.5) & (joints[..., 1] < h - 0.5)
    present = inside & (rng.random(inside.shape) >= ambiguity.missing)
    heat = encode_heatmaps(joints, present, size, TargetConfig().sigma).astype(np.float32)
    person_tags = ambiguity.spacing * rng.permutation(people).astype(np.float64)
    k = skeleton.num_joints
    ys, xs = np.mgrid[0:h, 0:w]
    tags = np.zeros((k, h, w), np.float32)
    for j in range(k):
        nearest = np.full((h, w), np.inf)
        for p in range(people):
            if not present[p, j]:
                continue
            d = np.hypot(xs - joints[p, j, 0], ys - joints[p, j, 1])
            closer = (d < nearest) & (d <= TAG_RADIUS)
            tags[j][closer] = person_tags[p]
            nearest[closer] = d[closer]
    tags += rng.normal(0.0, ambiguity.noise, tags.shape).astype(np.float32)
    return GroupingFrame(heat, tags, joints, present, person_tags)


def make_frames(people: int, frames: int, ambiguity: AmbiguityConfig, seed: int = 0,
                skeleton: Skeleton = PANOPTIC19) -> list[GroupingFrame]:
    """``frames`` frames of ``people`` people; frame ``i`` uses seed ``seed + 1000 * people + i``."""
    return [make_frame(people, seed + 1000 * people + i, ambiguity, skeleton) for i in range(frames)]

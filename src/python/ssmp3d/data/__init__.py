"""Data sources: scenes with full 2D/3D ground truth (DESIGN.md section 9).

Rendering and augmentation need OpenCV (``cv2``); it is imported on first
use, so the scene sampler works without it. The training datasets
(:mod:`ssmp3d.data.dataset`) depend on :mod:`ssmp3d.encode`, which imports
:class:`Scene` from here, so their names load on first access.

Importing this package sets ``OPENCV_FFMPEG_LOGLEVEL=-8`` (FFmpeg quiet)
unless it is set already: OpenCV reads it when ``cv2`` is first imported,
and ssmp3d reports an unreadable video in one line of its own instead of
FFmpeg's decoder messages. Set it yourself (e.g. to 24, warnings) to see them.
"""

import os as _os

_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from .augment import AugmentConfig, AugmentParams, augment, random_augment, transform_scene
from .background import BackgroundConfig
from .render import Appearance, RenderConfig, render_scene, sample_appearances
from .scene import Scene
from .synthetic import BODY_POINTS, SceneConfig, sample_scene, sample_scenes

_DATASET = ("IMAGE_MEAN", "IMAGE_STD", "SampleMaker", "SyntheticDataset", "SyntheticTestSet", "TrainBatch",
            "TrainSample", "collate_samples", "denormalize_image", "normalize_image")

__all__ = ["BODY_POINTS", "Appearance", "AugmentConfig", "AugmentParams", "BackgroundConfig", "RenderConfig",
           "Scene", "SceneConfig", "augment", "random_augment", "render_scene", "sample_appearances",
           "sample_scene", "sample_scenes", "transform_scene", *_DATASET]


def __getattr__(name: str):
    """Loads the dataset names of :mod:`ssmp3d.data.dataset` on first access."""
    if name in _DATASET:
        from . import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

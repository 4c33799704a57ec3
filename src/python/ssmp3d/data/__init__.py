"""Data sources: scenes with full 2D/3D ground truth (DESIGN.md section 9).

Rendering, augmentation and the datasets need OpenCV (``cv2``); it is imported
on first use, so the scene sampler works without it.
"""

from .augment import AugmentConfig, AugmentParams, augment, random_augment, transform_scene
from .background import BackgroundConfig
from .dataset import (
    IMAGE_MEAN,
    IMAGE_STD,
    SyntheticDataset,
    SyntheticTestSet,
    TrainBatch,
    TrainSample,
    collate_samples,
    denormalize_image,
)
from .render import Appearance, RenderConfig, render_scene, sample_appearances
from .scene import Scene
from .synthetic import BODY_POINTS, SceneConfig, sample_scene, sample_scenes

__all__ = ["BODY_POINTS", "IMAGE_MEAN", "IMAGE_STD", "Appearance", "AugmentConfig", "AugmentParams",
           "BackgroundConfig", "RenderConfig", "Scene", "SceneConfig", "SyntheticDataset", "SyntheticTestSet",
           "TrainBatch", "TrainSample", "augment", "collate_samples", "denormalize_image", "random_augment",
           "render_scene", "sample_appearances", "sample_scene", "sample_scenes", "transform_scene"]

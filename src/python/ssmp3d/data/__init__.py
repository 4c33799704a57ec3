"""Data sources: scenes with full 2D/3D ground truth (DESIGN.md section 9).

Rendering and augmentation need OpenCV (``cv2``); it is imported on first
use, so the scene sampler works without it.
"""

from .augment import (
           AugmentConfig,
           AugmentParams,
           augment,
           random_augment,
           transform_scene,
)
from .background import BackgroundConfig
from .render import Appearance, RenderConfig, render_scene, sample_appearances
from .scene import Scene
from .synthetic import BODY_POINTS, SceneConfig, sample_scene, sample_scenes

__all__ = ["BODY_POINTS", "Appearance", "AugmentConfig", "AugmentParams", "BackgroundConfig", "RenderConfig",
           "Scene", "SceneConfig", "augment", "random_augment", "render_scene", "sample_appearances",
           "sample_scene", "sample_scenes", "transform_scene"]

"""Data sources: scenes with full 2D/3D ground truth (DESIGN.md section 9).

Rendering needs OpenCV (``cv2``); it is imported on first use, so the scene
sampler works without it.
"""

from .background import BackgroundConfig
from .render import Appearance, RenderConfig, render_scene, sample_appearances
from .scene import Scene
from .synthetic import BODY_POINTS, SceneConfig, sample_scene, sample_scenes

__all__ = ["BODY_POINTS", "Appearance", "BackgroundConfig", "RenderConfig", "Scene", "SceneConfig",
           "render_scene", "sample_appearances", "sample_scene", "sample_scenes"]

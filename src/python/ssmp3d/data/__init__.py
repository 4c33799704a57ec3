"""Data sources: scenes with full 2D/3D ground truth (DESIGN.md section 9)."""

from .scene import Scene
from .synthetic import BODY_POINTS, SceneConfig, sample_scene, sample_scenes

__all__ = ["BODY_POINTS", "Scene", "SceneConfig", "sample_scene", "sample_scenes"]

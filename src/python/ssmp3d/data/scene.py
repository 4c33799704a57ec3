"""The ground truth of one multi-person scene (the output of every data source)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import Camera


@dataclass(frozen=True, eq=False)
class Scene:
    """People in front of one camera, with full 2D/3D ground truth.

    Attributes:
        camera: The camera; image size ``camera.width x camera.height``.
        joints3d: ``[N, K, 3]`` float64 camera-frame millimetres (absolute).
        joints2d: ``[N, K, 2]`` float64 image pixels (OpenCV convention).
        in_image: ``[N, K]`` bool: the joint projects inside the image (in front
            of the camera). Targets are encoded for these joints.
        visible: ``[N, K]`` bool: in the image and not hidden behind a nearer
            person (``visible`` implies ``in_image``).
        valid3d: ``[N, K]`` bool: the 3D position is known (all True for
            synthetic scenes; Panoptic confidence > 0.1).
    """

    camera: Camera
    joints3d: np.ndarray
    joints2d: np.ndarray
    in_image: np.ndarray
    visible: np.ndarray
    valid3d: np.ndarray

    @property
    def num_people(self) -> int:
        """Number of people ``N``."""
        return int(self.joints3d.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        return (int(self.camera.width), int(self.camera.height))

    def pelvis_relative(self, pelvis: int) -> np.ndarray:
        """``[N, K, 3]`` joints relative to joint ``pelvis`` (mm)."""
        return self.joints3d - self.joints3d[:, pelvis : pelvis + 1]

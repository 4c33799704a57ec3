"""Inference: images, folders and videos to 2D and 3D poses.

:class:`Predictor` (network + decoder, any image size) returns
:class:`ImagePoses` per image; :mod:`.draw` makes overlays and 3D views;
:func:`run_predict` is the file-level job behind ``ssmp3d predict``
(:mod:`.sources` for inputs, :mod:`.records` for per-item records and bad
items, :mod:`.shard` for several processes, :mod:`.interrupt` for stopping
cleanly on Ctrl-C or SIGTERM).
"""

from .draw import draw_overlay, pose3d_image
from .draw_people import pose3d_people_image
from .interrupt import Interrupted
from .loading import checkpoint_skeleton
from .pipeline import PredictOptions, run_predict
from .predictor import Predictor
from .types import ImagePoses, Person, ReadoutRule

__all__ = ["ImagePoses", "Interrupted", "Person", "PredictOptions", "Predictor", "ReadoutRule", "checkpoint_skeleton",
           "draw_overlay", "pose3d_image", "pose3d_people_image", "run_predict"]

"""The network (DESIGN.md section 4): a stacked hourglass predicting, per stack,
heatmaps ``[B, K, H', W']``, tags ``[B, K, D, H', W']`` and ORPM
``[B, K, 3, H', W']`` at output stride 4.
"""

from .config import OUTPUT_STRIDE, HourglassConfig
from .hourglass import HourglassNet, StackOutput, count_parameters, split_prediction

__all__ = [
    "OUTPUT_STRIDE",
    "HourglassConfig",
    "HourglassNet",
    "StackOutput",
    "count_parameters",
    "split_prediction",
]

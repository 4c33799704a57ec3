"""Helpers shared by the Predictor tests: a decode configuration that keeps every peak, and
small seeded images."""

from __future__ import annotations

import numpy as np

from ssmp3d.decoding import DecodeConfig

#: Every peak becomes a person of its own (no threshold, the paper's greedy, one joint is enough):
#: the comparisons then see every value the network produced.
ALL_PEAKS = DecodeConfig(det_threshold=0.0, min_joints=1, grouping="paper", person_score="detected")


def seeded_images(n: int, mixed: bool = True) -> list[np.ndarray]:
    """``n`` random uint8 RGB images, 64 wide; 48, 56 or 64 tall in turn when ``mixed``."""
    rng = np.random.default_rng(5)
    return [rng.integers(0, 256, (48 + 8 * (i % 3 if mixed else 0), 64, 3), dtype=np.uint8) for i in range(n)]


def chunks(items: list, size: int) -> list[list]:
    """``items`` cut into consecutive lists of ``size`` (the last may be shorter)."""
    return [items[i:i + size] for i in range(0, len(items), size)]

"""Opening a real dataset by name: the one factory the commands and the trainer use."""

from __future__ import annotations

import os

from .frames import FrameDataset

__all__ = ["DATASETS", "open_dataset"]

DATASETS = ("panoptic", "h36m")
"""Names :func:`open_dataset` accepts."""


def open_dataset(name: str, root: str | os.PathLike, split: str = "test", **options) -> FrameDataset:
    """Opens the real dataset ``name`` under ``root``.

    Args:
        name: ``"panoptic"`` (:class:`~ssmp3d.data.panoptic.PanopticDataset`)
            or ``"h36m"`` (:class:`~ssmp3d.data.h36m.Human36MDataset`).
        root: The dataset's folder.
        split: ``"train"`` or ``"test"``.
        **options: Keyword options of that dataset's class.

    Returns:
        The :class:`~ssmp3d.data.frames.FrameDataset`.

    Raises:
        ValueError: an unknown ``name`` (the message lists the choices), or
            what the dataset's class raises (``DatasetError`` naming a file).
    """
    if name == "panoptic":
        from .panoptic import PanopticDataset

        return PanopticDataset(root, split, **options)
    if name == "h36m":
        from .h36m import Human36MDataset

        return Human36MDataset(root, split, **options)
    raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {name!r}")

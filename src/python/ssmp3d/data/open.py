"""Opening a real dataset by name: the one place that maps names to loaders."""

from __future__ import annotations

import os

from .frames import FrameDataset

__all__ = ["DATASETS", "open_dataset"]

DATASETS: tuple[str, ...] = ("panoptic", "h36m")
"""Names accepted by :func:`open_dataset`."""


def open_dataset(name: str, root: str | os.PathLike, split: str = "test", **options) -> FrameDataset:
    """Opens the real dataset ``name`` stored under ``root``.

    Args:
        name: ``"panoptic"`` (:class:`~ssmp3d.data.panoptic.PanopticDataset`:
            options ``sequences``, ``cameras``, ``every``, ``max_frames``) or
            ``"h36m"`` (``Human36MDataset`` of :mod:`ssmp3d.data.h36m`: options
            ``subjects``, ``every``, ``max_frames``).
        root: The dataset folder.
        split: ``"test"`` or ``"train"``.
        **options: Passed to the loader.

    Returns:
        The indexed dataset.

    Raises:
        ValueError: an unknown name (the message lists the choices), or what
            the loader raises for bad options or files (``DatasetError``).
    """
    if name == "panoptic":
        from .panoptic import PanopticDataset

        return PanopticDataset(root, split, **options)
    if name == "h36m":
        from .h36m import Human36MDataset

        return Human36MDataset(root, split, **options)
    raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {name!r}")

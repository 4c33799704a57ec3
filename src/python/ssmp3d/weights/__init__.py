"""Weights shipped inside the package.

``synthetic_small.pt`` is the ``small`` hourglass preset (2 stacks, 64
features, 256 x 256 input, 0.44M parameters) trained on the built-in
synthetic scenes by ``ssmp3d train``; the exact command, the commit and its
evaluation are stored in the checkpoint's ``extra["provenance"]`` and in the
README ("Shipped weights"). It holds the network only (no optimizer state):
load it with :func:`ssmp3d.train.checkpoint.load_model`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["SHIPPED_NAME", "default_checkpoint"]

#: File name of the shipped checkpoint inside this package.
SHIPPED_NAME = "synthetic_small.pt"


def default_checkpoint() -> Path:
    """Path of the shipped synthetic-trained checkpoint.

    Returns:
        The file inside the installed package.

    Raises:
        FileNotFoundError: the package was installed without its weights
            (e.g. a source tree where they were deleted); the message says
            how to pass ``--checkpoint`` instead.
    """
    path = Path(str(resources.files(__name__).joinpath(SHIPPED_NAME)))
    if not path.is_file():
        raise FileNotFoundError(f"shipped weights missing: {path} (reinstall ssmp3d, or pass a checkpoint "
                                "written by `ssmp3d train`)")
    return path

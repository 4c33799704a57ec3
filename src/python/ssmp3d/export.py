"""Exporting the network for deployment: ``torch.export`` programs and ONNX models.

What is exported is :class:`InferenceNet`: the network's last stack as
three tensors, ``images [B, 3, S, S]`` (normalised RGB, see
:func:`ssmp3d.data.dataset.normalize_image`) to ``heatmaps [B, K, S/4, S/4]``,
``tags [B, K, D, S/4, S/4]`` and ``orpm [B, K, 3, S/4, S/4]`` (metres),
which any decoder backend takes (:func:`ssmp3d.decoding.decode`). The batch
dimension is dynamic (``batch``, 1 to :data:`MAX_BATCH`); the input side
is fixed to the checkpoint's.

* ``format="torch"``: :func:`torch.export.export`, saved with
  :func:`torch.export.save` (a ``.pt2`` archive); load it with
  :func:`load_program` (``torch.export.load(path).module()``).
* ``format="onnx"``: :func:`torch.onnx.export` with the dynamo exporter
  (needs ``onnx`` and ``onnxscript``: ``pip install "ssmp3d[export]"``),
  checked with ``onnx.checker``.

:func:`verify_export` runs the exported model on a random batch and
reports its largest difference from the eager network (ONNX through
``onnxruntime`` when installed).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .model import HourglassNet

__all__ = ["FORMATS", "MAX_BATCH", "InferenceNet", "export_model", "load_program", "verify_export"]

#: Export formats.
FORMATS = ("torch", "onnx")
#: Largest batch the dynamic batch dimension admits.
MAX_BATCH = 1024
#: ONNX opset of the exported models.
ONNX_OPSET = 18


class InferenceNet(nn.Module):
    """The network's last stack as three contiguous tensors (what deployment needs).

    Args:
        model: A trained :class:`HourglassNet` (put in eval mode).
    """

    def __init__(self, model: HourglassNet) -> None:
        super().__init__()
        if not isinstance(model, HourglassNet):
            raise TypeError(f"model: expected a HourglassNet, got {type(model).__name__}")
        self.net = model
        self.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``images [B, 3, S, S]`` -> ``(heatmaps [B, K, S/4, S/4], tags [B, K, D, S/4, S/4],
        orpm [B, K, 3, S/4, S/4])``."""
        last = self.net(images)[-1]
        return last.heatmaps.contiguous(), last.tags.contiguous(), last.orpm.contiguous()


def _example(model: HourglassNet, batch: int) -> torch.Tensor:
    s = model.config.input_size
    device = next(model.parameters()).device
    return torch.randn(batch, 3, s, s, generator=torch.Generator().manual_seed(0)).to(device)


def _dynamic_shapes() -> dict:
    return {"images": {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}}


def export_model(model: HourglassNet, path: str | os.PathLike, fmt: str = "torch") -> Path:
    """Exports ``model`` (module notes) to ``path``.

    Args:
        model: The network (its device is kept for tracing; ``torch`` programs
            remember it).
        path: The file to write (its folder is created).
        fmt: ``"torch"`` or ``"onnx"``.

    Returns:
        The path written.

    Raises:
        ValueError: an unknown format.
        ImportError: ``"onnx"`` without ``onnx`` / ``onnxscript`` installed.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt: expected one of {FORMATS}, got {fmt!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = InferenceNet(model)
    example = _example(model, 2)  # batch 2: a batch of 1 would be specialised
    if fmt == "torch":
        with torch.no_grad():
            program = torch.export.export(net, (example,), dynamic_shapes=_dynamic_shapes())
        torch.export.save(program, path)
        return path
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter's dependency)
    except ImportError as exc:
        raise ImportError(f"ONNX export needs onnx and onnxscript: pip install 'ssmp3d[export]' ({exc})") from None
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecations inside torch's own exporter
        onnx_program = torch.onnx.export(net, (example,), dynamo=True, dynamic_shapes=_dynamic_shapes(),
                                         input_names=["images"], output_names=["heatmaps", "tags", "orpm"],
                                         opset_version=ONNX_OPSET, verbose=False)
    onnx_program.save(str(path))
    onnx.checker.check_model(str(path), full_check=True)
    return path


def load_program(path: str | os.PathLike) -> nn.Module:
    """A ``torch`` export as a callable module (``images -> (heatmaps, tags, orpm)``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a ``torch.export`` archive.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such exported program")
    try:
        return torch.export.load(path).module()
    except Exception as exc:  # a zip of something else, truncated file, ...
        raise ValueError(f"{path}: not a torch.export program ({type(exc).__name__})") from exc


def verify_export(model: HourglassNet, path: str | os.PathLike, fmt: str, *, batch: int = 3) -> dict:
    """Runs an export on a random batch and compares it with the eager network.

    Args:
        model: The eager network the export came from.
        path: The exported file.
        fmt: Its format.
        batch: Batch size of the check (differs from the tracing batch of 2,
            so the dynamic batch dimension is exercised).

    Returns:
        ``{"runtime": "torch.export" | "onnxruntime" | None, "batch": ...,
        "max_abs_diff": {"heatmaps", "tags", "orpm"} or None}``; ONNX without
        onnxruntime gives ``runtime`` None (only the checker ran).
    """
    images = _example(model, batch)
    with torch.no_grad():
        expected = [t.cpu() for t in InferenceNet(model)(images)]
    names = ("heatmaps", "tags", "orpm")
    if fmt == "torch":
        with torch.no_grad():
            got = [t.cpu() for t in load_program(path)(images)]
        runtime = "torch.export"
    else:
        try:
            import onnxruntime as ort
        except ImportError:
            return {"runtime": None, "batch": batch, "max_abs_diff": None}
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = [torch.from_numpy(a) for a in session.run(list(names), {"images": images.cpu().numpy()})]
        runtime = "onnxruntime"
    diffs = {}
    for name, e, g in zip(names, expected, got):
        if tuple(e.shape) != tuple(g.shape):
            raise ValueError(f"{path}: {name} has shape {tuple(g.shape)}, the network gives {tuple(e.shape)}")
        diffs[name] = float((e - g).abs().max())
    return {"runtime": runtime, "batch": batch, "max_abs_diff": diffs}

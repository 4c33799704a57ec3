"""``ssmp3d export``: the network of a checkpoint as a ``torch.export`` program or an ONNX model."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..export import FORMATS, MAX_BATCH, export_model, verify_export
from ..predict.loading import checkpoint_skeleton
from ..train.checkpoint import load_model
from ..weights import default_checkpoint


def add_parser(sub) -> argparse.ArgumentParser:
    """Registers the ``export`` sub-command."""
    p = sub.add_parser("export", help="export the network for deployment (torch.export or ONNX)",
                       description="Export a checkpoint's network (last stack: images [B, 3, S, S] -> heatmaps, "
                                   f"tags, orpm; dynamic batch 1..{MAX_BATCH}) and check the export against the "
                                   "eager network on a random batch.")
    p.add_argument("--checkpoint", default=None, help="checkpoint file (default: the shipped weights)")
    p.add_argument("--format", choices=FORMATS, default="torch", help="torch (.pt2 archive) or onnx")
    p.add_argument("--out", required=True, help="file to write (e.g. model.pt2 or model.onnx)")
    p.add_argument("--no-verify", action="store_true", help="skip the comparison with the eager network")
    return p


def run(args: argparse.Namespace) -> tuple[dict, str]:
    """Runs the command; returns (JSON object, human text)."""
    checkpoint = Path(args.checkpoint) if args.checkpoint is not None else default_checkpoint()
    model, ckpt = load_model(checkpoint)
    skeleton = checkpoint_skeleton(ckpt, checkpoint)
    path = export_model(model, args.out, args.format)
    check = None if args.no_verify else verify_export(model, path, args.format)
    s = model.config.input_size
    out = {"checkpoint": str(checkpoint), "format": args.format, "out": str(path), "bytes": path.stat().st_size,
           "skeleton": skeleton.name, "input": ["batch", 3, s, s], "outputs": {
               "heatmaps": ["batch", skeleton.num_joints, s // 4, s // 4],
               "tags": ["batch", skeleton.num_joints, model.config.tag_dim, s // 4, s // 4],
               "orpm": ["batch", skeleton.num_joints, 3, s // 4, s // 4]},
           "verification": check}
    text = f"exported {checkpoint} to {path} ({args.format}, {out['bytes'] / 1e6:.1f} MB, input [batch, 3, {s}, {s}])"
    if check is None:
        text += "; not verified"
    elif check["runtime"] is None:
        text += "; ONNX checker passed (onnxruntime not installed: outputs not compared)"
    else:
        worst = max(check["max_abs_diff"].values())
        text += f"; {check['runtime']} matches the eager network to {worst:.2e} (batch {check['batch']})"
    return out, text

"""Decoder options shared by ``eval``, ``demo``, ``predict`` and ``oracle``: each overrides one
field of the settings the checkpoint recommends (:func:`~ssmp3d.train.checkpoint.recommended_decode_config`;
``DecodeConfig()`` for ``oracle``, which runs no network)."""

from __future__ import annotations

import argparse

from ..decoding import GROUPINGS, PERSON_SCORES

__all__ = ["add_decode_args", "decode_line", "decode_overrides"]

_OPTIONS = (
    ("nms_radius", int, "heatmap NMS window radius in map pixels"),
    ("det_threshold", float, "heatmap peak threshold"),
    ("tag_threshold", float, "largest tag distance of a joint to its person"),
    ("grouping", str, f"grouping strategy: {' or '.join(GROUPINGS)}"),
    ("geometry_weight", float, "weight of the geometric cue of grouping 'assign'"),
    ("person_score", str, f"person score: {' or '.join(PERSON_SCORES)}"),
    ("min_person_score", float, "people scoring below this are dropped"),
    ("min_joints", int, "people with fewer joints are dropped"),
)


def add_decode_args(p: argparse.ArgumentParser) -> None:
    """Adds ``--nms-radius``, ``--det-threshold``, ... (default: the checkpoint's recommendation)."""
    group = p.add_argument_group("decoder", "each defaults to the setting the checkpoint recommends "
                                            "(DecodeConfig's default when it recommends none)")
    for name, kind, text in _OPTIONS:
        choices = GROUPINGS if name == "grouping" else PERSON_SCORES if name == "person_score" else None
        group.add_argument("--" + name.replace("_", "-"), type=kind, default=None, choices=choices, help=text)


def decode_overrides(args: argparse.Namespace) -> dict:
    """The decoder fields given on the command line."""
    return {name: getattr(args, name) for name, _, _ in _OPTIONS if getattr(args, name, None) is not None}


def decode_line(config: dict) -> str:
    """One line naming the decoder settings used (a :meth:`DecodeConfig.to_dict`)."""
    keys = ("grouping", "nms_radius", "det_threshold", "tag_threshold", "geometry_weight", "person_score",
            "min_person_score", "min_joints")
    return "decoder settings: " + ", ".join(f"{k} {config[k]}" for k in keys if k in config)

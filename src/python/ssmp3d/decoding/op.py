"""``torch.ops.ssmp3d.decode``: the whole decoder as one custom op, for ``torch.compile``.

CPU tensors run the ``cpu`` decoder, CUDA tensors the ``cuda`` one (outputs
copied back to the inputs' device). Importing :mod:`ssmp3d.decoding`
registers it.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from ..bones import tree_geometry
from ..ops import _args, _budget
from .cuda import check_devices, decode_tables, gather_on_device, lists_of_table
from .native import ConfigTables, decode_arrays
from .types import DecodeConfig
from .validate import validate_inputs

__all__: list[str] = []

_DEFAULT = DecodeConfig()


@torch.library.custom_op("ssmp3d::decode", mutates_args=())
def _decode_op(heatmaps: torch.Tensor, tags: torch.Tensor, orpm: torch.Tensor | None, skeleton_table: torch.Tensor,
               neck: int, pelvis: int, mean_bones: torch.Tensor, det_threshold: float, nms_radius: int,
               max_candidates: int, tag_threshold: float, min_joints: int, max_people: int, naive: bool,
               readout_threshold: float, readout_min_dist: float, refine: bool,
               grouping: str = _DEFAULT.grouping, geometry_weight: float = _DEFAULT.geometry_weight,
               person_score: str = _DEFAULT.person_score,
               min_person_score: float = _DEFAULT.min_person_score) -> list[torch.Tensor]:
    """``torch.ops.ssmp3d.decode``: the decoder as a custom op (default threads).

    The skeleton is :func:`ssmp3d.ops.skeleton_table` plus ``neck`` and
    ``pelvis``; ``mean_bones`` is ``[K, 3]`` metres (the read-out fallback
    and the grouping's bone lengths). ``orpm`` None decodes 2D only. Returns
    the fields of :class:`~ssmp3d.decoding.DecodeResult` in order, except
    that the first is ``coords [B, P, K, 2]`` float64 *map* coordinates (0
    where not detected) instead of image pixels: apply
    ``MapTransform.map_to_image`` to the detected ones to get ``joints2d``.
    3D outputs are 0 where the decoder gives NaN (2D-only decoding).
    """
    table = np.ascontiguousarray(_args.resolve(skeleton_table).cpu().numpy(), dtype=np.int64)
    k = table.shape[1] if table.ndim == 2 else -1
    if table.shape != (2 + 2 * k, k):
        raise ValueError(f"skeleton_table: expected [2 + 2K, K], got {list(table.shape)}")
    mb = _args.bones("mean_bones", mean_bones.cpu(), k)
    config = DecodeConfig(det_threshold=det_threshold, nms_radius=nms_radius, max_candidates=max_candidates,
                          tag_threshold=tag_threshold, min_joints=min_joints, max_people=max_people,
                          readout="naive" if naive else "full", readout_threshold=readout_threshold,
                          readout_min_dist=readout_min_dist, refine=refine, grouping=grouping,
                          geometry_weight=geometry_weight, person_score=person_score,
                          min_person_score=min_person_score)
    tables = ConfigTables(table, mb, tree_geometry(table[0], table[1], mb))
    shape_of = SimpleNamespace(num_joints=k, name="skeleton_table")
    b, _, h, w, d = validate_inputs(heatmaps, tags, orpm, shape_of)  # type: ignore[arg-type]
    threads = torch.get_num_threads()
    backend = "cuda" if heatmaps.device.type == "cuda" else "cpu"
    _budget.check(_budget.decode_bytes(b, k, h, w, d, config, backend, threads, (heatmaps, tags, orpm),
                                       orpm is not None),
                  "heatmaps / tags / max_candidates", f"decode with B = {b}, K = {k}, H = {h}, W = {w}, D = {d}")
    if heatmaps.device.type == "cuda":
        check_devices(heatmaps, tags, orpm)
        lists = lists_of_table(table, orpm is not None)
        host, _ = gather_on_device(heatmaps, tags, orpm, config, lists)
        coords, *rest = decode_tables(host, b, k, h, w, d, config, lists, neck, pelvis, tables,
                                      threads, orpm is not None)
    else:
        coords, *rest = decode_arrays(heatmaps, tags, orpm, b, k, h, w, d, config, tables, neck, pelvis, threads)
    coords[~rest[1]] = 0.0  # no NaN in custom-op outputs: 0 where not detected
    np.nan_to_num(rest[3], copy=False, nan=0.0)  # joints3d of 2D-only decoding
    return [torch.from_numpy(a).to(heatmaps.device) for a in (coords, *rest)]


@_decode_op.register_fake
def _decode_fake(heatmaps, tags, orpm, skeleton_table, neck, pelvis, mean_bones, det_threshold, nms_radius,
                 max_candidates, tag_threshold, min_joints, max_people, naive, readout_threshold, readout_min_dist,
                 refine, grouping=_DEFAULT.grouping, geometry_weight=_DEFAULT.geometry_weight,
                 person_score=_DEFAULT.person_score, min_person_score=_DEFAULT.min_person_score):
    b, k = heatmaps.shape[0], heatmaps.shape[1]
    d = 1 if tags.dim() == 4 else tags.shape[2]
    p = max_people
    e = heatmaps.new_empty
    return [e((b, p, k, 2), dtype=torch.float64), e((b, p, k), dtype=torch.float32), e((b, p, k), dtype=torch.bool),
            e((b, p, k), dtype=torch.int64), e((b, p, k, 3), dtype=torch.float32), e((b, p, k), dtype=torch.int8),
            e((b, p, k), dtype=torch.int16), e((b, p), dtype=torch.float32), e((b, p, d), dtype=torch.float64),
            e((b,), dtype=torch.int32)]

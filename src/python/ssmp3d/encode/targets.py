"""All training targets of one :class:`~ssmp3d.data.scene.Scene` (DESIGN.md section 5).

:func:`encode_scene` converts the scene's image joints to map coordinates
with a :class:`~ssmp3d.geometry.MapTransform` (the only coordinate
conversion), then calls the reference encoders:

* 2D-valid joints (heatmaps, tags, ORPM read-out locations):
  ``scene.in_image & scene.valid3d`` (a joint whose 3D position is unknown has
  no trustworthy projection either; for synthetic scenes ``valid3d`` is all
  True, so this is ``in_image``). The encoders further drop joints whose
  nearest map pixel falls outside the map.
* Bone vectors: ``(joints3d[j] - joints3d[parent(j)]) / 1000.0`` in float64
  (millimetres -> metres), rounded once to float32 when written; map ``j`` of
  a person is written only when both ``j`` and its parent are ``valid3d``.
* Depth (write order of ORPM and oracle tags): the pelvis ``z`` (mm); when
  the pelvis is not ``valid3d``, the mean ``z`` of the valid joints; 0 when
  none is valid (such a person writes nothing anyway).
* Oracle tag values: :func:`ssmp3d.encode.tags.oracle_tag_values`.

:func:`encode_batch` encodes a list of scenes at once for training, padded
to a common number of people, with the compiled batched encoders of
:mod:`ssmp3d.ops` (``backend="cpu"``) or the reference above
(``backend="python"``); both give identical arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.scene import Scene
from ..geometry import MapTransform
from ..skeleton import PANOPTIC19, Skeleton
from .heatmaps import (
    _as_bool_array,
    _as_float_array,
    _check_positive_float,
    _check_radius,
    _check_size,
    encode_heatmaps,
)
from .orpm import encode_orpm
from .tags import encode_tag_maps, oracle_tag_values, tag_indices

__all__ = ["BatchTargets", "TargetConfig", "Targets", "encode_batch", "encode_scene"]


@dataclass(frozen=True)
class TargetConfig:
    """Target encoding parameters.

    Attributes:
        stride: Output stride (input pixels per map pixel).
        sigma: Heatmap Gaussian sigma, map pixels.
        orpm_radius: ORPM disc radius, map pixels.
        tag_radius: Oracle tag-map disc radius, map pixels.
        map_size: ``(H, W)`` of the maps; ``None``: ``(image H // stride,
            image W // stride)``.
    """

    stride: int = 4
    sigma: float = 2.0
    orpm_radius: int = 2
    tag_radius: int = 2
    map_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if _check_radius(self.stride, "TargetConfig.stride") < 1:
            raise ValueError(f"TargetConfig.stride: must be >= 1, got {self.stride}")
        _check_positive_float(self.sigma, "TargetConfig.sigma")
        _check_radius(self.orpm_radius, "TargetConfig.orpm_radius")
        _check_radius(self.tag_radius, "TargetConfig.tag_radius")
        if self.map_size is not None:
            object.__setattr__(self, "map_size", _check_size(self.map_size, "TargetConfig.map_size"))


@dataclass(frozen=True, eq=False)
class Targets:
    """Encoded targets of one scene (``K`` joints, ``N`` people, map ``H x W``).

    Attributes:
        heatmaps: ``[K, H, W]`` float32 Gaussian heatmaps.
        tag_maps: ``[K, H, W]`` float32 oracle tag maps.
        tag_indices: ``[N, K, 2]`` int64 (flat index, flag) for the AE loss.
        orpm: ``[K, 3, H, W]`` float32 bone vectors (metres).
        orpm_weight: ``[K, H, W]`` float32 0/1 mask of written ORPM pixels.
        joints_map: ``[N, K, 2]`` float64 continuous map coordinates (NaN
            where the joint does not project).
    """

    heatmaps: np.ndarray
    tag_maps: np.ndarray
    tag_indices: np.ndarray
    orpm: np.ndarray
    orpm_weight: np.ndarray
    joints_map: np.ndarray


def _person_depth(joints3d: np.ndarray, valid3d: np.ndarray, pelvis: int) -> np.ndarray:
    """Pelvis ``z`` per person, with the fallbacks documented in the module."""
    z = joints3d[..., 2]
    n = z.shape[0]
    zs = np.where(valid3d, z, 0.0)
    cnt = valid3d.sum(axis=1)
    mean_z = np.divide(zs.sum(axis=1), cnt, out=np.zeros(n), where=cnt > 0)
    return np.where(valid3d[:, pelvis], zs[:, pelvis], mean_z)


def encode_scene(scene: Scene, skeleton: Skeleton = PANOPTIC19, config: TargetConfig | None = None,
                 transform: MapTransform | None = None) -> Targets:
    """Encodes heatmaps, tag maps and indices, and ORPM targets of ``scene``.

    Args:
        scene: The scene (``joints3d [N, K, 3]`` camera mm, ``joints2d [N, K, 2]`` px).
        skeleton: Its joint set (``K == skeleton.num_joints``).
        config: Encoding parameters (default :class:`TargetConfig` ``()``).
        transform: Image -> map transform; default ``MapTransform(stride=config.stride)``
            (identity affine). Its stride must equal ``config.stride``.

    Returns:
        The :class:`Targets`.

    Raises:
        TypeError: wrong argument types.
        ValueError: inconsistent shapes or strides, NaN in valid joints.
    """
    config = TargetConfig() if config is None else config
    inp = _scene_inputs(scene, skeleton, config, transform)
    heat, tag_maps, orpm, weight = _encode_inputs(inp, skeleton, config)
    joints_map = inp.joints_map
    idx = tag_indices(joints_map, inp.valid2d, inp.size)
    return Targets(heatmaps=heat, tag_maps=tag_maps, tag_indices=idx, orpm=orpm,
                   orpm_weight=weight, joints_map=joints_map)



@dataclass(frozen=True, eq=False)
class BatchTargets:
    """Encoded targets of a batch of ``B`` scenes, padded to ``N`` = the most people.

    Image ``b`` equals :func:`encode_scene` of scene ``b`` bit for bit; people
    slots ``>= num_people[b]`` are padding.

    Attributes:
        heatmaps: ``[B, K, H, W]`` float32.
        tag_maps: ``[B, K, H, W]`` float32 oracle tag maps.
        tag_indices: ``[B, N, K, 2]`` int64 (flat index, flag); padding (0, 0).
        orpm: ``[B, K, 3, H, W]`` float32.
        orpm_weight: ``[B, K, H, W]`` float32 0/1.
        joints_map: ``[B, N, K, 2]`` float64 map coordinates; padding NaN.
        num_people: ``[B]`` int64 people per scene.
    """

    heatmaps: np.ndarray
    tag_maps: np.ndarray
    tag_indices: np.ndarray
    orpm: np.ndarray
    orpm_weight: np.ndarray
    joints_map: np.ndarray
    num_people: np.ndarray


BACKENDS = ("auto", "cpu", "python")


def encode_batch(scenes: Sequence[Scene], skeleton: Skeleton = PANOPTIC19,
                 config: TargetConfig | None = None, transform: MapTransform | None = None, *,
                 backend: str = "auto", num_threads: int | None = None) -> BatchTargets:
    """Encodes a batch of scenes: the training path.

    ``backend="cpu"`` pads the scenes' people to a common ``N`` and runs the
    compiled batched encoders of :mod:`ssmp3d.ops` (several times faster);
    ``"python"`` calls :func:`encode_scene` per scene and stacks; ``"auto"``
    (default) is ``"cpu"`` when ``ssmp3d._C`` is built, else ``"python"``.
    All give identical arrays.

    Args:
        scenes: Non-empty sequence of scenes with the same map size (same
            image size, or ``config.map_size`` set).
        skeleton, config, transform: As :func:`encode_scene`.
        backend: ``"auto"``, ``"cpu"`` or ``"python"``.
        num_threads: CPU threads of the compiled encoders (``None`` =
            ``torch.get_num_threads()``, ``0`` = all cores).

    Returns:
        The :class:`BatchTargets` (numpy arrays).

    Raises:
        TypeError, ValueError: as :func:`encode_scene`; an empty batch,
            scenes with different map sizes, an unknown backend.
        ImportError: ``backend="cpu"`` without ``ssmp3d._C``.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if isinstance(scenes, Scene) or not isinstance(scenes, Sequence):
        raise TypeError(f"scenes: expected a sequence of Scene, got {type(scenes).__name__}")
    if len(scenes) == 0:
        raise ValueError("scenes: expected at least one scene")
    config = TargetConfig() if config is None else config
    inputs = [_scene_inputs(s, skeleton, config, transform) for s in scenes]
    size = inputs[0].size
    for i, inp in enumerate(inputs):
        if inp.size != size:
            raise ValueError(f"scenes: scene {i} has map size {inp.size}, scene 0 {size}; "
                             "use images of one size or set config.map_size")
    if backend == "auto":
        from ..ops._ext import has_cpu_ext

        backend = "cpu" if has_cpu_ext() else "python"
    b, k = len(inputs), skeleton.num_joints
    counts = np.array([inp.depth.shape[0] for inp in inputs], dtype=np.int64)
    n = int(counts.max())
    joints = np.full((b, n, k, 2), np.nan)
    valid = np.zeros((b, n, k), dtype=bool)
    for i, inp in enumerate(inputs):
        joints[i, : counts[i]] = inp.joints_map
        valid[i, : counts[i]] = inp.valid2d
    idx = np.stack([tag_indices(joints[i], valid[i], size) for i in range(b)])
    if backend == "python":
        per = [_encode_inputs(inp, skeleton, config) for inp in inputs]
        heat, tags, orpm, weight = (np.stack([p[j] for p in per]) for j in range(4))
    else:
        from .. import ops

        bones = np.zeros((b, n, k, 3))
        bones_valid = np.zeros((b, n, k), dtype=bool)
        depth = np.zeros((b, n))
        for i, inp in enumerate(inputs):
            bones[i, : counts[i]] = inp.bones_m
            bones_valid[i, : counts[i]] = inp.bones_valid
            depth[i, : counts[i]] = inp.depth
        bones = np.where(bones_valid[..., None], bones, 0.0)
        heat = ops.encode_heatmaps(joints, valid, size, config.sigma, num_threads=num_threads)
        orpm, weight = ops.encode_orpm(joints, bones, valid, depth, skeleton=skeleton, size=size,
                                       radius=config.orpm_radius, bones_valid=bones_valid,
                                       num_threads=num_threads)
        tags = ops.encode_tag_maps(joints, valid, depth, size, radius=config.tag_radius,
                                   num_threads=num_threads)
    return BatchTargets(heatmaps=heat, tag_maps=tags, tag_indices=idx, orpm=orpm, orpm_weight=weight,
                        joints_map=joints, num_people=counts)


def _encode_inputs(inp: _SceneInputs, skeleton: Skeleton, config: TargetConfig):
    """Reference ``(heatmaps, tag_maps, orpm, orpm_weight)`` of one scene's inputs."""
    n = inp.depth.shape[0]
    heat = encode_heatmaps(inp.joints_map, inp.valid2d, inp.size, config.sigma)
    orpm, weight = encode_orpm(inp.joints_map, inp.bones_m, inp.valid2d, inp.depth, skeleton, inp.size,
                               config.orpm_radius, bones_valid=inp.bones_valid)
    tags = encode_tag_maps(inp.joints_map, inp.valid2d, inp.depth, inp.size, oracle_tag_values(n),
                           config.tag_radius)
    return heat, tags, orpm, weight

@dataclass(frozen=True, eq=False)
class _SceneInputs:
    """What the encoders need from one scene (see the module docstring)."""

    joints_map: np.ndarray  # [N, K, 2] float64
    valid2d: np.ndarray  # [N, K] bool
    bones_m: np.ndarray  # [N, K, 3] float64
    bones_valid: np.ndarray  # [N, K] bool
    depth: np.ndarray  # [N] float64
    size: tuple[int, int]


def _scene_inputs(scene: Scene, skeleton: Skeleton, config: TargetConfig | None,
                  transform: MapTransform | None) -> _SceneInputs:
    """Checks the arguments of :func:`encode_scene` and derives the encoder inputs."""
    if not isinstance(scene, Scene):
        raise TypeError(f"scene: expected a Scene, got {type(scene).__name__}")
    if not isinstance(skeleton, Skeleton):
        raise TypeError(f"skeleton: expected a Skeleton, got {type(skeleton).__name__}")
    config = TargetConfig() if config is None else config
    if not isinstance(config, TargetConfig):
        raise TypeError(f"config: expected a TargetConfig, got {type(config).__name__}")
    if transform is None:
        transform = MapTransform(stride=config.stride)
    elif not isinstance(transform, MapTransform):
        raise TypeError(f"transform: expected a MapTransform, got {type(transform).__name__}")
    elif transform.stride != config.stride:
        raise ValueError(f"transform: stride {transform.stride} != config.stride {config.stride}")

    k = skeleton.num_joints
    joints3d = _as_float_array(scene.joints3d, "scene.joints3d", "[N, K, 3]", 3, 3)
    n = joints3d.shape[0]
    if joints3d.shape[1] != k:
        raise ValueError(f"scene.joints3d: skeleton {skeleton.name!r} has {k} joints, "
                         f"got K={joints3d.shape[1]}")
    joints2d = _as_float_array(scene.joints2d, "scene.joints2d", "[N, K, 2]", 3, 2)
    if joints2d.shape[:2] != (n, k):
        raise ValueError(f"scene.joints2d: expected shape {(n, k, 2)}, got {joints2d.shape}")
    in_image = _as_bool_array(scene.in_image, "scene.in_image", (n, k))
    valid3d = _as_bool_array(scene.valid3d, "scene.valid3d", (n, k))
    if not np.all(np.isfinite(joints3d[valid3d])):
        raise ValueError("scene.joints3d: valid3d joints must be finite")

    if config.map_size is None:
        size = (scene.camera.height // config.stride, scene.camera.width // config.stride)
    else:
        size = config.map_size
    size = _check_size(size, "map size")
    valid2d = in_image & valid3d
    joints_map = transform.image_to_map(joints2d)  # [N, K, 2]

    parents = np.asarray(skeleton.parents)
    par = np.where(parents < 0, np.arange(k), parents)
    bones_m = skeleton.bone_vectors(joints3d) / 1000.0  # [N, K, 3]
    bones_valid = valid3d & valid3d[:, par]
    depth = _person_depth(joints3d, valid3d, skeleton.pelvis)

    return _SceneInputs(joints_map=joints_map, valid2d=valid2d, bones_m=bones_m,
                        bones_valid=bones_valid, depth=depth, size=size)

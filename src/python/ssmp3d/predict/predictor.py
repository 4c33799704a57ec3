"""Inference on images of any size: letterbox, network, decoder, poses in image pixels.

:class:`Predictor` loads a checkpoint once and turns RGB images into
:class:`~ssmp3d.predict.ImagePoses`. Each image is letterboxed into the
network's square input (resized keeping its aspect ratio, padded with the
normalisation mean), the network runs on batches of ``batch_size`` images,
and the decoder reads the last stack's maps with
``MapTransform(affine=letterbox affine, stride)`` so that 2D joints come
back in the original image's pixels. Images of one size share a decode call.

Colour order: arrays are RGB unless ``color="bgr"`` is passed (what
``cv2.imread`` and ``cv2.VideoCapture`` return); files given by path are
read with OpenCV and converted, so they need no flag.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from ..data.augment import PAD_VALUE
from ..data.background import require_cv2
from ..data.dataset import normalize_image
from ..data.frames import read_image
from ..data.letterbox import letterbox
from ..decoding import DecodeConfig, available_backends, decode
from ..model import HourglassNet, StackOutput
from ..skeleton import Skeleton, get_skeleton
from ..train.checkpoint import load_model, recommended_decode_config
from ..train.evaluate import fastest_backend
from .groups import group_maps, letterbox_groups, place_poses
from .loading import checkpoint_skeleton, resolve_device
from .stream import run_batches
from .stream_cuda import run_cuda_batches
from .threads import ThreadTuner
from .types import ImagePoses

__all__ = ["COLORS", "Predictor"]

#: Channel orders an array may come in.
COLORS = ("rgb", "bgr")

ImageLike = np.ndarray | str | os.PathLike
"""An image argument: an ``[H, W, 3]`` uint8 array or a file path."""


def _as_rgb(image: np.ndarray, color: str, name: str) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, a path or a list of them, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or min(image.shape[:2]) < 1:
        raise ValueError(f"{name}: expected an [H, W, 3] uint8 {color.upper()} image, got {image.dtype} "
                         f"{list(image.shape)}")
    return np.ascontiguousarray(image[..., ::-1]) if color == "bgr" else image


class Predictor:
    """A trained network plus a decoder: images in, :class:`ImagePoses` out.

    Args:
        checkpoint: A checkpoint written by ``ssmp3d train`` (or
            :func:`~ssmp3d.train.checkpoint.export_weights`); default: the
            shipped synthetic-trained weights (:func:`ssmp3d.weights.default_checkpoint`).
        device: Where the network runs: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
            (:func:`resolve_device`); default ``"cuda"`` when available, else ``"cpu"``.
        backend: Decoder backend: ``"auto"`` (the fastest available for the
            device: :func:`~ssmp3d.train.evaluate.fastest_backend`), ``"python"``,
            ``"cpu"`` or ``"cuda"``.
        batch_size: Images per network pass.
        decode_config: Decoder parameters; None (the default) takes the
            settings the checkpoint recommends
            (:func:`~ssmp3d.train.checkpoint.recommended_decode_config`; the
            shipped weights carry theirs).
        decode_overrides: Fields of :class:`DecodeConfig` set over
            ``decode_config`` (or the recommended settings), e.g.
            ``{"nms_radius": 1}``.
        skeleton: The joint set the caller expects (a :class:`Skeleton` or a
            name), or None to take the checkpoint's.
        threads: CPU threads of the network (torch intra-op threads while
            predicting; the caller's setting is restored after each call), or
            None (the default) to adapt them to what the machine has free
            (:mod:`ssmp3d.predict.threads`).
        pipeline: Overlap the decoder with the network: on the CPU, decode
            each batch in a worker thread while the network runs on the next
            (:mod:`ssmp3d.predict.stream`); with the ``cuda`` decoder, copy
            each batch's candidate tables on a side stream and group them in a
            worker thread while the GPU runs the next batch
            (:mod:`ssmp3d.predict.stream_cuda`). False runs them one after
            the other. Results are the same.

    Attributes:
        model: The network (eval mode, on ``device``).
        skeleton: The joint set it predicts (:func:`checkpoint_skeleton`).
        device, backend, batch_size, pipeline: As resolved from the arguments.
        thread_tuner: The :class:`~ssmp3d.predict.threads.ThreadTuner` (its
            ``history`` holds each batch's thread count and time per image).
        decode_config: The decoder settings in use (recommended or given, then overridden).
        checkpoint_path, step, checkpoint_config: The checkpoint file, its
            training step and its stored configuration (plain data).

    Raises:
        FileNotFoundError: no checkpoint given and no shipped weights.
        CheckpointError: (a ValueError) an unreadable checkpoint, or one whose
            network predicts another joint set than ``skeleton``.
        ValueError, TypeError: a bad argument (named).
    """

    def __init__(self, checkpoint: str | os.PathLike | None = None, *, device: str | torch.device | None = None,
                 backend: str = "auto", batch_size: int = 8, decode_config: DecodeConfig | None = None,
                 skeleton: Skeleton | str | None = None, decode_overrides: Mapping[str, object] | None = None,
                 threads: int | None = None, pipeline: bool = True) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
        if not isinstance(pipeline, bool):
            raise TypeError(f"pipeline: expected a bool, got {type(pipeline).__name__}")
        self.thread_tuner = ThreadTuner(threads)  # checks threads before anything is loaded
        if decode_config is not None and not isinstance(decode_config, DecodeConfig):
            raise TypeError(f"decode_config: expected a DecodeConfig or None, got {type(decode_config).__name__}")
        if decode_overrides is not None and not isinstance(decode_overrides, Mapping):
            raise TypeError(f"decode_overrides: expected a mapping of DecodeConfig fields, got "
                            f"{type(decode_overrides).__name__}")
        if isinstance(skeleton, str):
            skeleton = get_skeleton(skeleton)
        elif skeleton is not None and not isinstance(skeleton, Skeleton):
            raise TypeError(f"skeleton: expected a Skeleton, a name or None, got {type(skeleton).__name__}")
        require_cv2()  # letterboxing and reading files; say how to install it before loading anything
        if checkpoint is None:
            from ..weights import default_checkpoint

            checkpoint = default_checkpoint()
        self.device = resolve_device(device)
        self.backend = fastest_backend(self.device) if backend == "auto" else backend
        if self.backend not in available_backends():
            raise ValueError(f"backend: expected 'auto' or one of {list(available_backends())}, got {backend!r}")
        if self.backend == "cuda" and self.device.type != "cuda":
            raise ValueError(f"backend: 'cuda' decodes maps on the GPU; the network runs on {self.device}")
        self.checkpoint_path = Path(checkpoint)
        model, ckpt = load_model(self.checkpoint_path, "cpu")
        self.skeleton = checkpoint_skeleton(ckpt, self.checkpoint_path, skeleton)
        self.model: HourglassNet = model.to(self.device).eval()
        self.step = int(ckpt["step"])
        self.checkpoint_config: dict = ckpt["config"]
        self.batch_size = batch_size
        self.pipeline = pipeline
        base = decode_config if decode_config is not None else recommended_decode_config(ckpt, self.checkpoint_path)
        self.decode_config = DecodeConfig.from_dict(dict(decode_overrides or {}), base=base)

    @property
    def input_size(self) -> int:
        """Side of the square network input in pixels."""
        return self.model.config.input_size

    def __repr__(self) -> str:
        return (f"Predictor({str(self.checkpoint_path)!r}, device={str(self.device)!r}, backend={self.backend!r}, "
                f"batch_size={self.batch_size}, skeleton={self.skeleton.name!r}, input_size={self.input_size})")

    def preprocess(self, images: Sequence[np.ndarray], color: str = "rgb", *,
                   staging: torch.Tensor | None = None) -> tuple[torch.Tensor, np.ndarray]:
        """Letterboxes and normalises images into one network batch.

        Args:
            images: ``[H_i, W_i, 3]`` uint8 arrays (sizes may differ).
            color: Their channel order, ``"rgb"`` or ``"bgr"``.
            staging: A ``[B, 3, S, S]`` float32 CPU tensor (pinned) to stack the
                batch into; the upload to a CUDA device is then asynchronous
                (on the current stream), so ``staging`` must stay unchanged
                until the upload is done. None: a new tensor, uploaded synchronously.

        Returns:
            ``(inputs [B, 3, S, S] float32 on the device, affines [B, 2, 3])``,
            ``S`` = :attr:`input_size`; ``affines[b]`` maps image ``b``'s
            pixels to input pixels.
        """
        if color not in COLORS:
            raise ValueError(f"color: expected one of {COLORS}, got {color!r}")
        tensors, affines = [], []
        for i, image in enumerate(images):
            boxed, affine = letterbox(_as_rgb(image, color, f"images[{i}]"), self.input_size, pad_value=PAD_VALUE)
            tensors.append(normalize_image(boxed))
            affines.append(affine)
        if not tensors:
            raise ValueError("images: expected at least one image")
        if staging is None:
            return torch.stack(tensors).to(self.device), np.stack(affines)
        shape = (len(tensors), 3, self.input_size, self.input_size)
        if staging.dtype != torch.float32 or staging.device.type != "cpu" or tuple(staging.shape) != shape:
            raise ValueError(f"staging: expected a float32 CPU tensor of shape {list(shape)}, got {staging.dtype} "
                             f"{list(staging.shape)} on {staging.device}")
        return torch.stack(tensors, out=staging).to(self.device, non_blocking=True), np.stack(affines)

    @torch.inference_mode()
    def infer(self, inputs: torch.Tensor) -> StackOutput:
        """The network's last-stack maps for a batch, float32, where the decoder reads them.

        Args:
            inputs: ``[B, 3, S, S]`` from :meth:`preprocess`.

        Returns:
            ``StackOutput(heatmaps [B, K, S/4, S/4], tags [B, K, D, S/4, S/4],
            orpm [B, K, 3, S/4, S/4])``: on the device for the ``cuda``
            decoder, on the CPU otherwise.
        """
        out = self.model(inputs)[-1]
        maps = [x.float() for x in out]
        if self.backend != "cuda":
            maps = [x.cpu() for x in maps]
        return StackOutput(*maps)

    def decode(self, maps: StackOutput, affines: np.ndarray, sizes: Sequence[tuple[int, int]], *,
               backend: str | None = None, num_threads: int | None = None) -> list[ImagePoses]:
        """Decodes maps into people in each image's pixels.

        Args:
            maps: :meth:`infer`'s output for ``B`` images.
            affines: ``[B, 2, 3]`` image -> input affines from :meth:`preprocess`.
            sizes: ``(width, height)`` of each original image.
            backend: Decoder backend (default: this predictor's).
            num_threads: Host threads of the ``cpu`` / ``cuda`` decoder (None: torch's count).

        Returns:
            One :class:`ImagePoses` per image (``source`` and ``frame`` unset).
        """
        backend = backend or self.backend
        results: list[ImagePoses | None] = [None] * len(sizes)
        for group in letterbox_groups(affines, self.model.config.stride):  # one decode call per letterbox
            heat, tags, orpm = group_maps(maps, group, len(sizes))
            result = decode(heat, tags, orpm, self.decode_config, skeleton=self.skeleton, transform=group.transform,
                            backend=backend, num_threads=num_threads)
            place_poses(results, result, group, sizes, self.skeleton)
        return results  # type: ignore[return-value]

    def predict_batch(self, images: Sequence[np.ndarray], *, color: str = "rgb") -> list[ImagePoses]:
        """:meth:`preprocess`, :meth:`infer` and :meth:`decode` of any number of arrays, in
        batches of :attr:`batch_size` (pipelined unless ``pipeline=False``)."""
        chunks = [list(images[start:start + self.batch_size]) for start in range(0, len(images), self.batch_size)]
        out: list[ImagePoses] = []
        for poses in self._run(chunks, color):
            out.extend(poses)
        return out

    def _run(self, chunks: Iterable[Sequence[np.ndarray]], color: str) -> Iterator[list[ImagePoses]]:
        """:func:`~ssmp3d.predict.stream.run_batches` (or, pipelined with the ``cuda`` decoder,
        :func:`~ssmp3d.predict.stream_cuda.run_cuda_batches`) with the caller's torch thread count restored after."""
        if color not in COLORS:
            raise ValueError(f"color: expected one of {COLORS}, got {color!r}")
        caller = torch.get_num_threads()
        try:
            if self.pipeline and self.backend == "cuda":
                yield from run_cuda_batches(self, chunks, color)
            else:
                yield from run_batches(self, chunks, color, pipeline=self.pipeline)
        finally:
            if torch.get_num_threads() != caller:
                torch.set_num_threads(caller)

    def predict(self, images: ImageLike | Sequence[ImageLike], *, color: str = "rgb"):
        """Poses in one image or a list of images.

        Args:
            images: An ``[H, W, 3]`` uint8 array, a file path, or a list of them.
                Arrays are RGB unless ``color="bgr"``; files are read with
                OpenCV and converted, whatever ``color`` says.
            color: Channel order of the arrays: ``"rgb"`` (default) or ``"bgr"``.

        Returns:
            An :class:`ImagePoses` for a single image, a list of them for a
            list (files carry their path in ``source``).

        Raises:
            TypeError, ValueError: not an image array or path; a file that
                cannot be read (``DatasetError``, naming it).
        """
        single = isinstance(images, (np.ndarray, str, os.PathLike))
        items = [images] if single else list(images)
        results = list(self.predict_iter(items, color=color))
        return results[0] if single else results

    def predict_iter(self, images: Iterable[ImageLike], *, color: str = "rgb") -> Iterator[ImagePoses]:
        """Like :meth:`predict` for a stream (e.g. video frames): reads, batches and yields in order."""
        if color not in COLORS:
            raise ValueError(f"color: expected one of {COLORS}, got {color!r}")
        from dataclasses import replace

        sources: list[list[str | None]] = []  # per batch read, in order; the decode lags one batch behind

        def batches() -> Iterator[list[np.ndarray]]:
            batch: list[np.ndarray] = []
            names: list[str | None] = []
            for item in images:
                if isinstance(item, (str, os.PathLike)):
                    batch.append(read_image(item)[..., ::-1] if color == "rgb" else read_image(item))
                    names.append(str(item))
                else:
                    batch.append(item)
                    names.append(None)
                if len(batch) == self.batch_size:
                    sources.append(names)
                    yield batch
                    batch, names = [], []
            if batch:
                sources.append(names)
                yield batch

        for poses in self._run(batches(), color):
            for p, source in zip(poses, sources.pop(0)):
                yield p if source is None else replace(p, source=source)

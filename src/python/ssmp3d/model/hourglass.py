"""Stacked hourglass network with heatmap, tag and ORPM heads (paper section 3.1).

Architecture (Newell et al. 2016, as in the associative-embedding code the
paper builds on):

* **Stem** (stride 4): 7x7 stride-2 convolution to ``F/4`` channels with
  batch norm and ReLU, a residual block to ``F/2``, a 2x2 max-pool, and two
  residual blocks to ``F`` (``F`` = ``features``).
* **Hourglass** of depth ``d``: a residual block on the skip branch; on the
  low branch a max-pool, a residual block (``+increase`` channels), the
  hourglass of depth ``d - 1`` (a residual block at depth 0), a residual
  block back to the input width and a nearest-neighbour 2x upsampling; the
  two branches are added.
* **Residual block**: pre-activation bottleneck (BN-ReLU-1x1 to half width,
  BN-ReLU-3x3, BN-ReLU-1x1), with a 1x1 projection on the skip when the
  width changes.
* **Per stack**: hourglass -> residual block -> 1x1 conv-BN-ReLU (the
  stack's features) -> 1x1 prediction convolution to ``K * (4 + D)``
  channels. Every stack but the last feeds the next one with
  ``x + merge_preds(prediction) + merge_features(features)`` (two 1x1
  convolutions): intermediate supervision with refinement.

The prediction tensor ``[B, K * (4 + D), H', W']`` holds, along channels,
``K`` heatmaps, then ``K * D`` tags (joint-major: channel ``K + k * D + d``),
then ``K * 3`` ORPM values (joint-major: channel ``K + K * D + 3 * k + c``).
:class:`StackOutput` exposes three views of it (no copies), also for
``channels_last`` tensors.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .config import OUTPUT_STRIDE, HourglassConfig

__all__ = ["HourglassNet", "StackOutput", "count_parameters", "split_prediction"]


class StackOutput(NamedTuple):
    """One stack's predictions (views of one tensor).

    Attributes:
        heatmaps: ``[B, K, H', W']`` joint heatmaps (linear; targets in [0, 1]).
        tags: ``[B, K, D, H', W']`` associative embeddings.
        orpm: ``[B, K, 3, H', W']`` parent-relative bone vectors, metres.
    """

    heatmaps: torch.Tensor
    tags: torch.Tensor
    orpm: torch.Tensor


def split_prediction(pred: torch.Tensor, num_joints: int, tag_dim: int) -> StackOutput:
    """Splits a prediction tensor into its three named views.

    Args:
        pred: ``[B, K * (4 + D), H', W']`` (any memory format).
        num_joints: ``K``.
        tag_dim: ``D``.

    Returns:
        The :class:`StackOutput` views ``[B, K, H', W']``, ``[B, K, D, H', W']``,
        ``[B, K, 3, H', W']``.

    Raises:
        ValueError: ``pred`` is not 4-D or has the wrong channel count.
    """
    k, d = num_joints, tag_dim
    if pred.dim() != 4 or pred.shape[1] != k * (4 + d):
        raise ValueError(f"pred: expected [B, {k * (4 + d)}, H, W] for K={k}, D={d}, "
                         f"got {tuple(pred.shape)}")
    heat = pred[:, :k]
    tags = pred[:, k : k + k * d].unflatten(1, (k, d))
    orpm = pred[:, k + k * d :].unflatten(1, (k, 3))
    return StackOutput(heatmaps=heat, tags=tags, orpm=orpm)


class ConvBNReLU(nn.Sequential):
    """Convolution (no bias), batch norm, ReLU; ``[B, C_in, H, W] -> [B, C_out, H/s, W/s]``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class Residual(nn.Module):
    """Pre-activation bottleneck residual block; ``[B, C_in, H, W] -> [B, C_out, H, W]``."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = max(cout // 2, 1)
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(inplace=False), nn.Conv2d(cin, mid, 1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1),
        )
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C_in, H, W] -> [B, C_out, H, W]``."""
        return self.skip(x) + self.body(x)


class Hourglass(nn.Module):
    """Recursive hourglass; ``[B, C, H, W] -> [B, C, H, W]`` with ``H, W`` divisible by ``2**depth``."""

    def __init__(self, depth: int, features: int, increase: int) -> None:
        super().__init__()
        low = features + increase
        self.up = Residual(features, features)
        self.pool = nn.MaxPool2d(2, 2)
        self.down = Residual(features, low)
        self.inner = Hourglass(depth - 1, low, increase) if depth > 1 else Residual(low, low)
        self.back = Residual(low, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W] -> [B, C, H, W]``."""
        low = self.back(self.inner(self.down(self.pool(x))))
        return self.up(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")


def _head(features: int, hidden: int, out: int) -> nn.Module:
    """Prediction head ``[B, F, H, W] -> [B, out, H, W]``: one 1x1 conv, or 1x1 conv-BN-ReLU to ``hidden`` then 1x1."""
    if hidden == 0:
        return nn.Conv2d(features, out, 1)
    return nn.Sequential(ConvBNReLU(features, hidden, 1), nn.Conv2d(hidden, out, 1))


class HourglassNet(nn.Module):
    """The stacked hourglass network of the paper (see the module docstring).

    Attributes:
        config: The :class:`HourglassConfig` it was built from.
    """

    def __init__(self, config: HourglassConfig | None = None) -> None:
        """Builds the network.

        Args:
            config: Hyper-parameters; default :meth:`HourglassConfig.paper`.

        Raises:
            TypeError: ``config`` is not a :class:`HourglassConfig`.
        """
        super().__init__()
        config = HourglassConfig.paper() if config is None else config
        if not isinstance(config, HourglassConfig):
            raise TypeError(f"config: expected a HourglassConfig, got {type(config).__name__}")
        self.config = config
        f, s, out = config.features, config.num_stacks, config.out_channels
        self.stem = nn.Sequential(
            ConvBNReLU(3, f // 4, 7, stride=2),
            Residual(f // 4, f // 2),
            nn.MaxPool2d(2, 2),
            Residual(f // 2, f // 2),
            Residual(f // 2, f),
        )
        self.hourglasses = nn.ModuleList(Hourglass(config.depth, f, config.increase) for _ in range(s))
        self.features = nn.ModuleList(nn.Sequential(Residual(f, f), ConvBNReLU(f, f, 1)) for _ in range(s))
        self.heads = nn.ModuleList(_head(f, config.head_features, out) for _ in range(s))
        self.merge_preds = nn.ModuleList(nn.Conv2d(out, f, 1) for _ in range(s - 1))
        self.merge_features = nn.ModuleList(nn.Conv2d(f, f, 1) for _ in range(s - 1))
        for head in self.heads:
            last = head[-1] if isinstance(head, nn.Sequential) else head
            nn.init.normal_(last.weight, std=config.head_init_std)
            nn.init.zeros_(last.bias)

    def check_input(self, images: torch.Tensor) -> None:
        """Raises a clear error unless ``images`` is a valid network input.

        Args:
            images: ``[B, 3, H, W]`` floating point; ``H, W`` multiples of
                ``config.input_multiple`` (``4 * 2**depth``).

        Raises:
            TypeError: not a floating-point tensor.
            ValueError: wrong rank, channel count or spatial size.
        """
        if not isinstance(images, torch.Tensor) or not images.is_floating_point():
            what = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
            raise TypeError(f"images: expected a floating-point tensor [B, 3, H, W], got {what}")
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images: expected shape [B, 3, H, W], got {tuple(images.shape)}")
        m = self.config.input_multiple
        h, w = images.shape[-2:]
        if h % m or w % m or h == 0 or w == 0:
            raise ValueError(f"images: H and W must be positive multiples of 4 * 2**depth = {m} "
                             f"(depth {self.config.depth}), got {h} x {w}")

    def forward(self, images: torch.Tensor) -> list[StackOutput]:
        """Predicts heatmaps, tags and ORPM with every stack.

        Args:
            images: ``[B, 3, H, W]`` normalised images; ``H, W`` multiples of
                ``4 * 2**depth`` (64 for depth 4).

        Returns:
            One :class:`StackOutput` per stack (maps ``H' = H / 4``,
            ``W' = W / 4``), first stack first; the last one is the
            network's prediction.

        Raises:
            TypeError, ValueError: as :meth:`check_input`.
        """
        self.check_input(images)
        cfg = self.config
        x = self.stem(images)
        outputs: list[StackOutput] = []
        for i in range(cfg.num_stacks):
            feat = self.features[i](self.hourglasses[i](x))
            pred = self.heads[i](feat)
            outputs.append(split_prediction(pred, cfg.num_joints, cfg.tag_dim))
            if i + 1 < cfg.num_stacks:
                x = x + self.merge_preds[i](pred) + self.merge_features[i](feat)
        return outputs

    def output_size(self, input_hw: tuple[int, int]) -> tuple[int, int]:
        """Map size ``(H', W')`` for an input of ``(H, W)`` pixels (``H / 4, W / 4``)."""
        h, w = input_hw
        return (h // OUTPUT_STRIDE, w // OUTPUT_STRIDE)

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of parameters (see :func:`count_parameters`)."""
        return count_parameters(self, trainable_only)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``module`` (buffers such as BN statistics excluded).

    Args:
        module: Any module.
        trainable_only: Count only parameters with ``requires_grad``.

    Returns:
        The count.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)

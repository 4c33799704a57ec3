"""Hyper-parameters of the stacked hourglass network (DESIGN.md section 4).

:class:`HourglassConfig` is a frozen dataclass, checked on construction, with
three presets:

* :meth:`HourglassConfig.paper`: the paper's network (4 stacks, 256 features,
  512 x 512 input, channel growth 128 per hourglass level as in the public
  associative-embedding code the paper builds on).
* :meth:`HourglassConfig.small`: a CPU-sized network (2 stacks, 64 features,
  256 x 256 input).
* :meth:`HourglassConfig.tiny`: a test-sized network (2 stacks, 16 features,
  64 x 64 input): a forward and backward pass take milliseconds on a CPU.

The output stride is always 4 (the stem: a stride-2 7x7 convolution and a
2x2 max-pool). Each hourglass halves the resolution ``depth`` times, so an
input side must be a multiple of ``4 * 2**depth``
(:attr:`HourglassConfig.input_multiple`).

A configuration knows its network's size without building it
(:attr:`HourglassConfig.num_parameters`, :attr:`HourglassConfig.state_numel`)
and refuses one of more than :data:`MAX_PARAMETERS` parameters, so a
checkpoint's stored configuration can be checked before any memory is spent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = ["MAX_PARAMETERS", "OUTPUT_STRIDE", "HourglassConfig"]

OUTPUT_STRIDE = 4
"""Input pixels per output-map pixel (the stem's stride)."""

MAX_STACKS = 8
"""Most hourglass stacks a configuration accepts."""

MAX_PARAMETERS = 2_000_000_000
"""Most parameters a configuration may have (8 GB of float32 weights; the paper's network has 60 million)."""


def _check_int(value, name: str, lo: int, hi: int | None = None) -> int:
    """``value`` as an int in ``[lo, hi]``, or a clear TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"HourglassConfig.{name}: expected an int, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"HourglassConfig.{name}: must be {bound}, got {value}")
    return value


@dataclass(frozen=True)
class HourglassConfig:
    """Stacked hourglass hyper-parameters.

    Attributes:
        num_joints: Joint types ``K`` (19 for Panoptic COCO19).
        num_stacks: Hourglass modules, 1 to 8; each one predicts and is
            supervised (intermediate supervision).
        features: Channels of the features between hourglasses. A multiple
            of 4 (the stem runs at ``features / 4`` and ``features / 2``
            channels; residual bottlenecks at half their width), >= 8.
        input_size: Default square input side in pixels (a multiple of
            :attr:`input_multiple`); the network accepts any such size.
        tag_dim: Dimension ``D`` of the associative embeddings (>= 1).
        depth: Halvings inside each hourglass (>= 1; 4 in the paper).
        increase: Extra channels added at each level below the top of an
            hourglass (0: constant width, Newell et al. 2016; 128: the
            associative-embedding code).
        head_features: Width of the hidden layer of each stack's prediction
            head (a 1x1 convolution, batch norm and ReLU before the output
            1x1 convolution); 0 = a single 1x1 convolution from ``features``
            to the outputs, as in the associative-embedding code. A width at
            least :attr:`out_channels` keeps the head from being a rank
            bottleneck when ``features < out_channels``.
        head_init_std: Standard deviation of the normal initialisation of
            the prediction convolution (bias 0): initial heatmaps, tags and
            bone vectors are close to, but not exactly, 0. Not exactly 0 so
            that the tags are not stuck on the symmetric point of the push
            loss, where its gradient vanishes.
    """

    num_joints: int = 19
    num_stacks: int = 4
    features: int = 256
    input_size: int = 512
    tag_dim: int = 1
    depth: int = 4
    increase: int = 0
    head_init_std: float = 1e-3
    head_features: int = 0

    def __post_init__(self) -> None:
        _check_int(self.num_joints, "num_joints", 1)
        _check_int(self.num_stacks, "num_stacks", 1, MAX_STACKS)
        _check_int(self.features, "features", 8)
        if self.features % 4:
            raise ValueError(f"HourglassConfig.features: must be a multiple of 4, got {self.features}")
        _check_int(self.tag_dim, "tag_dim", 1)
        _check_int(self.depth, "depth", 1, 8)
        _check_int(self.increase, "increase", 0)
        _check_int(self.input_size, "input_size", 1)
        _check_int(self.head_features, "head_features", 0, 8192)
        m = self.input_multiple
        if self.input_size % m:
            raise ValueError(f"HourglassConfig.input_size: must be a multiple of 4 * 2**depth = {m}, "
                             f"got {self.input_size}")
        std = self.head_init_std
        if isinstance(std, bool) or not isinstance(std, (int, float)):
            raise TypeError(f"HourglassConfig.head_init_std: expected a float, got {std!r}")
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"HourglassConfig.head_init_std: must be finite and > 0, got {std}")
        if self.num_parameters > MAX_PARAMETERS:
            raise ValueError(f"HourglassConfig: {self.num_parameters:,} parameters, more than the limit of "
                             f"{MAX_PARAMETERS:,}")

    @property
    def stride(self) -> int:
        """Output stride (always :data:`OUTPUT_STRIDE` = 4)."""
        return OUTPUT_STRIDE

    @property
    def input_multiple(self) -> int:
        """Input sides must be multiples of this: ``4 * 2**depth``."""
        return OUTPUT_STRIDE * 2**self.depth

    @property
    def output_size(self) -> int:
        """Map side ``H' = W'`` for the default :attr:`input_size`."""
        return self.input_size // OUTPUT_STRIDE

    @property
    def channels_per_joint(self) -> int:
        """Output channels per joint: 1 heatmap + ``tag_dim`` tags + 3 ORPM."""
        return 1 + self.tag_dim + 3

    @property
    def out_channels(self) -> int:
        """Channels of one stack's prediction tensor: ``K * (4 + D)``."""
        return self.num_joints * self.channels_per_joint

    @property
    def num_parameters(self) -> int:
        """Parameters of the network this configuration builds, computed without building it."""
        return _sizes(self)[0]

    @property
    def state_numel(self) -> int:
        """Values in the network's ``state_dict()``: parameters and batch-norm buffers (running
        statistics and step counters), computed without building it."""
        params, buffers = _sizes(self)
        return params + buffers

    def with_(self, **changes) -> "HourglassConfig":
        """A copy with some fields changed (checked like a new config)."""
        return replace(self, **changes)

    @classmethod
    def paper(cls, **overrides) -> "HourglassConfig":
        """The paper's network: 4 stacks, 256 features, 512 input, depth 4, increase 128.

        Args:
            **overrides: Fields to change (e.g. ``num_stacks=2`` for the
                paper's stacking ablation).
        """
        kw = dict(num_stacks=4, features=256, input_size=512, depth=4, increase=128)
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def small(cls, **overrides) -> "HourglassConfig":
        """A CPU-sized network: 2 stacks, 64 features, 256 input, depth 4, no increase.

        Its 64 features are fewer than the 95 outputs of 19 joints, so the
        heads get a hidden layer of 128 channels (:attr:`head_features`).
        """
        kw = dict(num_stacks=2, features=64, input_size=256, depth=4, increase=0, head_features=128)
        kw.update(overrides)
        return cls(**kw)

    @classmethod
    def tiny(cls, **overrides) -> "HourglassConfig":
        """A test-sized network: 2 stacks, 16 features, 64 input (16 x 16 maps), depth 4."""
        kw = dict(num_stacks=2, features=16, input_size=64, depth=4, increase=0)
        kw.update(overrides)
        return cls(**kw)


def _sizes(c: HourglassConfig) -> tuple[int, int]:
    """``(parameters, buffer values)`` of ``HourglassNet(c)``, mirroring :mod:`ssmp3d.model.hourglass`."""

    def conv(cin: int, cout: int, k: int = 1, bias: bool = True) -> tuple[int, int]:
        return cin * cout * k * k + (cout if bias else 0), 0

    def bn(ch: int) -> tuple[int, int]:
        return 2 * ch, 2 * ch + 1  # weight, bias; running mean, running var, num_batches_tracked

    def add(*parts: tuple[int, int]) -> tuple[int, int]:
        return sum(p for p, _ in parts), sum(b for _, b in parts)

    def residual(cin: int, cout: int) -> tuple[int, int]:
        mid = max(cout // 2, 1)
        skip = (0, 0) if cin == cout else conv(cin, cout)
        return add(bn(cin), conv(cin, mid), bn(mid), conv(mid, mid, 3), bn(mid), conv(mid, cout), skip)

    def conv_bn_relu(cin: int, cout: int, k: int) -> tuple[int, int]:
        return add(conv(cin, cout, k, bias=False), bn(cout))

    def hourglass(depth: int, ch: int) -> tuple[int, int]:
        low = ch + c.increase
        inner = hourglass(depth - 1, low) if depth > 1 else residual(low, low)
        return add(residual(ch, ch), residual(ch, low), inner, residual(low, ch))

    f, s, out, hidden = c.features, c.num_stacks, c.out_channels, c.head_features
    stem = add(conv_bn_relu(3, f // 4, 7), residual(f // 4, f // 2), residual(f // 2, f // 2), residual(f // 2, f))
    head = conv(f, out) if hidden == 0 else add(conv_bn_relu(f, hidden, 1), conv(hidden, out))
    stack = add(hourglass(c.depth, f), residual(f, f), conv_bn_relu(f, f, 1), head)
    merge = add(conv(out, f), conv(f, f))
    return add(stem, *[stack] * s, *[merge] * (s - 1))

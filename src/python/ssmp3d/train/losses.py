"""Training losses of the paper, eq. (2) and (3), vectorised over a padded batch.

For one stack's predictions (``B`` images, ``K`` joints, maps ``H x W``,
``N`` people slots per image, tag dimension ``D``):

* **Heatmaps** (``L_2D``), by :attr:`LossConfig.normalization`:

  - ``"mass"`` (default): ``sum((pred - target)**2) / max(sum(target), 1)``
    over the batch: the squared error per unit of target mass. A Gaussian
    of peak 1 has ``sum(g**2) / sum(g) = 1/2``, so an all-zero prediction
    scores about 0.5 whatever the map size and the number of people, and a
    weight means the same at 64 x 64 and 128 x 128 maps;
  - ``"pixels"``: ``mean((pred - target)**2)`` over all ``B * K * H * W``
    pixels (the associative-embedding code). Its scale shrinks with the
    background share of the map: on 64 x 64 maps with a few people it is
    about 1000x smaller than ``"mass"``, and the ORPM gradient dominated
    the shared network (see docs/training.md).
* **ORPM** (``L_ORPM``): ``sum(w * sum_c (pred_c - target_c)**2) / max(sum(w), 1)``
  with ``w = orpm_weight [B, K, H, W]`` (0/1, broadcast over the 3
  channels): the squared bone-vector error (m^2) per written pixel,
  normalised over the whole batch; 0 when nothing is written.
* **Associative embedding** (``L_AE``, eq. 2). Tags ``e`` are read at
  ``tag_indices [B, N, K, 2]`` (flat pixel ``y * W + x``, visible flag).
  Person ``n`` of image ``b`` *counts* when it has at least one visible
  joint; padding slots (all flags 0) and people without visible joints do
  not. For counting people, ``ref_n = mean_k e_k(x_{k,n})`` over its visible
  joints (``[D]``), and per image:

  - pull: ``(1 / N_b) sum_n (1 / |V_n|) sum_{k in V_n} ||e_k(x_{k,n}) - ref_n||^2``
    (the mean over people of the mean squared distance to the reference;
    the paper's ``1 / (N K)`` when every joint is visible);
  - push: ``(1 / (N_b (N_b - 1))) sum_{n != n'} exp(-||ref_n - ref_n'||^2 / (2 sigma^2))``
    (the mean over ordered pairs of distinct people; the paper writes
    ``1 / N^2`` in front of the same sum, which only rescales the term),

  where ``N_b`` is the number of counting people of image ``b``. An image
  with no counting person has pull 0; one with fewer than two has push 0.
  Both are then averaged over the ``B`` images (empty images included).
* **Total** (eq. 3): ``sum_s w_s (l_hm L_2D + l_orpm L_ORPM + l_pull pull + l_push push)``
  over stacks ``s`` (intermediate supervision), with the per-stack weights
  ``w_s`` (default 1) and the term weights of :class:`LossConfig`.

Everything is computed in float32 with autocast disabled, whatever the
dtype of the predictions (e.g. bfloat16 under ``torch.autocast``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..model.hourglass import StackOutput
from .train_targets import TrainTargets

__all__ = [
    "NORMALIZATIONS",
    "LossConfig",
    "associative_embedding_loss",
    "compute_losses",
    "heatmap_loss",
    "orpm_loss",
]

TERMS = ("heatmap", "orpm", "pull", "push")
"""Names of the loss terms, in the order of :class:`LossConfig`'s weights."""
NORMALIZATIONS = ("mass", "pixels")
"""Heatmap loss normalisations (see the module docstring)."""


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms (eq. 3) and the push-loss sigma (eq. 2).

    The paper does not give its lambdas. The defaults were chosen by
    measuring the gradient norm each term sends into the shared network at
    initialisation and in mid-training (docs/training.md; bounded by
    ``tests/train/test_losses.py::test_default_weights_balance_gradients``).
    ``normalization="pixels"`` with heatmap and ORPM at 1 and pull and push
    at 1e-3 is the associative-embedding code's recipe (the first shipped
    weights).

    Attributes:
        heatmap_weight: ``lambda_2D``.
        orpm_weight: ``lambda_ORPM``.
        pull_weight: Weight of the AE pull term.
        push_weight: Weight of the AE push term.
        push_sigma: ``sigma`` of the push term (tag units; > 0).
        stack_weights: One weight per stack, or ``None`` (every stack 1).
        normalization: Heatmap loss normalisation, ``"mass"`` or ``"pixels"``
            (module docstring).
    """

    heatmap_weight: float = 1.0
    orpm_weight: float = 8.0
    pull_weight: float = 0.1
    push_weight: float = 0.1
    push_sigma: float = 1.0
    stack_weights: tuple[float, ...] | None = None
    normalization: str = "mass"

    @classmethod
    def associative_embedding(cls) -> "LossConfig":
        """The associative-embedding code's recipe: per-pixel heatmap mean, ORPM 1, pull and push 1e-3."""
        return cls(heatmap_weight=1.0, orpm_weight=1.0, pull_weight=1e-3, push_weight=1e-3,
                   normalization="pixels")

    def __post_init__(self) -> None:
        for name in ("heatmap_weight", "orpm_weight", "pull_weight", "push_weight", "push_sigma"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"LossConfig.{name}: expected a float, got {v!r}")
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"LossConfig.{name}: must be finite and >= 0, got {v}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"LossConfig.normalization: expected one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.push_sigma <= 0:
            raise ValueError(f"LossConfig.push_sigma: must be > 0, got {self.push_sigma}")
        if self.stack_weights is not None:
            ws = tuple(self.stack_weights)
            if len(ws) == 0 or not all(
                    not isinstance(w, bool) and isinstance(w, (int, float)) and math.isfinite(w) and w >= 0
                    for w in ws):
                raise ValueError(f"LossConfig.stack_weights: expected finite weights >= 0, got {ws!r}")
            object.__setattr__(self, "stack_weights", tuple(float(w) for w in ws))

    def term_weights(self) -> dict[str, float]:
        """``{"heatmap", "orpm", "pull", "push"}`` -> weight."""
        return {"heatmap": self.heatmap_weight, "orpm": self.orpm_weight,
                "pull": self.pull_weight, "push": self.push_weight}


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, normalization: str = "mass") -> torch.Tensor:
    """Heatmap L2 in float32, normalised per pixel or per unit of target mass.

    Args:
        pred: ``[B, K, H, W]`` predictions (any float dtype).
        target: ``[B, K, H, W]`` targets.
        normalization: ``"pixels"``: ``mean((pred - target)**2)``;
            ``"mass"``: ``sum((pred - target)**2) / max(sum(target), 1)``.

    Returns:
        A float32 scalar.
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization: expected one of {NORMALIZATIONS}, got {normalization!r}")
    t = target.float()
    err = (pred.float() - t).square()
    if normalization == "pixels":
        return err.mean()
    return err.sum() / t.sum().clamp(min=1.0)


def orpm_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Masked ORPM L2 per weighted pixel, in float32.

    ``sum(w * sum_c (pred - target)**2) / max(sum(w), 1)``.

    Args:
        pred: ``[B, K, 3, H, W]`` predicted bone vectors (metres).
        target: ``[B, K, 3, H, W]`` target bone vectors.
        weight: ``[B, K, H, W]`` 0/1 mask of written pixels.

    Returns:
        A float32 scalar (0 when ``weight`` is all 0).
    """
    w = weight.float()
    err = (pred.float() - target.float()).square().sum(dim=2)  # [B, K, H, W]
    return (err * w).sum() / w.sum().clamp(min=1.0)


def associative_embedding_loss(tags: torch.Tensor, tag_indices: torch.Tensor,
                               sigma: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pull and push terms of eq. (2) (see the module docstring), batched, in float32.

    Args:
        tags: ``[B, K, D, H, W]`` predicted embeddings.
        tag_indices: ``[B, N, K, 2]`` int64 (flat index ``y * W + x``, flag);
            flagged-off entries are ignored (their index must still be in
            ``[0, H * W)``, as :func:`~ssmp3d.encode.tag_indices` writes 0).
        sigma: Push-loss sigma (> 0).

    Returns:
        ``(pull, push)`` float32 scalars, each the mean over the ``B`` images.
    """
    b, k, d = tags.shape[:3]
    n = tag_indices.shape[1]
    flat = tags.float().reshape(b, k, d, -1)  # [B, K, D, HW]
    idx = tag_indices[..., 0].long()  # [B, N, K]
    vis = tag_indices[..., 1] > 0  # [B, N, K]
    gather_idx = idx.permute(0, 2, 1).unsqueeze(2).expand(b, k, d, n)  # [B, K, D, N]
    e = flat.gather(3, gather_idx).permute(0, 3, 1, 2)  # [B, N, K, D]
    m = vis.to(e.dtype)  # [B, N, K]
    cnt = m.sum(dim=2)  # [B, N]
    person = cnt > 0  # [B, N]
    ref = (e * m.unsqueeze(-1)).sum(dim=2) / cnt.clamp(min=1.0).unsqueeze(-1)  # [B, N, D]
    sq = (e - ref.unsqueeze(2)).square().sum(dim=-1)  # [B, N, K]
    pull_person = (sq * m).sum(dim=2) / cnt.clamp(min=1.0)  # [B, N]
    pf = person.to(e.dtype)
    n_people = pf.sum(dim=1)  # [B]
    pull = (pull_person * pf).sum(dim=1) / n_people.clamp(min=1.0)  # [B]

    diff = (ref.unsqueeze(2) - ref.unsqueeze(1)).square().sum(dim=-1)  # [B, N, N]
    pairs = person.unsqueeze(2) & person.unsqueeze(1)
    pairs &= ~torch.eye(n, dtype=torch.bool, device=tags.device)
    push_pair = torch.exp(diff * (-0.5 / (float(sigma) ** 2))) * pairs.to(e.dtype)
    push = push_pair.sum(dim=(1, 2)) / (n_people * (n_people - 1.0)).clamp(min=1.0)  # [B]
    return pull.mean(), push.mean()


def _check_stack(out: StackOutput, targets: TrainTargets, s: int) -> None:
    """Clear errors for predictions that do not match the targets."""
    heat, tags, orpm = out
    b, k, h, w = targets.heatmaps.shape
    if tuple(heat.shape) != (b, k, h, w):
        raise ValueError(f"outputs[{s}].heatmaps: expected {(b, k, h, w)} like the targets, "
                         f"got {tuple(heat.shape)}")
    if tags.dim() != 5 or tuple(tags.shape[:2]) != (b, k) or tuple(tags.shape[3:]) != (h, w):
        raise ValueError(f"outputs[{s}].tags: expected [{b}, {k}, D, {h}, {w}], got {tuple(tags.shape)}")
    if tuple(orpm.shape) != (b, k, 3, h, w):
        raise ValueError(f"outputs[{s}].orpm: expected {(b, k, 3, h, w)}, got {tuple(orpm.shape)}")


def _check_targets(targets: TrainTargets) -> None:
    """Clear errors for targets of the wrong type or inconsistent shapes."""
    if not isinstance(targets, TrainTargets):
        raise TypeError(f"targets: expected a TrainTargets, got {type(targets).__name__} "
                        "(convert encode_batch output with TrainTargets.from_batch)")
    if targets.heatmaps.dim() != 4:
        raise ValueError(f"targets.heatmaps: expected [B, K, H, W], got {tuple(targets.heatmaps.shape)}")
    b, k, h, w = targets.heatmaps.shape
    ti = targets.tag_indices
    if ti.dim() != 4 or ti.shape[0] != b or ti.shape[2] != k or ti.shape[3] != 2:
        raise ValueError(f"targets.tag_indices: expected [{b}, N, {k}, 2], got {tuple(ti.shape)}")
    if tuple(targets.orpm.shape) != (b, k, 3, h, w):
        raise ValueError(f"targets.orpm: expected {(b, k, 3, h, w)}, got {tuple(targets.orpm.shape)}")
    if tuple(targets.orpm_weight.shape) != (b, k, h, w):
        raise ValueError(f"targets.orpm_weight: expected {(b, k, h, w)}, "
                         f"got {tuple(targets.orpm_weight.shape)}")


def compute_losses(outputs: list[StackOutput], targets: TrainTargets,
                   config: LossConfig | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The network loss of eq. (3), summed over stacks.

    Args:
        outputs: One :class:`~ssmp3d.model.StackOutput` per stack (maps
            ``[B, K, H, W]``, ``[B, K, D, H, W]``, ``[B, K, 3, H, W]``).
        targets: The :class:`TrainTargets` of the batch (same ``B, K, H, W``).
        config: Weights and sigma (default :class:`LossConfig` ``()``).

    Returns:
        ``(total, terms)``: ``total`` is the float32 scalar to minimise;
        ``terms`` holds detached float32 scalars for logging: ``"total"``;
        ``"heatmap"``, ``"orpm"``, ``"pull"``, ``"push"`` (each summed over
        stacks with the stack weights, before the term weights); and
        ``"heatmap_last"``, ``"orpm_last"``, ``"pull_last"``, ``"push_last"``
        (the last stack alone, unweighted).

    Raises:
        TypeError, ValueError: mismatched shapes, no outputs, a
            ``stack_weights`` length other than ``len(outputs)``.
    """
    config = LossConfig() if config is None else config
    if not isinstance(config, LossConfig):
        raise TypeError(f"config: expected a LossConfig, got {type(config).__name__}")
    _check_targets(targets)
    outputs = list(outputs)
    if not outputs:
        raise ValueError("outputs: expected at least one stack")
    if config.stack_weights is None:
        stack_w = (1.0,) * len(outputs)
    elif len(config.stack_weights) != len(outputs):
        raise ValueError(f"LossConfig.stack_weights: {len(config.stack_weights)} weights for "
                         f"{len(outputs)} stacks")
    else:
        stack_w = config.stack_weights
    for s, out in enumerate(outputs):
        _check_stack(out, targets, s)

    tw = config.term_weights()
    device = targets.heatmaps.device
    with torch.autocast(device_type=device.type, enabled=False):
        sums = {name: torch.zeros((), dtype=torch.float32, device=device) for name in TERMS}
        total = torch.zeros((), dtype=torch.float32, device=device)
        last: dict[str, torch.Tensor] = {}
        for ws, out in zip(stack_w, outputs):
            pull, push = associative_embedding_loss(out.tags, targets.tag_indices, config.push_sigma)
            stack = {"heatmap": heatmap_loss(out.heatmaps, targets.heatmaps, config.normalization),
                     "orpm": orpm_loss(out.orpm, targets.orpm, targets.orpm_weight),
                     "pull": pull, "push": push}
            for name in TERMS:
                sums[name] = sums[name] + ws * stack[name]
                total = total + (ws * tw[name]) * stack[name]
            last = stack
    terms = {"total": total.detach()}
    terms.update({name: v.detach() for name, v in sums.items()})
    terms.update({f"{name}_last": v.detach() for name, v in last.items()})
    return total, terms

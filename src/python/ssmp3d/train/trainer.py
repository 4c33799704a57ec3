"""The training loop: data stream -> hourglass -> losses -> Adam, resumable exactly.

Run length, schedule and data order are functions of :class:`TrainConfig`
alone. Step ``t`` (0-based) of a process of rank ``r`` in ``world_size``
reads stream positions ``t * batch_size * world_size + ...`` (see
:mod:`ssmp3d.data.dataset` and :mod:`ssmp3d.data.real_train`), so a run
resumed from a checkpoint at step ``t`` sees exactly the batches the
uninterrupted run would have seen; the checkpoint also restores the weights,
Adam's moments, the scheduler and the torch generators. On one CPU thread a
resumed run is bit for bit the uninterrupted one (tested, for synthetic and
real data).

Data (:mod:`ssmp3d.train.sources`): the seeded synthetic stream, or a real
dataset's training split (``config.dataset``, ``config.root``) visited in a
seeded order per epoch. A real-data checkpoint also stores, in ``extra``,
the stream position, the number of training frames (a resumed run whose
dataset has another number is refused) and the count of unreadable images
replaced so far; those images are listed in ``skipped_images.txt`` and
counted in ``log.csv``.

Multi-GPU: launch with ``torchrun --nproc_per_node N -m ssmp3d.cli.main
train ...``; every process trains its own share of the stream under
DistributedDataParallel, and rank 0 alone writes logs and checkpoints.

Every checkpoint also stores, in ``extra``, the mean bone vectors of the
training targets seen so far (``mean_bones``, metres, ``[K][3]``, see
:class:`~ssmp3d.train.warm_start.BoneMeans`), which
:func:`~ssmp3d.train.checkpoint.recommended_decode_config` hands to the
decoder as its fallback. ``config.init_weights`` warm-starts a fresh run from
another checkpoint's tensors.

Output directory: ``last.pt`` (latest checkpoint, atomically replaced),
``log.csv`` (one row per ``log_every`` steps: step, lr, images/s and every
loss term), ``eval.jsonl`` (one JSON object per evaluation) and, when
``tensorboard`` is installed, TensorBoard events under ``tb/``. A resumed
run first drops what a crashed run logged after the checkpoint's step
(:func:`~ssmp3d.train.logs.truncate_logs`), so no step is logged twice.

Resuming needs a training checkpoint: an exported weights file (no
optimizer, scheduler or generator state, e.g. the shipped weights) copied to
``last.pt`` is refused with a :class:`CheckpointError` that points to
``init_weights`` instead. Every refusal happens before anything in the
output directory is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.dataset import TrainBatch
from ..decoding import DecodeConfig
from ..model import HourglassNet
from .checkpoint import (CheckpointError, check_config, config_to_dict, load_checkpoint, restore_training_state,
                         save_checkpoint)
from .config import RESUME_MAY_CHANGE, TrainConfig, stored_config
from .evaluate import evaluate_model
from .logs import RunLogs, truncate_logs
from .losses import compute_losses
from .train_targets import TrainTargets
from .schedule import make_scheduler
from .sources import data_config, frame_config, real_source, synthetic_source
from .validate import check_resumable
from .warm_start import BoneMeans, warm_start

__all__ = ["TrainResult", "train", "data_config", "frame_config"]


@dataclass(frozen=True)
class TrainResult:
    """What a finished :func:`train` call reports.

    Attributes:
        steps: Optimizer steps done in total (resumed ones included).
        resumed_from: Step of the checkpoint resumed from (0 for a fresh run).
        first_loss, last_loss: Total loss of the first and last step of this call.
        images_per_second: Training throughput of this call (this process).
        evaluation: The last evaluation report (``{}`` if none ran;
            ``{"unavailable": reason}`` for a real dataset without a test split).
        checkpoint: Path of ``last.pt``.
        skipped_images: Unreadable images replaced so far (real data; resumed ones included).
    """

    steps: int
    resumed_from: int
    first_loss: float
    last_loss: float
    images_per_second: float
    evaluation: dict
    checkpoint: Path
    skipped_images: int = 0


def _distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def _stored_count(extra: dict, key: str, path: Path) -> int | None:
    """``extra[key]`` of a resumed checkpoint (None when absent), checked to be an int >= 0."""
    value = extra.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise CheckpointError(f"{path}: extra[{key!r}]: expected an int >= 0, got {value!r}")
    return value


def _targets(batch: TrainBatch, device: torch.device) -> TrainTargets:
    nb = device.type == "cuda"
    return TrainTargets(batch.heatmaps.to(device, non_blocking=nb), batch.tag_indices.to(device, non_blocking=nb),
                        batch.orpm.to(device, non_blocking=nb), batch.orpm_weight.to(device, non_blocking=nb),
                        batch.num_people.to(device, non_blocking=nb))


def train(config: TrainConfig, out_dir: str | os.PathLike, *, resume: bool = True,
          device: torch.device | str | None = None,
          progress: Callable[[int, dict[str, float]], None] | None = None) -> TrainResult:
    """Trains (or resumes training of) a network on the synthetic stream or a real dataset.

    Args:
        config: The run.
        out_dir: Directory of ``last.pt`` and the logs; created if needed.
        resume: Continue from ``out_dir/last.pt`` when it exists (its
            configuration must equal ``config`` except :data:`RESUME_MAY_CHANGE`).
        device: Default: this process's GPU when CUDA is available, else the CPU.
        progress: Called after every step with the step number and the
            logged values (loss terms, ``lr``, ``images_per_s``).

    Returns:
        The :class:`TrainResult`.

    Raises:
        CheckpointError: ``last.pt`` is unreadable, damaged, malformed, an
            exported weights file, of another configuration, or of a real
            dataset with another number of training frames (nothing is
            overwritten then).
        ValueError: ``amp="fp16"`` without CUDA.
        DatasetError: a real dataset's training annotations are missing or
            malformed; unreadable images after ``max_skip`` replacements.
    """
    rank, world, local_rank = _distributed()
    if device is None:
        device = torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(device)
    if config.amp == "fp16" and device.type != "cuda":
        raise ValueError("amp: 'fp16' needs a CUDA device; use 'bf16' or 'none' on the CPU")
    out = Path(out_dir)
    ckpt_path = out / "last.pt"
    torch.manual_seed(config.seed)
    model = HourglassNet(config.model).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = make_scheduler(config.schedule, optimizer, config.steps)
    step, extra = 0, {}
    if resume and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path, map_location=device)
        check_resumable(ckpt, ckpt_path, config.steps)
        check_config(stored_config(ckpt["config"]), config_to_dict(config), ckpt_path, ignore=RESUME_MAY_CHANGE)
        extra = dict(ckpt.get("extra") or {})
        restore_training_state(ckpt, ckpt_path, model, optimizer, scheduler)
        step = ckpt["step"]
    elif config.init_weights is not None:
        warm_start(model, config.init_weights)
    bones = BoneMeans.from_state(extra.get("bone_sums"), config.model.num_joints)
    start_step = step
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda"
                                                        else None)
    real = config.dataset != "synthetic"
    pin = device.type == "cuda"
    counts = {k: _stored_count(extra, k, ckpt_path) for k in ("stream_position", "train_frames", "skipped_images")}
    if real:
        start = counts["stream_position"]
        start = step * config.batch_size * world if start is None else start
        source = real_source(config, start, (config.steps - step) * config.batch_size * world, rank, world, pin,
                             evaluate=rank == 0 and config.eval_scenes > 0)
        stored_frames = counts["train_frames"]
        if stored_frames is not None and stored_frames != source.num_frames:
            raise CheckpointError(f"{ckpt_path}: the checkpoint was trained on {stored_frames} {config.dataset} "
                                  f"frames, {config.root} has {source.num_frames}")
    else:
        source = synthetic_source(config, step, rank, world, pin)
    skipped_total = counts["skipped_images"] or 0
    scaler = torch.amp.GradScaler("cuda", enabled=config.amp == "fp16")
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16 if config.amp == "bf16" else torch.float16)
                if config.amp != "none" else contextlib.nullcontext())
    if rank == 0:
        truncate_logs(out, start_step)
    logs = RunLogs(out, rank == 0, start_step)
    first = last = float("nan")
    evaluation: dict = {} if source.unavailable is None else {"unavailable": source.unavailable}
    tic, images = time.perf_counter(), 0
    model.train()
    try:
        for item in source.loader:
            batch, skipped = item if isinstance(item, tuple) else (item, ())
            if skipped:
                skipped_total += len(skipped)
                if rank == 0:
                    with (out / "skipped_images.txt").open("a") as f:
                        f.writelines(f"step {step + 1}: {m}\n" for m in skipped)
            images_dev = batch.image.to(device, non_blocking=device.type == "cuda")
            targets = _targets(batch, device)
            bones.add(batch.orpm, batch.orpm_weight)
            with autocast:
                outputs = net(images_dev)
            total, terms = compute_losses(outputs, targets, config.loss)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            if config.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            step += 1
            images += batch.image.shape[0]
            last = float(terms["total"])
            first = last if first != first else first
            values = {k: float(v) for k, v in terms.items()}
            values.update(lr=lr, images_per_s=images * world / max(time.perf_counter() - tic, 1e-9))
            if real:
                values["skipped_images"] = skipped_total
            if step % config.log_every == 0 or step == config.steps:
                logs.row(step, values)
            if rank == 0 and (step % config.checkpoint_every == 0 or step == config.steps):
                state = bones.state()
                if real:
                    state.update(stream_position=step * config.batch_size * world, train_frames=source.num_frames,
                                 skipped_images=skipped_total)
                save_checkpoint(ckpt_path, config=config, model=model.state_dict(), step=step,
                                optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(), extra=state)
            if rank == 0 and config.eval_scenes and source.test_set is not None and (
                    step == config.steps or (config.eval_every and step % config.eval_every == 0)):
                backend = config.eval_backend
                evaluation = evaluate_model(model, source.test_set, backend=backend, device=device,
                                            decode_config=DecodeConfig(mean_bones=bones.as_tuple()))
                with (out / "eval.jsonl").open("a") as f:
                    f.write(json.dumps({"step": step, **evaluation}) + "\n")
            if progress is not None:
                progress(step, values)
    finally:
        logs.close()
    elapsed = max(time.perf_counter() - tic, 1e-9)
    return TrainResult(steps=step, resumed_from=start_step, first_loss=first, last_loss=last,
                       images_per_second=images / elapsed, evaluation=evaluation, checkpoint=ckpt_path,
                       skipped_images=skipped_total)

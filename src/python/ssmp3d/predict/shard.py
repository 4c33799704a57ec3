"""Sharding a prediction job over processes (``torchrun``) and merging the parts in input order.

Under ``torchrun --nproc_per_node W`` every process runs the same command.
Rank ``r`` of ``W`` takes the items ``r, r + W, r + 2W, ...`` of the input
(image files in sorted order, or video frames), writes its own part file
``predictions.part-<r>-of-<W>.jsonl`` with one record per item in that
order, and waits at a barrier; rank 0 then interleaves the parts (item
``i`` is line ``i // W`` of part ``i % W``) into ``predictions.jsonl`` and
deletes them. A record is either a prediction (``{"index": i, ...}``, the
:meth:`~ssmp3d.predict.ImagePoses.to_dict` keys) or a bad item
(``{"index": i, "source": ..., "frame": ..., "error": ...}``); bad items are
kept out of ``predictions.jsonl`` and returned separately. Items are the kept
images or frames (``--every``, ``--max-frames``), numbered from 0.

A stopped job (Ctrl-C, SIGTERM) merges what the parts hold so far
(``merge_parts(partial=True)``): with one process that is every item done;
with several, the items before the first one a rank had not finished, and
the parts are kept.

The process group only carries that barrier, so it is a CPU ``gloo`` group
whatever the devices (created from torchrun's environment when none exists).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = ["Shard", "current_shard", "take", "part_path", "write_part", "merge_parts", "barrier"]

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    """This process's share of a job.

    Attributes:
        rank: Process index ``r`` in ``[0, world_size)``.
        world_size: Number of processes ``W``.
        local_rank: Index of the process on its machine (its GPU).
        owns_group: True when this module created the process group (and must destroy it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    def __post_init__(self) -> None:
        if not (0 <= self.rank < self.world_size) or self.local_rank < 0:
            raise ValueError(f"Shard: expected 0 <= rank < world_size, got rank {self.rank} of {self.world_size}")


def current_shard() -> Shard:
    """The shard of this process: from an initialised ``torch.distributed`` group,
    else from torchrun's ``WORLD_SIZE`` / ``RANK`` / ``LOCAL_RANK`` (creating a
    ``gloo`` group), else ``Shard()`` (one process)."""
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        return Shard(dist.get_rank(), dist.get_world_size(), local)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Shard()
    dist.init_process_group("gloo")
    return Shard(dist.get_rank(), dist.get_world_size(), local, owns_group=True)


def barrier(shard: Shard) -> None:
    """Waits for every process of the job (nothing to do for one process)."""
    if shard.world_size > 1:
        import torch.distributed as dist

        dist.barrier()


def take(items: Sequence[T], shard: Shard) -> list[T]:
    """The items of ``shard``: ``items[rank::world_size]``."""
    return list(items[shard.rank::shard.world_size])


def part_path(out_dir: str | os.PathLike, shard: Shard) -> Path:
    """``<out_dir>/predictions.part-<rank>-of-<world_size>.jsonl``."""
    return Path(out_dir) / f"predictions.part-{shard.rank:05d}-of-{shard.world_size:05d}.jsonl"


def write_part(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Writes records as JSON lines (streaming; strict JSON); returns how many."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n")
            n += 1
    return n


def _complete_records(path: Path) -> list[str]:
    """The lines of a part that a stopped writer finished: each ends with a newline and parses."""
    lines = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                json.loads(line)
            except ValueError:
                break
            lines.append(line.rstrip("\n"))
    return lines


def merge_parts(out_dir: str | os.PathLike, world_size: int, dst: str | os.PathLike, *,
                remove: bool = True, partial: bool = False) -> tuple[int, list[dict]]:
    """Interleaves the ``world_size`` parts of ``out_dir`` into ``dst`` in input order.

    Args:
        out_dir: Folder holding the parts (:func:`part_path`).
        world_size: Number of parts.
        dst: The merged JSON-lines file (predictions only), replaced atomically.
        remove: Delete the parts afterwards (with ``partial``, only the part
            of a single process, all of whose records were merged: other
            processes may still be writing theirs).
        partial: The job was stopped: take each part's complete records
            (a torn last line is dropped, a missing part is empty) and merge
            items ``0, 1, ...`` up to the first one no part holds.

    Returns:
        ``(predictions written, bad-item records)``, both in input order.

    Raises:
        FileNotFoundError: a part is missing (not with ``partial``).
        ValueError: the parts do not interleave (a record's ``index`` is not
            its position; e.g. parts of another run).
    """
    paths = [part_path(out_dir, Shard(r, world_size)) for r in range(world_size)]
    parts = []
    for p in paths:
        if partial:
            parts.append(_complete_records(p) if p.is_file() else [])
            continue
        if not p.is_file():
            raise FileNotFoundError(f"{p}: part missing (did every rank finish?)")
        parts.append(p.read_text(encoding="utf-8").splitlines())
    total = sum(len(lines) for lines in parts)
    written, bad = 0, []
    tmp = Path(f"{dst}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for i in range(total):
            lines = parts[i % world_size]
            if i // world_size >= len(lines):
                if partial:
                    break
                raise ValueError(f"{paths[i % world_size]}: too few records to interleave ({len(lines)})")
            line = lines[i // world_size]
            record = json.loads(line)
            if record.get("index") != i:
                raise ValueError(f"{paths[i % world_size]}: record {i // world_size} has index "
                                 f"{record.get('index')}, expected {i}")
            if "error" in record:
                bad.append(record)
            else:
                f.write(line + "\n")
                written += 1
    os.replace(tmp, dst)
    if remove and (not partial or (world_size == 1 and written + len(bad) == total)):
        for p in paths:
            p.unlink(missing_ok=partial)
    return written, bad

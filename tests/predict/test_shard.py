"""Sharding over processes: r::w split, part files, merge in input order; a real 2-process gloo group."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch.multiprocessing as mp

from ssmp3d.predict.shard import Shard, merge_parts, part_path, take, write_part


def test_take_and_merge_interleave_in_input_order(tmp_path):
    items = list(range(11))
    w = 3
    for r in range(w):
        shard = Shard(r, w)
        mine = take(items, shard)
        assert mine == items[r::w]
        write_part(part_path(tmp_path, shard),
                   ({"index": i, "error": "bad"} if i == 4 else {"index": i, "people": []} for i in mine))
    n, bad = merge_parts(tmp_path, w, tmp_path / "all.jsonl")
    lines = [json.loads(x) for x in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert n == 10 and [x["index"] for x in lines] == [i for i in items if i != 4]
    assert [b["index"] for b in bad] == [4]
    assert not list(tmp_path.glob("*.part-*"))  # parts removed


def test_merge_refuses_missing_or_foreign_parts(tmp_path):
    write_part(part_path(tmp_path, Shard(0, 2)), [{"index": 0}])
    with pytest.raises(FileNotFoundError, match="part missing"):
        merge_parts(tmp_path, 2, tmp_path / "all.jsonl")
    write_part(part_path(tmp_path, Shard(1, 2)), [{"index": 7}])
    with pytest.raises(ValueError, match="has index 7, expected 1"):
        merge_parts(tmp_path, 2, tmp_path / "all.jsonl")
    with pytest.raises(ValueError, match="rank"):
        Shard(2, 2)


def _worker(rank: int, world: int, init: str, argv: list[str], results: str) -> None:
    import torch.distributed as dist

    from ssmp3d.cli.main import main

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        code = main(argv)
    finally:
        dist.destroy_process_group()
    with open(f"{results}.{rank}", "w") as f:
        f.write(str(code))


def test_two_processes_split_a_folder_and_rank0_merges(tmp_path, tiny_checkpoint):
    cv2 = pytest.importorskip("cv2")
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(str(folder / f"im{i}.png"), rng.integers(0, 256, (48 + 8 * i, 64, 3), np.uint8))
    (folder / "im2b.txt").write_text("not an image")  # a bad file in the middle of the order
    out = tmp_path / "out"
    argv = ["predict", str(folder), "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--json",
            "--device", "cpu", "--batch-size", "2"]
    mp.spawn(_worker, args=(2, f"file://{tmp_path / 'pg'}", argv, str(tmp_path / "code")), nprocs=2, join=True)
    assert [(tmp_path / f"code.{r}").read_text() for r in range(2)] == ["0", "0"]
    lines = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    names = sorted(p.name for p in folder.iterdir())
    assert [x["index"] for x in lines] == [0, 1, 2, 4, 5]  # im2b.txt is item 3
    assert [x["source"] for x in lines] == [str(folder / n) for n in names if n != "im2b.txt"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["frames"] == 5
    assert [b["source"] for b in summary["bad"]] == [str(folder / "im2b.txt")]


def test_partial_merge_of_a_stopped_job(tmp_path):
    """Parts of a stopped 2-process job: rank 0 did items 0, 2, 4 (its last line torn), rank 1 items 1, 3;
    the merge takes 0..3 without raising on the torn line, and keeps the parts (a rank may still write)."""
    write_part(part_path(tmp_path, Shard(0, 2)), [{"index": i, "people": []} for i in (0, 2)])
    with open(part_path(tmp_path, Shard(0, 2)), "a", encoding="utf-8") as f:
        f.write('{"index": 4, "peo')
    write_part(part_path(tmp_path, Shard(1, 2)), [{"index": 1, "people": []}, {"index": 3, "error": "x"}])
    n, bad = merge_parts(tmp_path, 2, tmp_path / "all.jsonl", partial=True)
    lines = [json.loads(x) for x in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert n == 3 and [x["index"] for x in lines] == [0, 1, 2] and [b["index"] for b in bad] == [3]
    assert len(list(tmp_path.glob("*.part-*"))) == 2
    # One process: everything it wrote is merged and its part removed; a missing part is an empty one.
    write_part(part_path(tmp_path, Shard(0, 1)), [{"index": 0, "people": []}])
    assert merge_parts(tmp_path, 1, tmp_path / "one.jsonl", partial=True)[0] == 1
    assert not part_path(tmp_path, Shard(0, 1)).exists()
    assert merge_parts(tmp_path, 1, tmp_path / "none.jsonl", partial=True) == (0, [])

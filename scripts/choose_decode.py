"""Choose a checkpoint's recommended decoder settings on pooled synthetic validation sets.

The rule of docs/decisions.md ("Recommended decoder settings"): run the network once on each
validation set (seeds 2024, 2025, 2026 by default: 40, 100 and 400 crowded scenes, never the test
seed 1000003), decode its last stack with every NMS radius x ``min_person_score`` of the grid, pool
the people of all sets, and pick the highest full-read-out PCK3D among the settings whose pooled
recall and precision clear the goals (0.95, 0.8) by a margin (one standard error of a 100-scene test
set of about 280 people: 0.013 of recall, 0.02 of precision). Every other decoder field stays at the
checkpoint's recommendation (or ``DecodeConfig()`` with the training mean bones).

    python3 scripts/choose_decode.py --checkpoint runs/x/last.pt [--json out.json]

Prints one row per setting (pooled recall, precision, PCK3D, full and naive MPJPE) and the choice.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

import torch

from ssmp3d.data.augment import AugmentConfig
from ssmp3d.data.dataset import SyntheticTestSet
from ssmp3d.decoding import decode
from ssmp3d.eval import EvalConfig, Evaluator
from ssmp3d.geometry import MapTransform
from ssmp3d.train.checkpoint import load_model, recommended_decode_config
from ssmp3d.train.config import TrainConfig, stored_config
from ssmp3d.train.sources import data_config


def _sets(model, ckpt, seeds: list[tuple[int, int]]) -> list[SyntheticTestSet]:
    stored = stored_config(ckpt["config"])
    run_config = TrainConfig(model=model.config, preset=stored.get("preset", "sparse"),
                             max_people=stored.get("max_people", 4), orpm_radius=stored.get("orpm_radius", 2))
    return [SyntheticTestSet(seed, scenes, **{**data_config(run_config), "augment_config": AugmentConfig.none()})
            for seed, scenes in seeds]


@torch.no_grad()
def _maps(model, test_set: SyntheticTestSet, batch: int = 8):
    """Last-stack maps of every scene, in batches: [(heatmaps, tags, orpm, scenes)]."""
    out = []
    for start in range(0, len(test_set), batch):
        idx = range(start, min(start + batch, len(test_set)))
        images = torch.stack([test_set[i].image for i in idx])
        last = model(images)[-1]
        out.append((last.heatmaps.float(), last.tags.float(), last.orpm.float(),
                    [test_set.image_and_scene(i)[1] for i in idx]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Runs the sweep; returns the exit status (1 when no setting clears the goals)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--seeds", default="2024:40,2025:100,2026:400", help="SEED:SCENES,... of the validation sets")
    p.add_argument("--radii", default="1,2,3,4")
    p.add_argument("--scores", default="0.1,0.125,0.15,0.2,0.25,0.3,0.4")
    p.add_argument("--recall", type=float, default=0.95 + 0.013, help="pooled recall the choice must reach")
    p.add_argument("--precision", type=float, default=0.8 + 0.02, help="pooled precision the choice must reach")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write every row and the choice to this file")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    seeds = [tuple(int(v) for v in s.split(":")) for s in a.seeds.split(",")]
    model, ckpt = load_model(a.checkpoint, torch.device("cpu"))
    model.eval()
    base = recommended_decode_config(ckpt, a.checkpoint)
    transform = MapTransform(stride=model.config.stride)
    cached = [_maps(model, ts) for ts in _sets(model, ckpt, seeds)]
    skeleton = _sets(model, ckpt, seeds[:1])[0].maker.skeleton
    rows = []
    for radius in (int(r) for r in a.radii.split(",")):
        for score in (float(s) for s in a.scores.split(",")):
            cfg = replace(base, nms_radius=radius, min_person_score=score)
            evs = {r: Evaluator(skeleton, EvalConfig()) for r in ("full", "naive")}
            for batches in cached:
                for heat, tags, orpm, scenes in batches:
                    for r, ev in evs.items():
                        result = decode(heat, tags, orpm, replace(cfg, readout=r), skeleton=skeleton,
                                        transform=transform, backend="cpu")
                        for b, scene in enumerate(scenes):
                            ev.add(result.people(b), scene)
            full, naive = evs["full"].report(), evs["naive"].report()
            rows.append({"nms_radius": radius, "min_person_score": score, "recall": full.recall,
                         "precision": full.precision, "pck3d": full.pck3d, "full_mm": full.mpjpe_mm,
                         "naive_mm": naive.mpjpe_mm})
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()),
                  flush=True)
    ok = [r for r in rows if r["recall"] >= a.recall and r["precision"] >= a.precision]
    choice = max(ok, key=lambda r: r["pck3d"]) if ok else None
    print("choice:", json.dumps(choice))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"checkpoint": a.checkpoint, "seeds": seeds, "rows": rows, "choice": choice,
                       "recall_goal": a.recall, "precision_goal": a.precision}, f, indent=1)
    return 0 if choice else 1


if __name__ == "__main__":
    sys.exit(main())

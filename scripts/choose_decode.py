"""Choose a checkpoint's recommended decoder settings on pooled synthetic validation sets.

The rule of docs/decisions.md ("Recommended decoder settings"), by
:mod:`ssmp3d.train.decode_choice`: run the network once on each validation set (seeds 2024, 2025,
2026 by default: 40, 100 and 400 crowded scenes, never the test seed 1000003), decode its last
stack with every NMS radius x ``min_person_score`` of the grid, pool the people of all sets, and pick
the highest full-read-out PCK3D among the settings whose pooled recall and precision clear the goals
(0.95, 0.8) by a margin (one standard error of a 100-scene test set of about 280 people: 0.013 of
recall, 0.02 of precision). Every other decoder field stays at the checkpoint's recommendation (or
``DecodeConfig()`` with the training mean bones).

    python3 scripts/choose_decode.py --checkpoint runs/x/last.pt [--json out.json]

Prints one row per setting (pooled recall, precision, PCK3D, full and naive MPJPE) and the choice;
exit status 1 when no setting clears the bounds.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from ssmp3d.data.augment import AugmentConfig
from ssmp3d.data.dataset import SyntheticTestSet
from ssmp3d.train.checkpoint import load_model, recommended_decode_config
from ssmp3d.train.config import TrainConfig, stored_config
from ssmp3d.train.decode_choice import ChoiceRule, choose_setting, sweep_decode_settings
from ssmp3d.train.sources import data_config


def main(argv: list[str] | None = None) -> int:
    """Runs the sweep; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--seeds", default="2024:40,2025:100,2026:400", help="SEED:SCENES,... of the validation sets")
    p.add_argument("--radii", default="1,2,3,4")
    p.add_argument("--scores", default="0.1,0.125,0.15,0.2,0.25,0.3,0.4")
    p.add_argument("--recall", type=float, default=ChoiceRule().recall, help="pooled recall the choice must reach")
    p.add_argument("--precision", type=float, default=ChoiceRule().precision,
                   help="pooled precision the choice must reach")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="also write every row and the choice to this file")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    seeds = [tuple(int(v) for v in s.split(":")) for s in a.seeds.split(",")]
    model, ckpt = load_model(a.checkpoint, torch.device("cpu"))
    stored = stored_config(ckpt["config"])
    run_config = TrainConfig(model=model.config, preset=stored.get("preset", "sparse"),
                             max_people=stored.get("max_people", 4), orpm_radius=stored.get("orpm_radius", 2))
    sets = [SyntheticTestSet(seed, scenes, **{**data_config(run_config), "augment_config": AugmentConfig.none()})
            for seed, scenes in seeds]
    rule = ChoiceRule(recall=a.recall, precision=a.precision)
    rows = sweep_decode_settings(model, sets, recommended_decode_config(ckpt, a.checkpoint),
                                 radii=[int(r) for r in a.radii.split(",")],
                                 scores=[float(s) for s in a.scores.split(",")])
    for row in rows:
        print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    choice = choose_setting(rows, rule)
    print("choice:", json.dumps(choice))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"checkpoint": a.checkpoint, "seeds": seeds, "rows": rows, "choice": choice,
                       "recall_bound": rule.recall, "precision_bound": rule.precision}, f, indent=1)
    return 0 if choice else 1


if __name__ == "__main__":
    sys.exit(main())

"""Synthetic training data: rendering and whole-sample throughput on one core.

Rows: :func:`ssmp3d.data.render_scene` of 32 fixed scenes (default and
crowded presets, 256 x 256 and 512 x 512), and
:class:`ssmp3d.data.dataset.SampleMaker` (scene, render, augment, targets,
normalisation) at 256 x 256, all with one torch thread. Run with::

    PYTHONPATH=src/python python -m pytest benchmarks/test_bench_synthetic.py --benchmark-only

``extra_info`` holds per-image milliseconds and images (samples) per second.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ssmp3d.data import SceneConfig, render_scene, sample_scenes
from ssmp3d.data.dataset import SampleMaker

pytest.importorskip("cv2")

SCENES = 32


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("size", [256, 512])
@pytest.mark.parametrize("preset", ["default", "crowded"])
def test_bench_render(benchmark, preset, size):
    cfg = (SceneConfig.crowded if preset == "crowded" else SceneConfig)(image_size=(size, size))
    scenes = sample_scenes(SCENES, 0, cfg)

    def run():
        for i, s in enumerate(scenes):
            render_scene(s, i)

    benchmark.group = "render one core"
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
    per = benchmark.stats.stats.median / SCENES
    benchmark.extra_info.update({"preset": preset, "size": size, "per_image_ms": per * 1e3,
                                 "images_per_s": 1.0 / per,
                                 "people_per_image": float(np.mean([s.num_people for s in scenes]))})


def test_bench_samples_256(benchmark):
    maker = SampleMaker(seed=0, input_size=256)

    def run():
        for i in range(SCENES):
            maker(i)

    benchmark.group = "training samples one core"
    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    per = benchmark.stats.stats.median / SCENES
    benchmark.extra_info.update({"size": 256, "per_sample_ms": per * 1e3, "samples_per_s": 1.0 / per})

"""Training and inference throughput of the network (CPU: small preset; GPU: the paper's).

Training: images per second of one optimizer step (forward, the losses of
eq. 3, backward, Adam) on a fixed batch, the data stream excluded (its own
rate is in ``test_bench_synthetic.py``). Inference: frames per second of
the model plus the fastest decoder, synchronised inside the timed call.
Run with::

    PYTHONPATH=src/python python -m pytest benchmarks/test_bench_train.py --benchmark-only
"""

from __future__ import annotations

import pytest
import torch

from ssmp3d.data.dataset import SyntheticTestSet, collate_samples
from ssmp3d.decoding import DecodeConfig, decode
from ssmp3d.model import HourglassConfig, HourglassNet
from ssmp3d.train import LossConfig, TrainTargets, compute_losses
from ssmp3d.train.config import TrainConfig
from ssmp3d.train.evaluate import fastest_backend
from ssmp3d.train.trainer import data_config

pytest.importorskip("cv2")

CASES = [("cpu", HourglassConfig.small(), 8, "none")]
if torch.cuda.is_available():
    CASES.append(("cuda", HourglassConfig.paper(), 16, "bf16"))


def _batch(config: HourglassConfig, batch: int):
    test_set = SyntheticTestSet(7, batch, **data_config(TrainConfig(model=config, max_people=6)))
    return collate_samples([test_set[i] for i in range(batch)])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@pytest.mark.parametrize(("device", "config", "batch", "amp"), CASES, ids=[c[0] for c in CASES])
def test_training_images_per_second(benchmark, device, config, batch, amp):
    device = torch.device(device)
    model = HourglassNet(config).to(device).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    data = _batch(config, batch)
    images = data.image.to(device).contiguous(memory_format=torch.channels_last)
    targets = TrainTargets(data.heatmaps, data.tag_indices, data.orpm, data.orpm_weight, data.num_people)
    targets = targets.to(device)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16"):
            outputs = model(images)
        total, _ = compute_losses(outputs, targets, LossConfig())
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        _sync(device)

    step()
    benchmark.pedantic(step, rounds=5 if device.type == "cpu" else 30, warmup_rounds=1)
    benchmark.extra_info.update(images_per_second=batch / benchmark.stats.stats.median, batch=batch,
                                input_size=config.input_size, stacks=config.num_stacks, amp=amp,
                                threads=torch.get_num_threads())


@pytest.mark.parametrize(("device", "config", "batch", "amp"), CASES, ids=[c[0] for c in CASES])
def test_inference_frames_per_second(benchmark, device, config, batch, amp):
    device = torch.device(device)
    model = HourglassNet(config).to(device).eval()
    images = _batch(config, batch).image.to(device)
    backend = fastest_backend(device)

    @torch.no_grad()
    def infer():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16"):
            out = model(images)[-1]
        maps = [x.float() for x in out]
        if backend != "cuda":
            maps = [x.cpu() for x in maps]
        return decode(*maps, DecodeConfig(), backend=backend)

    infer()
    benchmark.pedantic(infer, rounds=5 if device.type == "cpu" else 30, warmup_rounds=1)
    benchmark.extra_info.update(frames_per_second=batch / benchmark.stats.stats.median, batch=batch,
                                input_size=config.input_size, decoder=backend, amp=amp,
                                threads=torch.get_num_threads())

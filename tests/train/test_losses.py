"""Losses of eq. (2)-(3): hand values, a loop oracle for the AE terms, errors, training."""

import dataclasses
import math
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssmp3d.data.synthetic import SceneConfig, sample_scenes
from ssmp3d.encode import TargetConfig, encode_batch
from ssmp3d.geometry import MapTransform, letterbox_affine
from ssmp3d.model import HourglassConfig, HourglassNet, StackOutput
from ssmp3d.train import (
    LossConfig,
    TrainTargets,
    associative_embedding_loss,
    compute_losses,
    heatmap_loss,
    orpm_loss,
)


def ae_oracle(tags: torch.Tensor, tag_indices: torch.Tensor, sigma: float) -> tuple[float, float]:
    """Eq. (2) with plain loops over images, people and joints, in float64."""
    b, k, d, h, w = tags.shape
    t = tags.double().reshape(b, k, d, h * w)
    pulls, pushes = [], []
    for i in range(b):
        refs, pull_people = [], []
        for n in range(tag_indices.shape[1]):
            es = [t[i, j, :, int(tag_indices[i, n, j, 0])] for j in range(k) if tag_indices[i, n, j, 1]]
            if not es:
                continue
            ref = sum(es) / len(es)
            refs.append(ref)
            pull_people.append(sum(float(((e - ref) ** 2).sum()) for e in es) / len(es))
        pulls.append(sum(pull_people) / len(pull_people) if pull_people else 0.0)
        p = len(refs)
        push = 0.0
        for a in range(p):
            for c in range(p):
                if a != c:
                    push += math.exp(-float(((refs[a] - refs[c]) ** 2).sum()) / (2 * sigma**2))
        pushes.append(push / (p * (p - 1)) if p > 1 else 0.0)
    return sum(pulls) / b, sum(pushes) / b


def _random_indices(gen: torch.Generator, b: int, n: int, k: int, hw: int, people: list[int]) -> torch.Tensor:
    idx = torch.randint(0, hw, (b, n, k), generator=gen)
    flag = torch.rand((b, n, k), generator=gen) < 0.7
    for i, p in enumerate(people):
        flag[i, p:] = False  # padding
    idx = torch.where(flag, idx, torch.zeros_like(idx))
    return torch.stack([idx, flag.long()], dim=-1)


def test_heatmap_loss_by_hand():
    pred = torch.zeros(1, 2, 2, 2)
    target = torch.zeros(1, 2, 2, 2)
    target[0, 0, 0, 0] = 1.0
    target[0, 1, 1, 1] = 0.5
    assert heatmap_loss(pred, target, "pixels").item() == pytest.approx((1.0 + 0.25) / 8)
    assert heatmap_loss(pred, target).item() == pytest.approx((1.0 + 0.25) / 1.5)  # mass 1.5 > 1
    assert heatmap_loss(target, target).item() == 0.0


def test_heatmap_loss_mass_normalisation():
    """Squared error per unit of target mass: about 1/2 for a zero prediction of Gaussians, any map size."""
    yy, xx = np.mgrid[0:64, 0:64]
    g = np.exp(-((xx - 30.0) ** 2 + (yy - 20.0) ** 2) / (2 * 2.0**2)).astype(np.float32)
    t = torch.zeros(2, 3, 64, 64)
    t[0, 1] = torch.from_numpy(g)
    zero = torch.zeros_like(t)
    assert heatmap_loss(zero, t, "mass").item() == pytest.approx(0.5, rel=1e-3)
    big = torch.zeros(2, 3, 128, 128)
    big[0, 1, :64, :64] = torch.from_numpy(g)
    assert heatmap_loss(torch.zeros_like(big), big, "mass").item() == pytest.approx(0.5, rel=1e-3)
    # the per-pixel mean shrinks 4x with 4x the pixels: its weight depends on the map size
    assert heatmap_loss(torch.zeros_like(big), big, "pixels").item() == pytest.approx(
        heatmap_loss(zero, t, "pixels").item() / 4, rel=1e-4)
    assert heatmap_loss(t, t, "mass").item() == 0.0
    empty = torch.zeros(1, 2, 8, 8)
    assert heatmap_loss(empty + 0.5, empty, "mass").item() == pytest.approx(0.25 * 128)  # mass clamped to 1
    with pytest.raises(ValueError, match="normalization"):
        heatmap_loss(t, t, "mean")


def test_orpm_loss_by_hand():
    target = torch.zeros(1, 2, 3, 2, 2)
    target[0, 0, :, 0, 0] = torch.tensor([0.1, -0.2, 0.3])
    target[0, 1, :, 1, 0] = torch.tensor([0.0, 0.5, 0.0])
    weight = torch.zeros(1, 2, 2, 2)
    weight[0, 0, 0, 0] = weight[0, 1, 1, 0] = weight[0, 1, 1, 1] = 1.0
    pred = torch.zeros_like(target)
    pred[0, 0, :, 1, 1] = 7.0  # unweighted pixel: ignored
    want = ((0.01 + 0.04 + 0.09) + 0.25 + 0.0) / 3
    assert orpm_loss(pred, target, weight).item() == pytest.approx(want)
    assert orpm_loss(target, target, weight).item() == 0.0
    # Nothing written: 0, and a finite (zero) gradient.
    p = pred.clone().requires_grad_()
    loss = orpm_loss(p, target, torch.zeros_like(weight))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(p.grad, torch.zeros_like(p))


def test_ae_loss_by_hand():
    # Two people, D = 1, sigma 1: person 0 tags 0 and 2 (ref 1), person 1 tag 3 (ref 3).
    tags = torch.zeros(1, 2, 1, 1, 4)
    tags[0, 0, 0, 0, :] = torch.tensor([0.0, 3.0, 9.0, 9.0])
    tags[0, 1, 0, 0, :] = torch.tensor([2.0, 9.0, 9.0, 9.0])
    ti = torch.tensor([[[[0, 1], [0, 1]], [[1, 1], [0, 0]], [[0, 0], [0, 0]]]])  # [1, 3, 2, 2]; person 2 padding
    pull, push = associative_embedding_loss(tags, ti, sigma=1.0)
    assert pull.item() == pytest.approx((1.0 + 0.0) / 2)
    assert push.item() == pytest.approx(math.exp(-4.0 / 2))
    _, push2 = associative_embedding_loss(tags, ti, sigma=2.0)
    assert push2.item() == pytest.approx(math.exp(-4.0 / 8))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_ae_loss_matches_the_loop_oracle(d):
    gen = torch.Generator().manual_seed(d)
    b, n, k, h, w = 5, 4, 6, 3, 5
    people = [0, 1, 2, 4, 3]  # an empty image, a lone person, and padding slots
    ti = _random_indices(gen, b, n, k, h * w, people)
    ti[3, 1, :, 1] = 0  # a person without any visible joint
    ti[3, 1, :, 0] = 0
    tags = torch.randn(b, k, d, h, w, generator=gen)
    for sigma in (1.0, 0.7):
        pull, push = associative_embedding_loss(tags, ti, sigma)
        want_pull, want_push = ae_oracle(tags, ti, sigma)
        assert pull.dtype == push.dtype == torch.float32
        assert pull.item() == pytest.approx(want_pull, rel=1e-5)
        assert push.item() == pytest.approx(want_push, rel=1e-5)


def test_ae_loss_with_nobody_is_zero_with_zero_gradient():
    tags = torch.randn(2, 3, 1, 4, 4, requires_grad=True)
    for n in (0, 2):
        ti = torch.zeros(2, n, 3, 2, dtype=torch.int64)
        pull, push = associative_embedding_loss(tags, ti)
        assert pull.item() == 0.0 and push.item() == 0.0
        (pull + push).backward()
        assert torch.equal(tags.grad, torch.zeros_like(tags))
        tags.grad = None


def test_ae_loss_gradients_match_the_oracle_through_autograd():
    gen = torch.Generator().manual_seed(7)
    ti = _random_indices(gen, 3, 3, 4, 9, [3, 2, 1])
    tags = torch.randn(3, 4, 2, 3, 3, generator=gen, dtype=torch.float64)
    t1 = tags.clone().float().requires_grad_()
    pull, push = associative_embedding_loss(t1, ti)
    (pull + push).backward()

    def f(t):
        b, k, d, h, w = t.shape
        flat = t.reshape(b, k, d, h * w)
        total = t.new_zeros(())
        for i in range(b):
            refs, pulls = [], []
            for n in range(ti.shape[1]):
                es = [flat[i, j, :, ti[i, n, j, 0]] for j in range(k) if ti[i, n, j, 1]]
                if es:
                    ref = torch.stack(es).mean(0)
                    refs.append(ref)
                    pulls.append(torch.stack([(e - ref).square().sum() for e in es]).mean())
            if pulls:
                total = total + torch.stack(pulls).mean() / b
            p = len(refs)
            if p > 1:
                pushes = [torch.exp(-(refs[a] - refs[c]).square().sum() / 2) for a in range(p) for c in range(p) if a != c]
                total = total + torch.stack(pushes).sum() / (p * (p - 1)) / b
        return total

    t2 = tags.clone().requires_grad_()
    f(t2).backward()
    torch.testing.assert_close(t1.grad.double(), t2.grad, rtol=1e-4, atol=1e-6)


def _outputs(b, k, d, h, w, stacks, gen, dtype=torch.float32):
    return [StackOutput(torch.rand(b, k, h, w, generator=gen).to(dtype),
                        torch.randn(b, k, d, h, w, generator=gen).to(dtype),
                        torch.randn(b, k, 3, h, w, generator=gen).to(dtype)) for _ in range(stacks)]


def _targets(b, k, n, h, w, gen, people):
    heat = torch.rand(b, k, h, w, generator=gen)
    orpm = torch.randn(b, k, 3, h, w, generator=gen)
    weight = (torch.rand(b, k, h, w, generator=gen) < 0.3).float()
    ti = _random_indices(gen, b, n, k, h * w, people)
    return TrainTargets(heat, ti, orpm, weight, torch.tensor(people))


def test_compute_losses_combines_terms_and_stacks():
    gen = torch.Generator().manual_seed(3)
    b, k, d, n, h, w = 3, 4, 2, 3, 5, 6
    outs = _outputs(b, k, d, h, w, 3, gen)
    tg = _targets(b, k, n, h, w, gen, [3, 1, 2])
    cfg = LossConfig(heatmap_weight=2.0, orpm_weight=0.5, pull_weight=0.1, push_weight=0.3,
                     push_sigma=0.8, stack_weights=(0.5, 1.0, 2.0))
    total, terms = compute_losses(outs, tg, cfg)
    per = []
    for o in outs:
        pull, push = associative_embedding_loss(o.tags, tg.tag_indices, 0.8)
        per.append({"heatmap": heatmap_loss(o.heatmaps, tg.heatmaps),
                    "orpm": orpm_loss(o.orpm, tg.orpm, tg.orpm_weight), "pull": pull, "push": push})
    lam = {"heatmap": 2.0, "orpm": 0.5, "pull": 0.1, "push": 0.3}
    want = sum(ws * lam[t] * p[t] for ws, p in zip((0.5, 1.0, 2.0), per) for t in lam)
    assert total.item() == pytest.approx(want.item(), rel=1e-6)
    assert terms["total"].item() == pytest.approx(want.item(), rel=1e-6)
    for t in lam:
        assert terms[t].item() == pytest.approx(sum(ws * p[t] for ws, p in zip((0.5, 1.0, 2.0), per)).item(),
                                                rel=1e-6)
        assert terms[f"{t}_last"].item() == pytest.approx(per[-1][t].item(), rel=1e-6)
    assert all(not v.requires_grad and v.dtype == torch.float32 and v.dim() == 0 for v in terms.values())
    assert set(terms) == {"total", "heatmap", "orpm", "pull", "push",
                          "heatmap_last", "orpm_last", "pull_last", "push_last"}


def test_loss_is_zero_at_the_target_except_push():
    gen = torch.Generator().manual_seed(4)
    tg = _targets(2, 3, 2, 4, 4, gen, [2, 2])
    # Perfect tags: one constant per person -> pull 0; push exp(-(1-5)^2/2) per pair.
    tags = torch.zeros(2, 3, 1, 4, 4)
    ti = torch.zeros(2, 2, 3, 2, dtype=torch.int64)
    ti[:, 0, :, 0] = torch.tensor([0, 1, 2])
    ti[:, 1, :, 0] = torch.tensor([5, 6, 7])
    ti[..., 1] = 1
    tags.view(2, 3, 16)[:, :, :5] = 1.0
    tags.view(2, 3, 16)[:, :, 5:] = 5.0
    tg = tg._replace(tag_indices=ti)
    out = StackOutput(tg.heatmaps.clone(), tags, tg.orpm.clone())
    _, terms = compute_losses([out], tg)
    assert terms["heatmap"].item() == 0.0 and terms["orpm"].item() == 0.0 and terms["pull"].item() == 0.0
    assert terms["push"].item() == pytest.approx(math.exp(-8.0))


def test_losses_are_float32_under_bf16_and_autocast():
    gen = torch.Generator().manual_seed(5)
    outs = _outputs(2, 3, 1, 4, 4, 2, gen, dtype=torch.bfloat16)
    tg = _targets(2, 3, 2, 4, 4, gen, [2, 1])
    want, _ = compute_losses([StackOutput(*(t.float() for t in o)) for o in outs], tg)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, terms = compute_losses(outs, tg)
    assert total.dtype == torch.float32 and all(v.dtype == torch.float32 for v in terms.values())
    assert total.item() == pytest.approx(want.item(), rel=1e-6)


def test_gradients_flow_from_the_loss_to_the_network():
    torch.manual_seed(0)
    net = HourglassNet(HourglassConfig.tiny(tag_dim=2))
    gen = torch.Generator().manual_seed(6)
    tg = _targets(2, 19, 3, 16, 16, gen, [3, 2])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, _ = compute_losses(net(torch.randn(2, 3, 64, 64)), tg)
    total.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert net.stem[0][0].weight.grad.abs().sum() > 0


def test_loss_errors():
    gen = torch.Generator().manual_seed(8)
    outs = _outputs(2, 3, 1, 4, 4, 2, gen)
    tg = _targets(2, 3, 2, 4, 4, gen, [2, 1])
    with pytest.raises(ValueError, match="stack_weights: 1 weights for 2 stacks"):
        compute_losses(outs, tg, LossConfig(stack_weights=(1.0,)))
    with pytest.raises(ValueError, match=r"outputs\[1\].heatmaps"):
        compute_losses([outs[0], outs[1]._replace(heatmaps=outs[1].heatmaps[:, :2])], tg)
    with pytest.raises(ValueError, match=r"outputs\[0\].orpm"):
        compute_losses([outs[0]._replace(orpm=outs[0].orpm[..., :3])], tg)
    with pytest.raises(ValueError, match=r"outputs\[0\].tags"):
        compute_losses([outs[0]._replace(tags=outs[0].tags[:, :, 0])], tg)
    with pytest.raises(ValueError, match="at least one stack"):
        compute_losses([], tg)
    with pytest.raises(ValueError, match="targets.tag_indices"):
        compute_losses(outs, tg._replace(tag_indices=tg.tag_indices[..., :1]))
    with pytest.raises(ValueError, match="targets.heatmaps"):
        compute_losses(outs, tg._replace(heatmaps=tg.heatmaps[0]))
    with pytest.raises(TypeError, match="TrainTargets.from_batch"):
        compute_losses(outs, tuple(tg))
    with pytest.raises(TypeError, match="LossConfig"):
        compute_losses(outs, tg, {"push_sigma": 1.0})


@pytest.mark.parametrize("kw, match", [
    ({"push_sigma": 0.0}, "push_sigma"),
    ({"heatmap_weight": -1.0}, "heatmap_weight"),
    ({"orpm_weight": float("inf")}, "orpm_weight"),
    ({"stack_weights": ()}, "stack_weights"),
    ({"stack_weights": (1.0, -0.5)}, "stack_weights"),
])
def test_bad_loss_configs(kw, match):
    with pytest.raises(ValueError, match=match):
        LossConfig(**kw)


def test_loss_config_types_and_immutability():
    assert LossConfig(stack_weights=[1, 2]).stack_weights == (1.0, 2.0)
    assert LossConfig().term_weights() == {"heatmap": 1.0, "orpm": 8.0, "pull": 0.1, "push": 0.1}
    assert LossConfig().normalization == "mass"
    ae = LossConfig.associative_embedding()
    assert ae.term_weights() == {"heatmap": 1.0, "orpm": 1.0, "pull": 1e-3, "push": 1e-3}
    assert ae.normalization == "pixels"
    with pytest.raises(ValueError, match="normalization"):
        LossConfig(normalization="sum")
    with pytest.raises(TypeError, match="pull_weight"):
        LossConfig(pull_weight="1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        LossConfig().push_sigma = 2.0  # type: ignore[misc]


def _synthetic_batch(n_images: int, size: int, seed: int):
    scenes = sample_scenes(n_images, seed=seed, config=SceneConfig.sparse(max_people=3))
    transform = MapTransform(letterbox_affine(scenes[0].image_size, (size, size)), stride=4)
    batch = encode_batch(scenes, transform=transform, config=TargetConfig(map_size=(size // 4, size // 4)))
    return scenes, batch


def test_train_targets_from_encode_batch():
    scenes, batch = _synthetic_batch(3, 64, seed=1)
    tg = TrainTargets.from_batch(batch)
    assert tg.heatmaps.dtype == tg.orpm.dtype == tg.orpm_weight.dtype == torch.float32
    assert tg.tag_indices.dtype == tg.num_people.dtype == torch.int64
    n = max(s.num_people for s in scenes)
    assert tg.heatmaps.shape == (3, 19, 16, 16) and tg.tag_indices.shape == (3, n, 19, 2)
    assert tg.orpm.shape == (3, 19, 3, 16, 16) and tg.orpm_weight.shape == (3, 19, 16, 16)
    assert tg.num_people.tolist() == [s.num_people for s in scenes]
    np.testing.assert_array_equal(tg.orpm.numpy(), batch.orpm)
    np.testing.assert_array_equal(tg.tag_indices.numpy(), batch.tag_indices)
    assert tg.to("cpu").heatmaps.device.type == "cpu"
    with pytest.raises(TypeError, match="BatchTargets"):
        TrainTargets.from_batch(tg)  # type: ignore[arg-type]


@pytest.fixture
def one_thread():
    """Tiny convolutions run fastest on one thread (and do not fight other jobs for cores)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_tiny_preset_fits_a_fixed_synthetic_batch(one_thread):
    """About 150 Adam steps on 4 synthetic scenes with the default recipe: every loss term falls.

    The heatmap and ORPM terms must fall below 60 % of their start. Tags
    start near 0 (the heads' small initialisation), where pull is ~0 and
    push ~1: push must fall below 60 % and the AE total (pull + push) with it.
    A change of the normalisation or the weights that starves a term fails here.
    """
    _, batch = _synthetic_batch(4, 64, seed=3)
    tg = TrainTargets.from_batch(batch)
    assert tg.num_people.tolist() == [1, 2, 2, 3]
    # Image: the targets' summed heatmaps, upsampled, plus two channels of fixed noise.
    heat = tg.heatmaps.sum(1, keepdim=True).clamp(max=1.0)
    noise = 0.1 * torch.randn(4, 2, 64, 64, generator=torch.Generator().manual_seed(1))
    images = torch.cat([F.interpolate(heat, scale_factor=4, mode="bilinear"), noise], dim=1)
    torch.manual_seed(0)
    net = HourglassNet(HourglassConfig.tiny())
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    cfg = LossConfig()
    steps, t0 = 150, time.perf_counter()
    history = []
    for _ in range(steps):
        total, terms = compute_losses(net(images), tg, cfg)
        opt.zero_grad()
        total.backward()
        opt.step()
        history.append(terms)
    seconds = time.perf_counter() - t0
    first, last = history[0], history[-1]
    print(f"tiny preset, {steps} steps in {seconds:.1f} s: total {first['total']:.4f} -> {last['total']:.4f}; "
          + ", ".join(f"{t} {first[t]:.4f} -> {last[t]:.4f}" for t in ("heatmap", "orpm", "pull", "push")))
    assert last["total"] < 0.5 * first["total"]
    assert last["heatmap"] < 0.6 * first["heatmap"]
    assert last["orpm"] < 0.6 * first["orpm"]
    assert last["push"] < 0.6 * first["push"]
    assert last["pull"] + last["push"] < 0.6 * (first["pull"] + first["push"])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_channels_last_bf16_step():
    torch.manual_seed(0)
    net = HourglassNet(HourglassConfig.tiny()).cuda().to(memory_format=torch.channels_last)
    _, batch = _synthetic_batch(2, 64, seed=2)
    tg = TrainTargets.from_batch(batch, device="cuda")
    images = torch.randn(2, 3, 64, 64, device="cuda").contiguous(memory_format=torch.channels_last)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        outs = net(images)
        total, terms = compute_losses(outs, tg)
    assert outs[-1].heatmaps.dtype == torch.bfloat16 and total.dtype == torch.float32
    total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    with torch.no_grad():
        ref, _ = compute_losses([StackOutput(*(t.float().cpu() for t in o)) for o in outs], tg.to("cpu"))
    assert terms["total"].item() == pytest.approx(ref.item(), rel=1e-4)

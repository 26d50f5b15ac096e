"""The training step: cubic timesteps, targets, features injected exactly as at inference, checkpointing."""

import torch
import torch.nn.functional as F

import t2i_ext
from t2i_train.adapters import make_adapter
from t2i_train.base_model import Conditioning, _schedule, call_unet, context_depth
from t2i_train.recipe import Batch, adapter_loss, cubic_timesteps, enable_gradient_checkpointing, noisy, target
from t2i_train.tiny import tiny_unet


def test_cubic_timesteps_favour_noisy_steps_as_the_paper_says():
    assert cubic_timesteps(torch.tensor([0.0, 1.0, 0.5]), 1000).tolist() == [999, 0, 875]
    t = cubic_timesteps(torch.rand(20000, generator=torch.Generator().manual_seed(0)), 1000)
    # P(t >= T/2) = P(u <= 0.5^(1/3)) = 0.794 (uniform sampling would give 0.5)
    assert abs((t >= 500).float().mean().item() - 0.5 ** (1 / 3)) < 0.015


def test_noising_and_v_target_match_diffusers_scheduler():
    from diffusers import DDPMScheduler

    sched = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    acp = _schedule()
    x0, noise, t = torch.randn(3, 4, 8, 8), torch.randn(3, 4, 8, 8), torch.tensor([0, 400, 999])
    assert (noisy(x0, noise, t, acp) - sched.add_noise(x0, noise, t)).abs().max() <= 1e-5
    assert (target(x0, noise, t, acp, "v") - sched.get_velocity(x0, noise, t)).abs().max() <= 1e-5
    assert torch.equal(target(x0, noise, t, acp, "epsilon"), noise)


def _batch(family: str, n: int = 2) -> Batch:
    g = torch.Generator().manual_seed(1)
    ctx = torch.randn(n, 77, 128 if family == "sdxl" else 64, generator=g)
    y = torch.randn(n, 1600, generator=g) if family == "sdxl" else None
    return Batch(torch.randn(n, 4, 8, 8, generator=g), torch.rand(n, 3, 64, 64, generator=g), Conditioning(ctx, y),
                 torch.randn(n, 4, 8, 8, generator=g), torch.rand(n, generator=g))


def test_training_loss_uses_the_inference_injection_and_trains_only_the_adapter():
    unet = tiny_unet("sd1").requires_grad_(False)
    adapter = make_adapter("full", 3, unet, "SD1")
    with torch.no_grad():
        for p in adapter.parameters():
            p.mul_(10)  # large features, so the injection visibly moves the prediction
    acp, batch = _schedule(), _batch("sd1")
    loss = adapter_loss(unet, adapter, batch, acp, "epsilon", "SD1")
    # the same step written with the inference API: compute_features + inject
    t = cubic_timesteps(batch.u, 1000)
    feats = t2i_ext.compute_features(adapter, batch.cond)
    unit = t2i_ext.AdapterUnit(features=feats)
    with torch.no_grad(), t2i_ext.inject(unet, [unit], layout=t2i_ext.BatchLayout.all_cond(2)):
        pred = unet(noisy(batch.latents, batch.noise, t, acp), t, context=batch.text.context)
    with torch.no_grad():
        plain = unet(noisy(batch.latents, batch.noise, t, acp), t, context=batch.text.context)
    assert abs(loss.item() - F.mse_loss(pred, batch.noise).item()) <= 1e-6
    assert abs(loss.item() - F.mse_loss(plain, batch.noise).item()) > 1e-3
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in adapter.parameters())
    assert all(p.grad is None for p in unet.parameters())
    assert not any(m._forward_hooks for m in unet.modules())  # the hooks are gone after the step


def test_gradient_checkpointing_gives_the_same_gradients_on_sdxl():
    unet = tiny_unet("sdxl").requires_grad_(False)
    adapter = make_adapter("full", 3, unet, "SDXL")
    acp, batch = _schedule(), _batch("sdxl")
    grads = []
    for ckpt in (False, True):
        undo = enable_gradient_checkpointing(unet) if ckpt else None
        adapter.zero_grad(set_to_none=True)
        adapter_loss(unet, adapter, batch, acp, "v", "SDXL", context_depth(unet)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in adapter.parameters()]))
        if undo:
            undo()
    assert (grads[0] - grads[1]).abs().max() <= 1e-6 * grads[0].abs().max()
    assert "forward" not in vars(unet.input_blocks[1])  # undone: the class's own forward again
    out = call_unet(unet, batch.latents, torch.tensor([1, 2]), batch.text, context_depth(unet))
    assert out.shape == batch.latents.shape


def test_sdpa_attention_computes_what_ldm_attention_computes_and_is_undone():
    from t2i_train.attention import use_sdpa

    unet = tiny_unet("sdxl")
    batch = _batch("sdxl")
    cond = Conditioning(batch.text.context, batch.text.y)
    with torch.no_grad():
        want = call_unet(unet, batch.latents, torch.tensor([5, 600]), cond, context_depth(unet))
        undo = use_sdpa(unet)
        got = call_unet(unet, batch.latents, torch.tensor([5, 600]), cond, context_depth(unet))
        undo()
        again = call_unet(unet, batch.latents, torch.tensor([5, 600]), cond, context_depth(unet))
    assert (got - want).abs().max() <= 1e-5 and not torch.equal(got, want)  # same maths, a different kernel
    assert torch.equal(again, want)

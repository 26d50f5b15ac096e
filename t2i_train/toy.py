"""A toy world where control is measurable: latents holding one bright shape (square or disc) at a random place.

A tiny LDM UNet is first taught to generate such latents (plain noise-prediction training of all its weights);
then an adapter is trained with :func:`t2i_train.loop.fit` on (mask → latent) pairs. Sampling the same seed with
and without the adapter shows whether the shape lands where the mask says (IoU of the thresholded latent with the
mask). Used by the tests (short) and ``bench/bench_train.py`` (longer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .precompute import Entry, LatentSet
from .recipe import noisy, target

LATENT = 8  # latent side of the suite's toy; condition maps are 8× larger
#: ``world(n, seed, size)`` → latents ``[n, 4, size, size]`` and masks ``[n, 1, size, size]``, as :func:`shapes`
World = Callable[[int, int, int], "tuple[torch.Tensor, torch.Tensor]"]


def shapes(n: int, seed: int, size: int = LATENT) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` latents ``[n, 4, size, size]`` (−1 outside, +1 inside one shape) and masks ``[n, 1, size, size]``."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks = torch.zeros(n, 1, size, size)
    for i in range(n):
        r = int(torch.randint(max(1, size // 8), size // 4 + 1, (), generator=g))
        cy, cx = (int(v) for v in torch.randint(r, size - r, (2,), generator=g))
        if torch.rand((), generator=g) < 0.5:
            m = ((yy - cy).abs() <= r) & ((xx - cx).abs() <= r)
        else:
            m = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r + 1
        masks[i, 0] = m.float()
    latents = (masks * 2 - 1).expand(n, 4, size, size).clone()
    latents[:, 2:] *= 0.5  # channels differ a little, as real latents do
    return latents, masks


def toy_unet(seed: int = 0, size: int = LATENT, random_weights: bool = False) -> nn.Module:
    """A tiny SD1-layout ``ldm`` UNet (4 levels of 32 channels, attention at the deepest level). LDM zero-initialises
    its output layers (right for training it); ``random_weights`` fills those with N(0, 0.02²), as random test
    checkpoints do, for a UNet whose output depends on the injected features before any training."""
    from ldm.modules.diffusionmodules.openaimodel import UNetModel

    torch.manual_seed(seed)
    unet = UNetModel(image_size=size, in_channels=4, out_channels=4, model_channels=32, num_res_blocks=1,
                     attention_resolutions=[8], channel_mult=(1, 1, 1, 1), num_heads=2,
                     use_spatial_transformer=True, transformer_depth=1, context_dim=32, legacy=False)
    if random_weights:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in unet.parameters():
                if not p.any():
                    p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    return unet


def toy_context() -> torch.Tensor:
    return torch.randn(4, 32, generator=torch.Generator().manual_seed(123)) * 0.5


def pretrain_unet(unet: nn.Module, alphas_cumprod: torch.Tensor, steps: int, batch: int = 16, lr: float = 2e-3,
                  seed: int = 0, size: int = LATENT, prediction: str = "v", world: World | None = None,
                  on_step: Callable[[float], None] | None = None) -> list[float]:
    """Teach ``unet`` the toy distribution (all weights trained, uniform timesteps). v-prediction by default: a
    briefly trained noise predictor's x₀ estimate at high noise is its error × 1/√ᾱ (15× at t = 999), and the
    samples of such a UNet are blurs rather than shapes. ``world`` draws the latents (default :func:`shapes`);
    ``on_step(loss)`` is called after every step (a progress bar)."""
    world = world or shapes
    unet.train().requires_grad_(True)
    opt = torch.optim.AdamW(unet.parameters(), lr=lr, weight_decay=0.0)
    ctx = toy_context()[None].expand(batch, -1, -1)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for step in range(steps):
        x0, _ = world(batch, seed * 100_000 + step, size)
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, alphas_cumprod.shape[0], (batch,), generator=g)
        want = target(x0, noise, t, alphas_cumprod, prediction)
        loss = F.mse_loss(unet(noisy(x0, noise, t, alphas_cumprod), t, context=ctx), want)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(losses[-1])
    unet.eval().requires_grad_(False)
    return losses


def mask_dataset(n: int, seed: int, size: int = LATENT) -> LatentSet:
    """(mask → latent) pairs as a precomputed set: exact latents (std 0), masks at 8× as 1-channel conditions."""
    latents, masks = shapes(n, seed, size)
    ctx = toy_context()
    entries = [Entry(latents[i], torch.zeros_like(latents[i]), F.interpolate(masks[i : i + 1], scale_factor=8)[0], ctx)
               for i in range(n)]
    return LatentSet(entries=entries)


def iou(latents: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per image IoU of the generated shape (latent mean over channels > 0) with the mask ``[B, 1, h, w]``."""
    pred = latents.mean(1, keepdim=True) > 0
    m = masks > 0.5
    inter = (pred & m).flatten(1).sum(1).float()
    union = (pred | m).flatten(1).sum(1).float().clamp(min=1)
    return inter / union


@dataclass
class ControlScore:
    iou_without: float
    iou_with: float


def control_score(unet: nn.Module, adapter: nn.Module, alphas_cumprod: torch.Tensor, n: int = 16, seed: int = 999,
                  steps: int = 10, size: int = LATENT, prediction: str = "v") -> ControlScore:
    """Mean IoU with the condition mask of samples without and with the adapter (same seeds, DDIM, no CFG)."""
    from .base_model import Conditioning
    from .sampling import ddim_sample

    _, masks = shapes(n, seed, size)
    cond = F.interpolate(masks, scale_factor=8)
    text = Conditioning(toy_context()[None].expand(n, -1, -1))
    shape = (n, 4, size, size)
    with torch.no_grad():
        features = adapter(cond)
    plain = ddim_sample(unet, text, None, shape, alphas_cumprod, prediction, steps=steps, seed=seed)
    guided = ddim_sample(unet, text, None, shape, alphas_cumprod, prediction, features=features, steps=steps,
                         seed=seed, adapter_base="SD1")
    return ControlScore(iou(plain, masks).mean().item(), iou(guided, masks).mean().item())


def write_demo_pairs(folder, n: int = 8, size: int = 64, seed: int = 0):
    """A training folder to try the trainer on: ``images/NNN.png`` (one bright square or disc on a dark, noisy
    ground, with a caption) and ``conditions/NNN.png`` (the shape's mask, white on black), ``size``² pixels."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "conditions").mkdir(parents=True, exist_ok=True)
    _, masks = shapes(n, seed, size)
    rng = np.random.default_rng(seed)
    for i in range(n):
        mask = masks[i, 0].numpy() > 0.5
        colour = rng.integers(128, 256, 3)
        image = rng.integers(0, 60, (size, size, 3))
        image[mask] = colour
        square = mask.sum() == mask.any(1).sum() * mask.any(0).sum()
        Image.fromarray(image.astype(np.uint8)).save(folder / "images" / f"{i:03d}.png")
        Image.fromarray((mask * 255).astype(np.uint8)).save(folder / "conditions" / f"{i:03d}.png")
        (folder / "images" / f"{i:03d}.txt").write_text(f"a bright {'square' if square else 'disc'}")
    return folder

"""The training step of TencentARC's recipe (diffusers' ``train_t2i_adapter_sdxl.py`` does the same).

UNet frozen; the adapter's features go into the UNet through ``t2i_ext.inject`` — the hooks sampling uses — so
training and inference cannot drift apart. Timesteps are cubic, ``t = (1 − u³)·T`` (paper §3.4): more weight on
early, noisy steps where structure forms. Loss: MSE to the noise, or to ``v`` for v-prediction checkpoints.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

import t2i_ext

from .base_model import Conditioning, call_unet


def cubic_timesteps(u: torch.Tensor, num_timesteps: int) -> torch.Tensor:
    """``u ~ U[0, 1)`` ``[B]`` → integer timesteps ``⌊(1 − u³)·T⌋`` clamped to ``[0, T − 1]``."""
    return ((1 - u**3) * num_timesteps).long().clamp(0, num_timesteps - 1)


@dataclass
class Batch:
    """One (micro-)batch on the training device.

    ``latents`` ``[B, 4, h, w]`` (a sample of the VAE posterior), ``cond`` ``[B, C, 8h, 8w]`` in [0, 1],
    ``text`` the conditioning, ``noise`` ``[B, 4, h, w]`` and ``u`` ``[B]`` the step's random numbers (drawn per
    sample from seeds, so any split of a batch over processes draws the same numbers).
    """

    latents: torch.Tensor
    cond: torch.Tensor
    text: Conditioning
    noise: torch.Tensor
    u: torch.Tensor


def noisy(latents: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor) -> torch.Tensor:
    a = alphas_cumprod.to(latents.device)[t].float().view(-1, 1, 1, 1)
    return a.sqrt() * latents + (1 - a).sqrt() * noise


def target(latents: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, alphas_cumprod: torch.Tensor,
           prediction: str) -> torch.Tensor:
    if prediction == "epsilon":
        return noise
    a = alphas_cumprod.to(latents.device)[t].float().view(-1, 1, 1, 1)
    return a.sqrt() * noise - (1 - a).sqrt() * latents  # v = √ᾱ·ε − √(1−ᾱ)·x₀


def adapter_loss(
    unet: nn.Module,
    adapter: nn.Module,
    batch: Batch,
    alphas_cumprod: torch.Tensor,
    prediction: str,
    adapter_base: str,
    depth: int = 1,
    unet_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Mean squared error of the UNet's prediction with the adapter's features injected (scalar, float32).

    ``adapter`` may be wrapped (DDP): it is called as a module, so its gradients are synchronised.
    """
    t = cubic_timesteps(batch.u, alphas_cumprod.shape[0])
    dtype = unet_dtype or next(unet.parameters()).dtype
    x_t = noisy(batch.latents, batch.noise, t, alphas_cumprod)
    features = adapter(batch.cond)  # with grad: t2i_ext.compute_features is for inference (no_grad)
    unit = t2i_ext.AdapterUnit(features=list(features), base=adapter_base)
    text = Conditioning(batch.text.context.to(dtype), None if batch.text.y is None else batch.text.y.to(dtype))
    with t2i_ext.inject(unet, [unit]):  # one row per image: no layout needed
        pred = call_unet(unet, x_t.to(dtype), t, text, depth)
    return F.mse_loss(pred.float(), target(batch.latents, batch.noise, t, alphas_cumprod, prediction).float())


# --------------------------------------------------------------------------------------------------------------
def enable_gradient_checkpointing(unet: nn.Module) -> Callable[[], None]:
    """Recompute each UNet block's activations in the backward pass (``torch.utils.checkpoint``, non-reentrant,
    so it works with frozen weights). Wraps the blocks' own forwards; the UNet's forward and the injection hooks
    (which run around the blocks) are untouched. Returns a function that undoes it."""
    from torch.utils.checkpoint import checkpoint

    blocks = [*unet.input_blocks, unet.middle_block, *unet.output_blocks]
    originals = []
    for block in blocks:
        original = block.forward

        @functools.wraps(original)
        def wrapped(*args, _f=original, **kwargs):
            if not torch.is_grad_enabled():
                return _f(*args, **kwargs)
            return checkpoint(_f, *args, use_reentrant=False, **kwargs)

        block.forward = wrapped
        originals.append((block, original))

    def undo() -> None:
        for block, _ in originals:
            del block.forward  # back to the class's forward

    return undo

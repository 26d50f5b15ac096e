"""A minimal Euler sampler with classifier-free guidance, shaped like the WebUI's k-diffusion path.

It mirrors k-diffusion's ``sample_euler`` over a discrete eps-prediction denoiser (SD's scaled-linear schedule) and
batches rows as the WebUI's CFG denoiser does: ``[cond × B, uncond × B]``. Used by the self-test and the tests; the
WebUI uses its own samplers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .injection import Injection
from .units import BatchLayout


def sd_sigmas(steps: int) -> torch.Tensor:
    """``steps`` noise levels from SD's schedule (high to low), then 0, and the matching timesteps."""
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    alphas = torch.cumprod(1 - betas, dim=0)
    timesteps = torch.linspace(999, 0, steps, dtype=torch.float64).round().long()
    sigmas = ((1 - alphas[timesteps]) / alphas[timesteps]).sqrt()
    return torch.cat([sigmas, sigmas.new_zeros(1)]).float(), timesteps.float()


@torch.no_grad()
def euler_cfg(
    unet: nn.Module,
    noise: torch.Tensor,
    cond: torch.Tensor,
    uncond: torch.Tensor,
    steps: int,
    cfg_scale: float = 7.0,
    injection: Injection | None = None,
    on_step: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Sample ``noise`` (``[B, 4, h, w]``, unit variance) with Euler steps; returns the final latent."""
    sigmas, timesteps = sd_sigmas(steps)
    batch = noise.shape[0]
    x = noise * sigmas[0]
    context = torch.cat([cond, uncond])
    if injection is not None:
        injection.layout = BatchLayout.cfg(batch, uncond_first=False)
    for i in range(steps):
        if injection is not None:
            injection.progress = i / steps
        if on_step is not None:
            on_step(i)
        sigma = sigmas[i]
        x_in = torch.cat([x, x]) / (sigma**2 + 1) ** 0.5
        eps = unet(x_in, timesteps[i].expand(2 * batch), context=context)
        eps_cond, eps_uncond = eps[:batch], eps[batch:]
        denoised = x - sigma * (eps_uncond + cfg_scale * (eps_cond - eps_uncond))
        x = x + (x - denoised) / sigma * (sigmas[i + 1] - sigma)  # Euler step
    return x

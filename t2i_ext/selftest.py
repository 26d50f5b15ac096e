"""``python -m t2i_ext selftest``: the whole path on a tiny random UNet, no download needed.

Builds a tiny SD1-layout UNet with the WebUI's own LDM code and a tiny adapter, samples a few Euler steps with and
without the adapter from the same noise, and reports the adapter's effect, the cost of the injection, and that the
UNet is bit-identical after the injection ends.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch

from .condition import condition_for
from .features import compute_features
from .injection import inject
from .nets import FullAdapter
from .sampling import euler_cfg
from .tiny_unet import TINY_SD1, build_ldm_unet
from .units import AdapterUnit


@dataclass
class SelftestResult:
    effect: float  # mean |Δ latent| / mean |latent|
    adapter_ms: float
    plain_ms: float  # median over rounds
    injected_ms: float
    restored: bool
    ratios: tuple[float, ...] = ()  # with / without, one per paired round

    @property
    def time_ratio(self) -> float:
        """Median of the per-round ratios: load drift between rounds on a shared machine cancels within a round."""
        return statistics.median(self.ratios) if self.ratios else self.injected_ms / self.plain_ms

    @property
    def ok(self) -> bool:
        return self.restored and self.effect > 1e-3


def ring_condition(size: int) -> np.ndarray:
    """A white ring on black: an edge-map-like condition that needs no file."""
    yy, xx = np.mgrid[:size, :size] - size / 2
    r = np.hypot(yy, xx)
    return ((np.abs(r - size / 3) < size / 40) * 255).astype(np.uint8)


def run_selftest(size: int = 256, steps: int = 8, repeats: int = 3, seed: int = 0) -> SelftestResult:
    """``repeats`` paired rounds (one run without and one with the adapter each) after a warm-up of both."""
    torch.manual_seed(seed)
    unet = build_ldm_unet(TINY_SD1, seed)
    adapter = FullAdapter(1, TINY_SD1.channels).eval()
    cond_image = condition_for(adapter, ring_condition(size))
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(1, 4, size // 8, size // 8, generator=g)
    cond, uncond = torch.randn(2, 1, 77, TINY_SD1.context_dim, generator=g)

    t0 = time.perf_counter()
    features = compute_features(adapter, cond_image)
    adapter_ms = (time.perf_counter() - t0) * 1000
    unit = AdapterUnit(features=features, weight=1.0)

    def plain() -> torch.Tensor:
        return euler_cfg(unet, noise, cond, uncond, steps)

    def injected() -> torch.Tensor:
        with inject(unet, [unit]) as injection:
            return euler_cfg(unet, noise, cond, uncond, steps, injection=injection)

    before = plain()  # warm-up of both variants: first calls pay for allocation, not for the injection
    with_adapter = injected()
    plain_times, injected_times = [], []
    for i in range(max(1, repeats)):
        # paired rounds, alternating which variant goes first, so neither always runs on a warmer machine
        order = ((plain, plain_times), (injected, injected_times))
        for fn, times in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
    after = plain()
    effect = ((with_adapter - before).abs().mean() / before.abs().mean()).item()
    return SelftestResult(
        effect=effect,
        adapter_ms=adapter_ms,
        plain_ms=statistics.median(plain_times),
        injected_ms=statistics.median(injected_times),
        restored=torch.equal(before, after),
        ratios=tuple(w / p for p, w in zip(plain_times, injected_times)),
    )


#: rounds whose ratios differ by more than this factor measured the machine's load, not the injection
BUSY_SPREAD = 1.1


def _spread(ratios: tuple[float, ...]) -> str:
    if len(ratios) < 2:
        return ""
    text = f", range ×{min(ratios):.3f}–×{max(ratios):.3f}"
    if max(ratios) / min(ratios) > BUSY_SPREAD:
        text += "; rounds disagree: the machine is busy, rerun for a figure"
    return text


def format_result(r: SelftestResult, size: int, steps: int) -> str:
    return "\n".join(
        [
            f"T2I-Adapter self-test: tiny SD1-layout LDM UNet (WebUI code, random weights), {size}×{size}, "
            f"{steps} Euler steps, CFG batch 2",
            f"  adapter effect on the latent : {r.effect:.1%} mean change",
            f"  adapter pass (once per job)  : {r.adapter_ms:.1f} ms",
            f"  sampling without / with      : {r.plain_ms:.1f} ms / {r.injected_ms:.1f} ms  (×{r.time_ratio:.3f}, "
            f"median of {len(r.ratios)} paired rounds{_spread(r.ratios)})",
            f"  UNet bit-identical afterwards: {'yes' if r.restored else 'NO'}",
            "  result: " + ("OK" if r.ok else "FAILED"),
        ]
    )

"""Adapter core benchmark (not a test): what injecting features costs a real-sized UNet step on the CPU.

    ./dev.sh python -m bench.bench_core [--arch sd15 sdxl] [--pairs N]

For each architecture (the real SD1.5 / SDXL UNet layouts built with the WebUI's LDM code, random weights, fp32),
at 512×512 (64×64 latent) and batch 2 as under CFG, timed in process CPU time (robust to other load on the machine):
- one UNet step with injected features vs without: interleaved pairs, median of each (goal ≤ 1.005×);
- the time the hooks themselves take per step (the four additions), a noise-free bound on the overhead;
- the adapter's single pass vs one UNet step;
- the memory held while sampling: the features (and any weighted copy the injection caches), counted exactly;
  each hook also makes one block-output-sized temporary at a time. (Peak RSS was tried: glibc's caching of the
  freed adapter weights moves it by hundreds of MB either way, so it cannot resolve a few MB.)
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Sequence

import torch

from t2i_ext import AdapterUnit, BatchLayout, compute_features, inject
from t2i_ext.nets import FullAdapter, FullAdapterXL
from t2i_ext.tiny_unet import SD15, SDXL_BASE, build_ldm_unet

SPECS = {"sd15": (SD15, FullAdapter), "sdxl": (SDXL_BASE, FullAdapterXL)}


def _ms(fn) -> float:
    """CPU time of this process (all its threads): other processes on the machine do not inflate it."""
    t0 = time.process_time()
    fn()
    return (time.process_time() - t0) * 1000


def _adapter_pass(adapter_cls, condition: torch.Tensor) -> tuple[list[torch.Tensor], float, int]:
    """(features, CPU ms of one pass (best of 2), adapter parameters); the adapter is dropped on return."""
    adapter = adapter_cls(3).eval()
    ms = min(_ms(lambda: compute_features(adapter, condition)) for _ in range(2))
    return compute_features(adapter, condition), ms, adapter.num_parameters


@torch.no_grad()
def bench(arch: str, pairs: int, size: int = 512) -> dict[str, float]:
    spec, adapter_cls = SPECS[arch]
    unet = build_ldm_unet(spec)
    g = torch.Generator().manual_seed(0)
    latent = size // 8
    x = torch.randn(2, 4, latent, latent, generator=g)
    t = torch.full((2,), 500.0)
    context = torch.randn(2, 77, spec.context_dim, generator=g)
    condition = torch.rand(1, 3, size, size, generator=g)

    def step() -> torch.Tensor:
        return unet(x, t, context=context)

    step()  # warm-up: allocator and kernels

    features, adapter_ms, adapter_params = _adapter_pass(adapter_cls, condition)
    gc.collect()  # the adapter is gone: sampling holds only its features
    unit = AdapterUnit(features=features)

    plain, injected = [], []
    layout = BatchLayout.cfg(1)

    def injected_step() -> None:
        # entering per step also counts installing the hooks and building the residuals (once per job in practice)
        with inject(unet, [unit], layout=layout):
            step()

    injected_step()
    for _ in range(pairs):  # interleaved: load drift hits both alike
        plain.append(_ms(step))
        injected.append(_ms(injected_step))

    # the hooks' own work per step: the four additions on tensors of the real sizes
    with inject(unet, [unit], layout=layout) as injection:
        hidden = [torch.randn(2, *f.shape[1:]) for f in features]
        residuals = [injection.residual(level, h) for level, h in enumerate(hidden)]
        cached = {id(r): r for r in injection._cache.values()}
        own = {id(f) for f in features}
        held = sum(f.numel() * f.element_size() for f in features)
        held += sum(r.numel() * r.element_size() for k, r in cached.items() if k not in own)
        hook_ms = statistics.median(_ms(lambda: [h + r for h, r in zip(hidden, residuals)]) for _ in range(20))

    return {
        "params_m": sum(p.numel() for p in unet.parameters()) / 1e6,
        "adapter_params_m": adapter_params / 1e6,
        "plain_ms": statistics.median(plain),
        "injected_ms": statistics.median(injected),
        "hook_ms": hook_ms,
        "adapter_ms": adapter_ms,
        "held_mb": held / 2**20,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", choices=sorted(SPECS), default=["sd15", "sdxl"])
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    rows = []
    for arch in args.arch:
        r = bench(arch, args.pairs)
        rows.append(
            f"| {arch} ({r['params_m']:.0f} M) | {r['plain_ms']:.0f} | {r['injected_ms']:.0f} "
            f"| ×{r['injected_ms'] / r['plain_ms']:.3f} "
            f"| {r['hook_ms']:.1f} ms = ×{1 + r['hook_ms'] / r['plain_ms']:.4f} "
            f"| {r['adapter_ms']:.0f} ms = {r['adapter_ms'] / r['plain_ms']:.2f} steps "
            f"| {r['held_mb']:.1f} MB |"
        )
        print(rows[-1], flush=True)
        gc.collect()
    print(
        "\n| UNet (params) | step ms | step ms with features | ratio | hook work per step | adapter pass "
        "| held while sampling |\n|---|---:|---:|---:|---:|---:|---:|"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()

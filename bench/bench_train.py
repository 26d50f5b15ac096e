"""Trainer benchmark (not a test): seconds per training step and peak memory, ours vs diffusers' script step.

    ./dev.sh python -m bench.bench_train [--arch sd15 sdxl] [--size 128] [--batch 1] [--steps 3] [--rounds 2]
                                          [--precision fp32|bf16] [--no-toy]

- **Step**: the real SD1.5 / SDXL UNet layouts (random weights) with a full adapter, on the CPU. Ours is
  ``t2i_train.fit`` (precomputed latents, features injected with ``t2i_ext.inject`` into the ldm UNet); theirs is
  the step of diffusers' ``examples/t2i_adapter/train_t2i_adapter_sdxl.py`` written with the diffusers API
  (``UNet2DConditionModel`` + ``T2IAdapter``, ``down_block_additional_residuals``, Euler-scaled input, σ⁻²-weighted
  x₀ loss, AdamW, clipping), given the same latents: their script also runs the VAE encoder every step, which is
  left out so that the comparison is the UNet + adapter step alone. Same batch, resolution, precision.
  Each measurement is a fresh process (peak RSS is per process); rounds alternate the order; medians of process
  CPU time per step (robust to other load on a shared machine; one thread by default).
- **Toy control** (the suite's test, longer): IoU of generated shapes with the condition mask, without and with
  the trained adapter.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

ARCHS = ("sd15", "sdxl")


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ldm_unet(arch: str) -> torch.nn.Module:
    """The trainer's UNet: ldm ``UNetModel`` in the checkpoint layout (SDXL: ADM label embedding, deep layers)."""
    import copy

    from ldm.modules.diffusionmodules.openaimodel import UNetModel

    from t2i_ext.tiny_unet import randomize_

    common = dict(
        image_size=32,
        in_channels=4,
        out_channels=4,
        model_channels=320,
        num_res_blocks=2,
        use_spatial_transformer=True,
        transformer_depth=1,
        legacy=False,
    )
    with torch.device("meta"):
        if arch == "sd15":
            unet = UNetModel(
                attention_resolutions=[1, 2, 4], channel_mult=(1, 2, 4, 4), num_heads=8, context_dim=768, **common
            )
        else:
            unet = UNetModel(
                attention_resolutions=[2, 4],
                channel_mult=(1, 2, 4),
                num_head_channels=64,
                context_dim=2048,
                use_linear_in_transformer=True,
                num_classes="continuous",
                **common,
            )
            unet.label_emb = torch.nn.Sequential(
                torch.nn.Sequential(torch.nn.Linear(2816, 1280), torch.nn.SiLU(), torch.nn.Linear(1280, 1280))
            )
            levels = {4: 2, 5: 2, 7: 10, 8: 10}
            deep = [m for i, b in enumerate(unet.input_blocks) if i in levels for m in b.modules()]
            deep_depth = [levels[i] for i, b in enumerate(unet.input_blocks) if i in levels for m in b.modules()]
            outs = [(b, 10 if i < 3 else 2) for i, b in enumerate(unet.output_blocks) if i < 6]
            targets = list(zip(deep, deep_depth)) + [(m, d) for b, d in outs for m in b.modules()]
            targets += [(m, 10) for m in unet.middle_block.modules()]
            for st, depth in targets:
                if type(st).__name__ == "SpatialTransformer":
                    first = st.transformer_blocks[0]
                    copies = [copy.deepcopy(first) for _ in range(depth - 1)]
                    st.transformer_blocks = torch.nn.ModuleList([first, *copies])
    unet = unet.to_empty(device="cpu")
    randomize_(unet, 0)
    return unet.requires_grad_(False)


def _diffusers_unet(arch: str):
    from diffusers import UNet2DConditionModel

    if arch == "sd15":
        cfg = dict(block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=768, attention_head_dim=8)
    else:
        cfg = dict(
            block_out_channels=(320, 640, 1280),
            cross_attention_dim=2048,
            attention_head_dim=(5, 10, 20),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2, 10),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
        )
    return UNet2DConditionModel(sample_size=32, layers_per_block=2, **cfg).requires_grad_(False)


def _inputs(arch: str, n: int, size: int):
    g = torch.Generator().manual_seed(0)
    lat = size // 8
    d = 2048 if arch == "sdxl" else 768
    return (
        torch.randn(n, 4, lat, lat, generator=g),
        torch.rand(n, 3, size, size, generator=g),
        torch.randn(n, 77, d, generator=g),
        torch.randn(n, 2816, generator=g) if arch == "sdxl" else None,
    )


def worker_ours(arch: str, size: int, batch: int, steps: int, precision: str) -> dict:
    from t2i_train import TrainConfig, fit
    from t2i_train.adapters import make_adapter
    from t2i_train.base_model import _schedule
    from t2i_train.precompute import Entry, LatentSet

    base = "SDXL" if arch == "sdxl" else "SD1"
    unet = _ldm_unet(arch)
    adapter = make_adapter("full", 3, unet, base)
    n = batch * (steps + 1)
    lat, cond, ctx, y = _inputs(arch, n, size)
    data = LatentSet(
        [Entry(lat[i], torch.zeros_like(lat[i]), cond[i], ctx[i], None if y is None else y[i]) for i in range(n)]
    )
    built = _rss_mib()
    stamps = []
    cfg = TrainConfig(
        output="/tmp/t2i_bench_train",
        steps=steps + 1,
        batch_size=batch,
        checkpoint_every=0,
        mixed_precision="bf16" if precision == "bf16" else "no",
        cpu=True,
    )
    fit(
        unet,
        adapter,
        data,
        _schedule(),
        "epsilon",
        cfg,
        base,
        progress_callback=lambda p: stamps.append(time.process_time()),
    )
    return {"step_s": [b - a for a, b in zip(stamps, stamps[1:])], "built_mib": built, "peak_mib": _peak_mib()}


def worker_diffusers(arch: str, size: int, batch: int, steps: int, precision: str) -> dict:
    """The training step of diffusers' train_t2i_adapter_sdxl.py (without its per-step VAE encode)."""
    from diffusers import T2IAdapter

    from t2i_train.base_model import _schedule
    from t2i_train.recipe import cubic_timesteps, noisy

    weight_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    unet = _diffusers_unet(arch).to(weight_dtype)
    torch.manual_seed(0)
    adapter = T2IAdapter(
        in_channels=3,
        channels=(320, 640, 1280, 1280),
        num_res_blocks=2,
        downscale_factor=16 if arch == "sdxl" else 8,
        adapter_type="full_adapter_xl" if arch == "sdxl" else "full_adapter",
    ).train()
    opt = torch.optim.AdamW(adapter.parameters(), lr=1e-5, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    acp = _schedule()
    lat, cond, ctx, y = _inputs(arch, batch * (steps + 1), size)
    built = _rss_mib()
    times = []
    for s in range(steps + 1):
        t0 = time.process_time()
        rows = slice(s * batch, (s + 1) * batch)
        latents = lat[rows]
        noise = torch.randn_like(latents)
        timesteps = cubic_timesteps(torch.rand(batch), 1000)
        noisy_latents = noisy(latents, noise, timesteps, acp)
        sigmas = ((1 - acp[timesteps]) / acp[timesteps]).sqrt().float().view(-1, 1, 1, 1)
        inp = noisy_latents / ((sigmas**2 + 1) ** 0.5)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            residuals = [r.to(weight_dtype) for r in adapter(cond[rows])]
            added = None
            if y is not None:  # SDXL: pooled text + the six size ids
                added = {
                    "text_embeds": y[rows, :1280].to(weight_dtype),
                    "time_ids": torch.tensor([[size, size, 0, 0, size, size]] * batch, dtype=weight_dtype),
                }
            pred = unet(
                inp.to(weight_dtype),
                timesteps,
                encoder_hidden_states=ctx[rows].to(weight_dtype),
                added_cond_kwargs=added,
                down_block_additional_residuals=residuals,
            ).sample
        denoised = pred.float() * (-sigmas) + noisy_latents
        loss = torch.mean((sigmas**-2.0 * (denoised - latents) ** 2).reshape(batch, -1), dim=1).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(adapter.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.process_time() - t0)
    return {"step_s": times[1:], "built_mib": built, "peak_mib": _peak_mib()}


def _run_worker(which: str, arch: str, args) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "bench.bench_train",
        "--worker",
        which,
        "--arch",
        arch,
        "--size",
        str(args.size),
        "--batch",
        str(args.batch),
        "--steps",
        str(args.steps),
        "--precision",
        args.precision,
        "--threads",
        str(args.threads),
    ]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_steps(args) -> None:
    print(
        f"training step, {args.size}×{args.size}, batch {args.batch}, {args.precision}, CPU "
        f"({args.threads} thread(s), process CPU time), {args.rounds} rounds × {args.steps} timed steps"
    )
    print(
        "| arch | ours s/step | diffusers s/step | throughput ours/theirs | ours peak MiB (+train) | "
        "diffusers peak MiB (+train) |"
    )
    print("|---|---|---|---|---|---|")
    for arch in args.arch:
        runs = {"ours": [], "diffusers": []}
        for r in range(args.rounds):
            for which in ("ours", "diffusers") if r % 2 == 0 else ("diffusers", "ours"):
                runs[which].append(_run_worker(which, arch, args))
        med = {k: statistics.median(s for run in v for s in run["step_s"]) for k, v in runs.items()}
        peak = {k: statistics.median(run["peak_mib"] for run in v) for k, v in runs.items()}
        extra = {k: statistics.median(run["peak_mib"] - run["built_mib"] for run in v) for k, v in runs.items()}
        print(
            f"| {arch} | {med['ours']:.2f} | {med['diffusers']:.2f} | ×{med['diffusers'] / med['ours']:.2f} | "
            f"{peak['ours']:.0f} (+{extra['ours']:.0f}) | {peak['diffusers']:.0f} (+{extra['diffusers']:.0f}) |"
        )


def bench_toy(unet_steps: int = 300, adapter_steps: int = 200) -> None:
    import numpy as np

    from t2i_ext.nets import FullAdapter
    from t2i_train import TrainConfig, fit
    from t2i_train.base_model import _schedule
    from t2i_train.toy import control_score, mask_dataset, pretrain_unet, toy_unet

    torch.set_num_threads(1)
    acp = _schedule()
    unet = toy_unet()
    t0 = time.perf_counter()
    pretrain_unet(unet, acp, unet_steps, batch=32)
    torch.manual_seed(0)
    adapter = FullAdapter(1, (32, 32, 32, 32), num_res_blocks=1)
    cfg = TrainConfig(
        output="/tmp/t2i_bench_toy", steps=adapter_steps, batch_size=16, learning_rate=3e-3, checkpoint_every=0
    )
    result = fit(unet, adapter, mask_dataset(256, 1), acp, "v", cfg, "SD1")
    score = control_score(unet, result.adapter, acp, n=64)
    print(
        f"\ntoy control ({unet_steps} UNet steps, {adapter_steps} adapter steps, 64 held-out masks, "
        f"{time.perf_counter() - t0:.0f} s): adapter loss {np.mean(result.losses[:20]):.4f} → "
        f"{np.mean(result.losses[-20:]):.4f}; IoU with the mask without adapter {score.iou_without:.3f}, "
        f"with adapter {score.iou_with:.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--arch", nargs="+", choices=ARCHS, default=list(ARCHS))
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--no-toy", action="store_true")
    p.add_argument("--no-steps", action="store_true")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker (1: stable on a shared machine)")
    p.add_argument("--worker", choices=["ours", "diffusers"])
    args = p.parse_args(argv)
    if args.worker:
        torch.set_num_threads(args.threads)
        fn = worker_ours if args.worker == "ours" else worker_diffusers
        print(json.dumps(fn(args.arch[0], args.size, args.batch, args.steps, args.precision)))
        return
    if not args.no_steps:
        bench_steps(args)
    if not args.no_toy:
        bench_toy()


if __name__ == "__main__":
    main()

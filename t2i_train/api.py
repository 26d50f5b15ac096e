"""``prepare`` (validate everything, build the plan) and ``train`` (the whole run): the API a CLI or a WebUI tab
calls. Under the WebUI's queue lock a tab passes ``progress_callback`` (live loss, sample grid paths) and
``should_stop`` (its interrupt button); a stop saves a resumable checkpoint."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .adapters import make_adapter
from .base_model import BaseModel, load_base_model
from .config import TrainConfig
from .data import Sample, annotate, place, scan_folder
from .errors import ConfigError
from .loop import Progress, TrainResult, checkpoint_step, find_checkpoint, fit
from .precompute import LatentSet, precompute

GiB = 1024**3
GRID_TITLES = ("condition", "without adapter", "with adapter")


@dataclass
class Plan:
    """What a run will do, known before any training work (``--dry-run`` prints it)."""

    config: TrainConfig
    base: BaseModel
    samples: list[Sample]
    adapter: torch.nn.Module
    buckets: dict[tuple[int, int], int] = field(default_factory=dict)
    num_processes: int = 1

    @property
    def global_batch(self) -> int:
        return self.config.batch_size * self.config.grad_accumulation * self.num_processes

    def memory_estimate(self) -> dict[str, float]:
        """Bytes: frozen UNet weights, adapter weights + grads + AdamW moments, and a rough activation figure."""
        mp = self.config.mixed_precision
        wbytes = 2 if mp in ("fp16", "bf16") else 4
        unet = sum(p.numel() for p in self.base.unet.parameters()) * wbytes
        adapter = sum(p.numel() for p in self.adapter.parameters()) * 16  # fp32 weights, grads, two moments
        # a rule of thumb, not a measurement (only CPU runs at 128² exist, where the optimizer dominates):
        # ~1.1 KiB per latent pixel per 100 M UNet parameters in 16-bit, ÷3 with gradient checkpointing
        pixels = max(h * w for h, w in self.buckets) if self.buckets else (self.config.resolution // 8) ** 2
        params = sum(p.numel() for p in self.base.unet.parameters()) / 1e8
        act = 1100 * pixels * params * self.config.batch_size * wbytes / 2
        if self.config.gradient_checkpointing:
            act /= 3
        return {"unet_weights": unet, "adapter_and_optimizer": adapter, "activations_rough": act}

    def describe(self) -> str:
        c, mem = self.config, self.memory_estimate()
        n = len(self.samples)
        steps_per_epoch = max(1, n // max(1, self.config.batch_size * self.num_processes))
        lines = [
            f"base model : {self.base.source} ({self.base.family.upper()}, {self.base.prediction}-prediction, "
            f"UNet {sum(p.numel() for p in self.base.unet.parameters()) / 1e6:.1f} M params)",
            f"adapter    : {self.adapter.describe()}" + (f" (fine-tuning {c.init_adapter})" if c.init_adapter else ""),
            f"data       : {n} pairs in {c.data}" + (f", maps by annotator {c.annotator!r}" if c.annotator else ""),
            "sizes      : " + ", ".join(f"{w * 8}×{h * 8}: {k}" for (h, w), k in sorted(self.buckets.items())),
            f"schedule   : {c.steps} steps × batch {c.batch_size} × accumulation {c.grad_accumulation} × "
            f"{self.num_processes} process(es) = {self.global_batch} images a step, ≈ "
            f"{c.steps * c.grad_accumulation / steps_per_epoch:.1f} epochs; AdamW lr {c.learning_rate:g}",
            f"precision  : {c.mixed_precision}; gradient checkpointing {'on' if c.gradient_checkpointing else 'off'}",
            f"memory     : UNet {mem['unet_weights'] / GiB:.2f} GiB + adapter/optimizer "
            f"{mem['adapter_and_optimizer'] / GiB:.2f} GiB + activations ≈ {mem['activations_rough'] / GiB:.1f} GiB "
            "(rough) per device",
            f"output     : {c.output_dir / 'adapter.safetensors'}"
            + (f" and {c.output_dir / 'adapter-diffusers'}" if c.save_diffusers else ""),
        ]
        return "\n".join(lines)


def prepare(config: TrainConfig, num_processes: int = 1, base: BaseModel | None = None) -> Plan:
    """Validate the options, the data folder (one report for all problems) and the base model; build the adapter.
    Nothing is trained or cached. ``base``: a model already in memory (a WebUI's, ``loaded_model``) instead of
    loading ``config.base_model``."""
    config.validate()
    final = config.output_dir / "adapter.safetensors"
    if final.exists() and not config.resume:  # now, not after hours of training when the export would refuse
        raise ConfigError(f"{final} already exists: choose another --output, or add --resume latest to train on.")
    samples = scan_folder(config.data, config.accepted_min_size, with_annotator=bool(config.annotator))
    if config.annotator:
        import annotators

        annotators.get(config.annotator)  # unknown names fail now, listing the valid ones
    if base is None:
        base = load_base_model(config.base_model, config.prediction_type, config.tokenizer, cache=config.cache_dir)
    config.validate(base.size_multiple)
    adapter = make_adapter(config.architecture, config.in_channels, base.unet, base.adapter_base, config.seed,
                           config.init_adapter)
    buckets: dict[tuple[int, int], int] = {}
    for s in samples:
        pl = place(s.size, config.resolution, base.size_multiple, config.buckets)
        key = (pl.target[0] // 8, pl.target[1] // 8)
        buckets[key] = buckets.get(key, 0) + 1
    resume = find_checkpoint(config)  # a bad --resume fails now
    if resume is not None and final.exists() and checkpoint_step(resume) >= config.steps:
        raise ConfigError(f"this run already finished at step {checkpoint_step(resume)}: give --steps above it to "
                          "train on.")
    plan = Plan(config, base, samples, adapter, buckets, num_processes)
    check_memory(plan)
    return plan


def device_memory() -> int:
    """Bytes of memory on the device a run trains on: the first GPU's, else the machine's RAM."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_properties(0).total_memory
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(plan: Plan) -> None:
    """Refuse, before any work, a run whose memory estimate exceeds the whole device (a resolution or batch that
    cannot fit); the estimate is rough, so only what cannot fit even on an empty device is refused."""
    need = sum(plan.memory_estimate().values())
    have = device_memory()
    if need > have:
        raise ConfigError(
            f"this run needs about {need / GiB:.1f} GiB per device (UNet, adapter and optimizer, activations at "
            f"--resolution {plan.config.resolution} and --batch-size {plan.config.batch_size}) but the device has "
            f"{have / GiB:.1f} GiB: lower --resolution or --batch-size, or add --gradient-checkpointing."
        )


def make_sampler(plan: Plan, data: LatentSet, device: torch.device,
                 phase: Callable[[str], None] | None = None) -> Callable[[torch.nn.Module, int], Path]:
    """Sample grids: condition | without adapter | with adapter, the same seed, first ``sample_count`` pairs,
    labelled with the step. ``phase(text)`` is told when one starts (it takes a while: a status line says so)."""
    from .base_model import Conditioning, context_depth
    from .report import save_grid
    from .sampling import ddim_sample

    c, base = plan.config, plan.base
    picks = list(range(min(c.sample_count, len(data))))
    plain_cache: dict[int, torch.Tensor] = {}

    def decode(latents: torch.Tensor) -> torch.Tensor:
        base.vae.to(device)
        try:
            return base.vae.decode(latents.to(device)).cpu()
        finally:
            base.vae.to("cpu")

    def sampler(adapter: torch.nn.Module, step: int) -> Path:
        if phase is not None:
            phase(f"Sampling grid at step {step} ({len(picks)} image(s), {c.sample_steps} steps)…")
        cols = [[], [], []]
        depth = context_depth(base.unet)
        for i in picks:
            e = data[i]
            text = Conditioning(e.context[None], None if e.y is None else e.y[None])
            unc = data.uncond.get(e.bucket)
            shape = (1, 4, *e.bucket)
            kw = dict(prediction=base.prediction, steps=c.sample_steps, guidance=c.sample_guidance, seed=c.seed + i,
                      depth=depth)
            if i not in plain_cache:  # the UNet is frozen: its samples without the adapter never change
                plain_cache[i] = decode(ddim_sample(base.unet, text, unc, shape, base.alphas_cumprod, **kw))
            with torch.no_grad():
                features = adapter(e.cond[None].to(device))
            guided = ddim_sample(base.unet, text, unc, shape, base.alphas_cumprod, features=features,
                                 adapter_base=base.adapter_base, **kw)
            cond = e.cond[None]
            cols[0].append(cond.expand(-1, 3, -1, -1) * 2 - 1 if cond.shape[1] == 1 else cond * 2 - 1)
            cols[1].append(plain_cache[i])
            cols[2].append(decode(guided))
        return save_grid([torch.cat(col) for col in cols], c.output_dir / "samples" / f"step-{step:06d}.png",
                         titles=list(GRID_TITLES), caption=f"step {step}")

    return sampler


def train(
    config: TrainConfig,
    progress_callback: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    log: Callable[[str], None] = print,
    base: BaseModel | None = None,
    phase: Callable[[str], None] | None = None,
) -> TrainResult:
    """The whole run: validate, (annotate,) precompute, train, export. Returns the trained adapter and losses;
    ``result.interrupted`` with ``result.checkpoint`` when stopped early (resume with ``config.resume``).
    ``base``: a model already in memory (see :func:`prepare`); ``phase(text)``: what the run is doing now, for a
    status line (encoding latents, sampling a grid, saving a checkpoint)."""
    from .export import export_adapter
    from .loop import _accelerator
    from .report import save_loss_curve

    acc = _accelerator(config)
    plan = prepare(config, acc.num_processes, base)
    if acc.is_main_process:
        log(plan.describe())
    samples = plan.samples
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    data = None
    for turn in ("main", "others"):  # the main process computes the caches; the others then only read them
        if (turn == "main") == acc.is_main_process:
            if config.annotator:
                samples = annotate(samples, config.annotator, config.annotator_params, config.cache_dir)
            encoding = (lambda i, n: phase(f"Encoding latents {i}/{n}…")) if phase is not None else None
            data = precompute(plan.base, samples, config.resolution, config.buckets, plan.adapter.in_channels,
                              config.cache_dir, acc.device, progress=encoding)
        acc.wait_for_everyone()
    plan.base.text = None  # text encoders are not needed any more; the VAE stays on the CPU for sample grids
    if not config.sample_every:  # no grids: the frozen UNet is all the steps need (the VAE's memory is freed)
        plan.base.vae = None
    grids = make_sampler(plan, data, acc.device, phase) if config.sample_every else None

    def sampler(adapter: torch.nn.Module, step: int) -> Path | None:
        if should_stop is not None and should_stop():  # stopping: the checkpoint first, no grid to wait for
            return None
        return grids(adapter, step)

    curve = config.output_dir / "loss.png"

    def on_progress(p: Progress) -> None:
        if p.sample_grid is not None or p.checkpoint is not None:
            save_loss_curve(p.history, curve)
        if progress_callback is not None:
            progress_callback(p)

    result = fit(plan.base.unet, plan.adapter, data, plan.base.alphas_cumprod, plan.base.prediction, config,
                 plan.base.adapter_base, progress_callback=on_progress, should_stop=should_stop,
                 sampler=sampler if grids is not None else None,
                 accelerator=acc, phase=phase)
    if acc.is_main_process and result.losses:
        result.outputs.append(save_loss_curve(result.losses, curve))
    if acc.is_main_process and not result.interrupted:
        if phase is not None:
            phase("Writing the adapter file…")
        result.outputs += export_adapter(result.adapter, config.output_dir, config.save_diffusers, config.half,
                                         replace=config.resume is not None)
    acc.wait_for_everyone()
    return result

"""The training loop: batches, accumulation, mixed precision, checkpoints and resume, on one device or many.

Runs under Hugging Face ``accelerate``: without a launcher it is one process on one device; under
``accelerate launch`` (or ``torchrun``) every process takes its slice of each global batch and DDP averages the
adapter's gradients. All randomness is drawn per sample from ``(seed, micro-step, row)``, so the result does not
depend on how many processes share a batch, and a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .attention import use_sdpa
from .base_model import Conditioning, context_depth
from .checkpoint import find_checkpoint, load_checkpoint, prune, save_checkpoint
from .config import TrainConfig
from .errors import ConfigError, NonFiniteLossError
from .precompute import LatentSet
from .recipe import Batch, adapter_loss, enable_gradient_checkpointing


@dataclass
class Progress:
    """What a progress callback receives after every optimizer step (and after a sample grid is written)."""

    step: int
    total: int
    loss: float
    it_per_s: float
    eta_s: float
    sample_grid: Path | None = None
    checkpoint: Path | None = None
    history: list[float] = field(default_factory=list)  # every step's loss so far (the run's own list)


@dataclass
class TrainResult:
    adapter: nn.Module | None  # unwrapped, on the CPU, float32 (a TrainingSession drops it once it is written)
    step: int
    losses: list[float] = field(default_factory=list)
    interrupted: bool = False
    checkpoint: Path | None = None
    outputs: list[Path] = field(default_factory=list)


class BatchPlan:
    """Deterministic global batches: per epoch, each latent-size bucket shuffled (padded by cycling to a whole
    number of batches), then the batches shuffled. ``global_batch(k)`` is the k-th micro-step's index list."""

    def __init__(self, data: LatentSet, global_batch: int, seed: int) -> None:
        self.buckets = [idx for _, idx in sorted(data.buckets().items())]
        self.size = global_batch
        self.seed = seed
        self.per_epoch = sum(math.ceil(len(b) / global_batch) for b in self.buckets)
        self._epoch: tuple[int, list[list[int]]] | None = None

    def _batches(self, epoch: int) -> list[list[int]]:
        if self._epoch is None or self._epoch[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            batches = []
            for bucket in self.buckets:
                order = list(rng.permutation(bucket))
                n = math.ceil(len(order) / self.size) * self.size
                order = [order[i % len(order)] for i in range(n)]
                batches += [order[i : i + self.size] for i in range(0, n, self.size)]
            self._epoch = (epoch, [batches[i] for i in rng.permutation(len(batches))])
        return self._epoch[1]

    def global_batch(self, k: int) -> list[int]:
        return self._batches(k // self.per_epoch)[k % self.per_epoch]


def _row_generator(seed: int, k: int, row: int) -> torch.Generator:
    state = np.random.SeedSequence([seed, k, row]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def make_batch(data: LatentSet, plan: BatchPlan, k: int, rank: int, per_process: int, seed: int,
               device: torch.device) -> Batch:
    """This process's rows of micro-step ``k``: a posterior sample, noise and ``u`` drawn per global row."""
    rows = range(rank * per_process, (rank + 1) * per_process)
    idx = plan.global_batch(k)
    lat, cond, ctx, ys, noise, us = [], [], [], [], [], []
    for row in rows:
        e = data[idx[row]]
        g = _row_generator(seed, k, row)
        lat.append(e.mean + e.std * torch.randn(e.mean.shape, generator=g))
        noise.append(torch.randn(e.mean.shape, generator=g))
        us.append(torch.rand((), generator=g))
        cond.append(e.cond)
        ctx.append(e.context)
        if e.y is not None:
            ys.append(e.y)
    pinned = torch.device(device).type == "cuda"  # page-locked: the copy to the GPU runs without a staging copy

    def put(rows_: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(rows_)
        return stacked.pin_memory().to(device, non_blocking=True) if pinned else stacked.to(device)

    text = Conditioning(put(ctx), put(ys) if ys else None)
    return Batch(put(lat), put(cond), text, put(noise), put(us))


# --------------------------------------------------------------------------------------------------------------
def _accelerator(config: TrainConfig):
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    if config.mixed_precision == "fp16" and (config.cpu or not torch.cuda.is_available()):
        raise ConfigError("fp16 mixed precision needs a GPU; use bf16 or no on the CPU.")
    # accelerate keeps one process-wide state and refuses a second run with another precision (a WebUI tab runs many
    # trainings in one process); its precision part is per run, the process group (PartialState) is kept
    AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(mixed_precision=config.mixed_precision, cpu=config.cpu)


def find_checkpoint_in(folder: Path) -> Path | None:
    """The newest ``step-*`` checkpoint in ``folder``, if any (what a Ctrl-C or a divergence left to resume)."""
    found = sorted(folder.glob("step-*[0-9]")) if folder.is_dir() else []
    return found[-1] if found else None


def checkpoint_step(folder: Path) -> int:
    """The step a checkpoint folder was saved at (its ``state.json``)."""
    import json

    try:
        return int(json.loads((folder / "state.json").read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{folder} is not a readable training checkpoint ({e}).") from None


def fit(
    unet: nn.Module,
    adapter: nn.Module,
    data: LatentSet,
    alphas_cumprod: torch.Tensor,
    prediction: str,
    config: TrainConfig,
    adapter_base: str,
    progress_callback: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    sampler: Callable[[nn.Module, int], Path | None] | None = None,
    accelerator=None,
    phase: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train ``adapter`` against the frozen ``unet`` on precomputed ``data`` for ``config.steps`` optimizer steps.

    ``should_stop()`` is asked before every step; when it says so (or on Ctrl-C) a resumable checkpoint is saved.
    ``sampler(adapter, step)`` writes a sample grid (main process only) every ``config.sample_every`` steps.
    ``phase(text)`` is told when a slow side task starts (saving a checkpoint), for a status line.
    """
    acc = accelerator or _accelerator(config)
    device = acc.device
    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(acc.mixed_precision, torch.float32)
    unet.to(device=device, dtype=weight_dtype).requires_grad_(False).eval()
    if weight_dtype != torch.float32:  # norms stay float32: LDM's GroupNorm32 feeds them float32 (CPU refuses mixing)
        for module in unet.modules():
            if isinstance(module, (nn.GroupNorm, nn.LayerNorm)):
                module.float()
    undo_ckpt = enable_gradient_checkpointing(unet) if config.gradient_checkpointing else None
    undo_sdpa = use_sdpa(unet) if config.sdpa_attention else None
    depth = context_depth(unet)
    adapter.to(device=device, dtype=torch.float32).train().requires_grad_(True)
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=config.learning_rate, betas=tuple(config.adam_betas),
                                  weight_decay=config.adam_weight_decay, eps=config.adam_epsilon)
    start, losses = 0, []
    ckpt_dir = config.output_dir / "checkpoints"
    resume = find_checkpoint(config)
    if resume is not None:  # safetensors + JSON (t2i_train/checkpoint.py): never a pickle
        saved = load_checkpoint(resume, device)
        adapter.load_state_dict(saved["adapter"])
        optimizer.load_state_dict(saved["optimizer"])
        start, losses = saved["step"], saved["losses"]
    model, optimizer = acc.prepare(adapter, optimizer)
    if resume is not None and acc.scaler is not None and saved["scaler"]:
        acc.scaler.load_state_dict(saved["scaler"])
    plan = BatchPlan(data, config.batch_size * acc.num_processes, config.seed)
    accum = config.grad_accumulation
    result = TrainResult(adapter=adapter, step=start, losses=losses)

    def checkpoint(step: int) -> Path | None:
        acc.wait_for_everyone()
        path = None
        if acc.is_main_process:
            if phase is not None:
                phase(f"Saving checkpoint at step {step}…")
            scaler = acc.scaler if acc.scaler is not None else None
            path = save_checkpoint(ckpt_dir / f"step-{step:06d}", acc.unwrap_model(model), optimizer.optimizer
                                   if hasattr(optimizer, "optimizer") else optimizer, step, losses, config, scaler)
            prune(ckpt_dir, config.keep_checkpoints)
        acc.wait_for_everyone()
        return path

    t0, step = time.perf_counter(), start
    try:
        while step < config.steps:
            if should_stop is not None and should_stop():
                result.interrupted = True
                break
            optimizer.zero_grad(set_to_none=True)
            total = torch.zeros((), device=device)
            for m in range(accum):
                batch = make_batch(data, plan, step * accum + m, acc.process_index, config.batch_size, config.seed,
                                   device)
                sync = acc.no_sync(model) if m < accum - 1 and acc.num_processes > 1 else contextlib.nullcontext()
                with sync, acc.autocast():
                    loss = adapter_loss(unet, model, batch, alphas_cumprod, prediction, adapter_base, depth,
                                        weight_dtype)
                acc.backward(loss / accum)
                total += loss.detach() / accum
            if config.max_grad_norm:
                acc.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            step += 1
            loss_value = acc.gather(total[None]).mean().item()
            if not math.isfinite(loss_value):  # every process sees the gathered value: all stop together
                raise NonFiniteLossError(step, loss_value, result.checkpoint or find_checkpoint_in(ckpt_dir),
                                         config.learning_rate)
            losses.append(loss_value)
            result.step = step
            grid = ckpt = None
            if sampler is not None and config.sample_every and step % config.sample_every == 0:
                if acc.is_main_process:
                    grid = sampler(acc.unwrap_model(model), step)
                acc.wait_for_everyone()
            if config.checkpoint_every and step % config.checkpoint_every == 0 and step < config.steps:
                ckpt = result.checkpoint = checkpoint(step)
            if progress_callback is not None and acc.is_main_process:
                rate = (step - start) / max(time.perf_counter() - t0, 1e-9)
                eta = (config.steps - step) / max(rate, 1e-9)
                progress_callback(Progress(step, config.steps, loss_value, rate, eta, grid, ckpt, losses))
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        for undo in (undo_ckpt, undo_sdpa):
            if undo is not None:
                undo()
    if result.interrupted or step > start:  # the finished run too: --resume latest with more --steps goes on
        result.checkpoint = checkpoint(step)
    final = acc.unwrap_model(model)
    result.adapter = final.to("cpu").eval().requires_grad_(False)
    return result

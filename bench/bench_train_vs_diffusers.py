"""Our trainer's step against diffusers' ``examples/t2i_adapter/train_t2i_adapter_sdxl.py`` step, each as its user
runs it (not a test; figures and method in ``docs/training_speed.md``).

    ./dev.sh bench train_vs_diffusers -- [--arch sd15 sdxl] [--size 256] [--batch 1 2] [--steps 3] [--rounds 3]
                                         [--precision fp32|bf16] [--device cpu|cuda] [--threads 1] [--tiny]
    ./dev.sh python -m bench.bench_train_vs_diffusers --gpu     # the GPU grid: bf16, 512²/1024², batch 1 and 4

Both sides start from the same random weights at the published SD1.5 / SDXL configurations, written once under
``--models`` (default ``/tmp/t2i_bench_models``): a diffusers folder for theirs, the A1111 single file made from it
for ours (``--tiny``: small models of the same layout, to check the script in seconds).

- **Theirs**: the diffusers library (``UNet2DConditionModel``, ``AutoencoderKL``, ``CLIPTextModel(WithProjection)``,
  ``T2IAdapter``, ``EulerDiscreteScheduler``, ``accelerate``) loaded with ``from_pretrained`` and stepped as their
  script steps (line numbers at huggingface/diffusers@58eb52c0): only the VAE and text encoders are frozen and the
  UNet is put in ``train()`` with its weights still trainable (L926-930), so the backward pass also computes (and
  keeps, never zeroed: the optimizer holds the adapter only, L988-995) the UNet's weight gradients; VAE, UNet and
  text encoders on the device (L1005-1013), the VAE in fp32; prompt embeddings computed once before training
  (L1052-1069), the text encoders kept; every step encodes the images with the VAE (L1180-1187), draws cubic
  timesteps (L1195-1198), scales the noisy latents by Euler's σ (L1202-1206), runs the adapter (L1209-1213) and the
  UNet with the adapter residuals (L1216-1223; ``down_intrablock_additional_residuals``, the name diffusers now
  gives them), the σ⁻²-weighted x₀ MSE (L1226-1242), backward, clipping, AdamW (L1244-1250). Their dataloader and
  image transforms run in worker processes: here the images are tensors before the loop (in their favour).
  ``theirs-frozen`` is the same with ``unet.requires_grad_(False)``: the like-for-like UNet comparison.
- **Ours**: ``t2i_train.train`` on the single file and a folder of image/condition pairs, as the CLI runs it:
  load, precompute latents and text embeddings into the cache once, then ``fit``'s steps.

Each run is its own process (peak memory per process), rounds interleave the order (ours, theirs, …, then the
reverse). Time: process CPU time on the CPU (robust to other load on a shared machine; ``--threads`` torch threads),
wall time with synchronisation on CUDA. Per side: median seconds per step with a distribution-free 95 % interval
(``job_timing.median_interval``; the first step of each process is a warm-up and not counted). The step is split
into its data part (theirs: VAE encode; ours: reading the cached latents) and the **UNet step** (noise, adapter,
UNet forward and backward, loss, optimizer). Ratios of medians; the ratio's interval combines the two sides'
97.5 % intervals (so ≥ 95 % jointly, Bonferroni). Memory: ``VmHWM`` (peak RSS) over the steps (reset by
``/proc/self/clear_refs`` as the first step starts) and over the whole process; on CUDA also the allocator's peak.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.job_timing import median_interval

SIDES = ("ours", "theirs", "theirs-frozen")
SCRIPT = "diffusers@58eb52c0 examples/t2i_adapter/train_t2i_adapter_sdxl.py"
ONLY_WHEN_NAMED = True  # ~40 min at the defaults on 2 cores: `./dev.sh bench` runs it only when named


# --------------------------------------------------------------------------------------------------------------
# models and data (made once)
def _configs(arch: str, tiny: bool) -> dict:
    """Published SD1.5 (runwayml) and SDXL base configs; ``tiny``: the same layouts, a few channels wide."""
    clip_l = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                  num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
    big_g = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                 num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280)
    vae = dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
               down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
               sample_size=1024 if arch == "sdxl" else 512, scaling_factor=0.13025 if arch == "sdxl" else 0.18215)
    if arch == "sdxl":
        unet = dict(sample_size=128, block_out_channels=(320, 640, 1280), layers_per_block=2,
                    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
                    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
                    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20),
                    cross_attention_dim=2048, use_linear_projection=True, addition_embed_type="text_time",
                    addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)
        texts = [clip_l, big_g]
    else:
        unet = dict(sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
                    cross_attention_dim=768, attention_head_dim=8)
        texts = [clip_l]
    if tiny:  # same block layout; 64-channel heads as in SD2/SDXL, so both UNet codes agree on head counts
        wide = 64
        texts = [dict(t, hidden_size=wide, intermediate_size=2 * wide, num_hidden_layers=2, num_attention_heads=1,
                      projection_dim=wide) for t in texts]
        vae.update(block_out_channels=(32, 32, 64, 64), layers_per_block=1)
        if arch == "sdxl":
            unet.update(block_out_channels=(64, 128, 128), transformer_layers_per_block=(1, 1, 2),
                        attention_head_dim=(1, 2, 2), cross_attention_dim=2 * wide,
                        projection_class_embeddings_input_dim=wide + 6 * 256)
        else:
            unet.update(block_out_channels=(32, 64, 128, 128), cross_attention_dim=wide, attention_head_dim=8)
    return {"unet": unet, "vae": vae, "texts": texts}


def _adapter_channels(arch: str, tiny: bool) -> tuple[int, ...]:
    return (64, 128, 128, 128) if tiny and arch == "sdxl" else (32, 64, 128, 128) if tiny else (320, 640, 1280, 1280)


def _autoencoder_kl():
    from tests.train.helpers import diffusers_autoencoder_kl  # the WebUI's transformers 4.30: see there

    return diffusers_autoencoder_kl()


SINGLE_FILE_MAX_BYTES = 4 * 2**30


def make_models(root: Path, arch: str, tiny: bool) -> tuple[Path, Path]:
    """``root/<arch>[-tiny]/diffusers`` (theirs) and ``…/model.safetensors`` (the A1111 single file, ours). A UNet
    over ``SINGLE_FILE_MAX_BYTES`` (SDXL's 10 GiB in fp32) gets no single file: writing one holds the model and its
    serialised bytes at once, more than a 24 GiB machine has; ours then reads the same diffusers folder (the CLI
    takes either). The diffusers weights are written in 1 GB shards for the same reason."""
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from t2i_train import keymaps
    from t2i_train.tokenizer import find_tokenizer_folder

    base = root / f"{arch}{'-tiny' if tiny else ''}"
    folder, single = base / "diffusers", base / "model.safetensors"
    if (base / "done").exists():
        return folder, single
    shutil.rmtree(base, ignore_errors=True)
    folder.mkdir(parents=True)
    cfg = _configs(arch, tiny)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**cfg["unet"])
    with torch.no_grad():  # diffusers zero-initialises some output layers: random everywhere, as a trained model
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    unet.save_pretrained(folder / "unet", max_shard_size="1GB")
    write_single = sum(p.numel() * p.element_size() for p in unet.parameters()) <= SINGLE_FILE_MAX_BYTES
    unet_sd = keymaps.diffusers_unet_to_ldm(unet.state_dict(), cfg["unet"]["layers_per_block"]) if write_single else {}
    del unet
    vae = _autoencoder_kl()(**cfg["vae"])
    vae.save_pretrained(folder / "vae")
    vae_sd = keymaps.diffusers_vae_to_ldm(vae.state_dict())
    del vae
    tok = find_tokenizer_folder(None, root / "tokenizer")
    single_sd = {f"model.diffusion_model.{k}": v for k, v in unet_sd.items()}
    single_sd.update({f"first_stage_model.{k}": v for k, v in vae_sd.items()})
    for i, tcfg in enumerate(cfg["texts"]):
        pooled = arch == "sdxl" and i == 1
        cls = CLIPTextModelWithProjection if pooled else CLIPTextModel
        te = cls(CLIPTextConfig(bos_token_id=49406, eos_token_id=49407, pad_token_id=1, **tcfg))
        sub = "text_encoder" if i == 0 else "text_encoder_2"
        te.save_pretrained(folder / sub, max_shard_size="1GB")
        sd = {k: v for k, v in te.state_dict().items() if not k.endswith("position_ids")}
        if arch != "sdxl":
            single_sd.update({f"cond_stage_model.transformer.{k}": v for k, v in sd.items()})
        elif i == 0:
            single_sd.update({f"conditioner.embedders.0.transformer.{k}": v for k, v in sd.items()})
        else:
            oc = keymaps.hf_text_to_open_clip(sd)
            single_sd.update({f"conditioner.embedders.1.model.{k}": v for k, v in oc.items()})
        tdir = folder / ("tokenizer" if i == 0 else "tokenizer_2")
        tdir.mkdir()
        for name in ("vocab.json", "merges.txt"):
            shutil.copy(tok / name, tdir / name)
        del te
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(
        {"_class_name": "EulerDiscreteScheduler", "beta_start": 0.00085, "beta_end": 0.012,
         "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
         "timestep_spacing": "leading", "steps_offset": 1}))
    (folder / "model_index.json").write_text(json.dumps(
        {"_class_name": "StableDiffusionXLPipeline" if arch == "sdxl" else "StableDiffusionPipeline"}))
    if write_single:
        save_file({k: v.contiguous() for k, v in single_sd.items()}, str(single))
    (base / "done").write_text("")
    return folder, single


def make_data(root: Path, size: int, n: int) -> Path:
    """``n`` random ``size``² image / RGB condition pairs with captions (the trainer's folder layout)."""
    from PIL import Image

    folder = root / f"data-{size}-{n}"
    if (folder / "done").exists():
        return folder
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "conditions").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = (rng.random((size, size, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(folder / "images" / f"{i:03d}.png")
        Image.fromarray(255 - img).save(folder / "conditions" / f"{i:03d}.png")
        (folder / "images" / f"{i:03d}.txt").write_text(f"a photo of thing number {i}")
    (folder / "done").write_text("")
    return folder


# --------------------------------------------------------------------------------------------------------------
# measuring inside a worker
def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak(device: str) -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux ≥ 4.0)
    except OSError:
        pass
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _clock(device: str):
    if device == "cuda":
        def wall() -> float:
            torch.cuda.synchronize()
            return time.perf_counter()

        return wall
    return time.process_time


def _peaks(device: str) -> dict:
    out = {"peak_mib": _status_kib("VmHWM") / 1024}
    if device == "cuda":
        out["vram_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def worker_ours(a) -> dict:
    import t2i_train.api as api
    import t2i_train.loop as loop
    from t2i_train import TrainConfig, train

    clock = _clock(a.device)
    folder = Path(a.models)
    data_s, stamps, steps_peak, prep = [], [], {}, {}
    make_batch, precompute = loop.make_batch, api.precompute

    def timed_batch(*args, **kw):
        if not data_s:  # the first step starts: peaks from here on are the steps'
            prep["start_mib"] = _status_kib("VmRSS") / 1024  # model, adapter and data held; no grads, no moments
            _reset_peak(a.device)
        t0 = clock()
        out = make_batch(*args, **kw)
        data_s.append(clock() - t0)
        return out

    def timed_precompute(*args, **kw):
        t0 = clock()
        out = precompute(*args, **kw)
        prep["s"] = clock() - t0
        prep["n"] = len(out)
        return out

    def on_progress(p) -> None:
        stamps.append(clock())
        if p.step == p.total:
            steps_peak.update(_peaks(a.device))

    loop.make_batch, api.precompute = timed_batch, timed_precompute
    out = Path(tempfile.mkdtemp(prefix="t2i_bench_ours_"))
    try:
        single = folder / "model.safetensors"
        model = single if single.exists() else folder / "diffusers"  # no single file of a model too large to write
        cfg = TrainConfig(base_model=str(model), data=a.data, output=str(out / "run"),
                          resolution=a.size, steps=a.steps + 1, batch_size=a.batch, checkpoint_every=0,
                          mixed_precision="bf16" if a.precision == "bf16" else "no", cpu=a.device == "cpu",
                          tokenizer=str(folder / "diffusers" / "tokenizer"), gradient_checkpointing=a.ckpt)
        train(cfg, progress_callback=on_progress, log=lambda s: None)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    steps = [b - a_ for a_, b in zip(stamps, stamps[1:])]  # stamps after each step: step 1 (warm-up) not counted
    return {"step_s": steps, "data_s": data_s[1:], "unet_s": [s - d for s, d in zip(steps, data_s[1:])],
            "prep_s_per_image": prep["s"] / prep["n"], "steps": steps_peak, "whole": _peaks(a.device),
            "steps_start_mib": prep["start_mib"]}


def _their_text(arch: str, folder: Path, captions: list[str], device, dtype, size: int):
    """Prompt embeddings once before training, as their script's ``compute_embeddings`` (text encoders kept)."""
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    encoders = [CLIPTextModel.from_pretrained(folder / "text_encoder")]
    tokenizers = [CLIPTokenizer.from_pretrained(folder / "tokenizer")]
    if arch == "sdxl":
        encoders.append(CLIPTextModelWithProjection.from_pretrained(folder / "text_encoder_2"))
        tokenizers.append(CLIPTokenizer.from_pretrained(folder / "tokenizer_2", pad_token="!"))
    for te in encoders:
        te.requires_grad_(False)
        te.to(device, dtype=dtype)
    embeds, pooled = [], None
    with torch.no_grad():
        for te, tok in zip(encoders, tokenizers):
            ids = tok(captions, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
            out = te(ids.to(device), output_hidden_states=True)
            embeds.append(out.hidden_states[-2] if arch == "sdxl" else out.last_hidden_state)
            if arch == "sdxl" and te is encoders[-1]:  # the pooled, projected bigG embedding
                pooled = out.text_embeds
    prompt = torch.cat(embeds, dim=-1)
    added = None
    if arch == "sdxl":
        ids = torch.tensor([[size, size, 0, 0, size, size]] * len(captions), device=device, dtype=prompt.dtype)
        added = {"text_embeds": pooled, "time_ids": ids}
    return encoders, prompt, added


def worker_theirs(a) -> dict:
    from accelerate import Accelerator
    from diffusers import EulerDiscreteScheduler, T2IAdapter, UNet2DConditionModel
    from PIL import Image

    clock = _clock(a.device)
    folder = Path(a.models) / "diffusers"
    acc = Accelerator(mixed_precision=a.precision if a.precision == "bf16" else "no", cpu=a.device == "cpu")
    device = acc.device
    weight_dtype = torch.bfloat16 if a.precision == "bf16" else torch.float32
    vae = _autoencoder_kl().from_pretrained(folder / "vae")
    unet = UNet2DConditionModel.from_pretrained(folder / "unet")
    scheduler = EulerDiscreteScheduler.from_pretrained(folder / "scheduler")
    sdxl = a.arch == "sdxl"
    adapter = T2IAdapter(in_channels=3, channels=_adapter_channels(a.arch, a.tiny), num_res_blocks=2,
                         downscale_factor=16 if sdxl else 8, adapter_type="full_adapter_xl" if sdxl else "full_adapter")
    vae.requires_grad_(False)
    adapter.train()
    unet.train()
    if a.side == "theirs-frozen":
        unet.requires_grad_(False)
    if a.ckpt:
        unet.enable_gradient_checkpointing()
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=1e-5, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
    adapter, optimizer = acc.prepare(adapter, optimizer)
    vae.to(device, dtype=torch.float32)
    unet.to(device, dtype=weight_dtype)
    data = Path(a.data)
    names = sorted(p.stem for p in (data / "images").glob("*.png"))
    captions = [(data / "images" / f"{n}.txt").read_text() for n in names]
    _, prompt, added = _their_text(a.arch, folder, captions, device, weight_dtype, a.size)

    def tensor(path: Path) -> torch.Tensor:
        return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), np.float32) / 255).permute(2, 0, 1)

    pixels = torch.stack([tensor(data / "images" / f"{n}.png") * 2 - 1 for n in names])
    conds = torch.stack([tensor(data / "conditions" / f"{n}.png") for n in names])
    sigmas_all = scheduler.sigmas.to(device)
    schedule_t = scheduler.timesteps.to(device)
    step_s, data_s = [], []
    _reset_peak(a.device)
    for s in range(a.steps + 1):
        rows = [(s * a.batch + i) % len(names) for i in range(a.batch)]
        t0 = clock()
        with acc.accumulate(adapter):
            latents = vae.encode(pixels[rows].to(device)).latent_dist.sample() * vae.config.scaling_factor
            latents = latents.to(weight_dtype)
            t1 = clock()
            noise = torch.randn_like(latents)
            bsz = latents.shape[0]
            timesteps = torch.rand((bsz,), device=device)
            timesteps = ((1 - timesteps**3) * scheduler.config.num_train_timesteps).long()
            timesteps = timesteps.to(scheduler.timesteps.dtype).clamp(0, scheduler.config.num_train_timesteps - 1)
            noisy = scheduler.add_noise(latents, noise, timesteps)
            idx = [(schedule_t == t).nonzero().item() for t in timesteps]
            sigmas = sigmas_all[idx].flatten().to(noisy.dtype).view(-1, 1, 1, 1)
            inp = noisy / ((sigmas**2 + 1) ** 0.5)
            residuals = [r.to(dtype=weight_dtype) for r in adapter(conds[rows].to(device, dtype=weight_dtype))]
            kw = {"added_cond_kwargs": {k: v[rows] for k, v in added.items()}} if added else {}
            pred = unet(inp, timesteps, encoder_hidden_states=prompt[rows],
                        down_intrablock_additional_residuals=residuals, return_dict=False, **kw)[0]
            denoised = pred * (-sigmas) + noisy
            loss = torch.mean((sigmas.float() ** -2.0 * (denoised.float() - latents.float()) ** 2).reshape(bsz, -1),
                              dim=1).mean()
            acc.backward(loss)
            if acc.sync_gradients:
                acc.clip_grad_norm_(adapter.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=False)  # their default (--set_grads_to_none off)
        t2 = clock()
        step_s.append(t2 - t0)
        data_s.append(t1 - t0)
    steps_peak = _peaks(a.device)
    return {"step_s": step_s[1:], "data_s": data_s[1:], "unet_s": [s - d for s, d in zip(step_s[1:], data_s[1:])],
            "steps": steps_peak, "whole": _peaks(a.device)}


# --------------------------------------------------------------------------------------------------------------
def _run(side: str, a, size: int, batch: int, models: Path, data: Path) -> dict:
    cmd = [sys.executable, "-m", "bench.bench_train_vs_diffusers", "--worker", side, "--arch", a.arch_now,
           "--size", str(size), "--batch", str(batch), "--steps", str(a.steps), "--precision", a.precision,
           "--device", a.device, "--threads", str(a.threads), "--models", str(models), "--data", str(data)]
    cmd += ["--tiny"] if a.tiny else []
    cmd += ["--ckpt"] if a.ckpt else []
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1])
    if proc.returncode:
        raise SystemExit(f"{side} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ratio(theirs: list[float], ours: list[float]) -> str:
    """Their median / our median with the interval from both sides' 97.5 % intervals (≥ 95 % jointly)."""
    t_lo, t_hi = median_interval(theirs, 0.975)
    o_lo, o_hi = median_interval(ours, 0.975)
    return f"×{statistics.median(theirs) / statistics.median(ours):.2f} [{t_lo / o_hi:.2f}, {t_hi / o_lo:.2f}]"


def _med(xs: list[float]) -> str:
    lo, hi = median_interval(xs)
    return f"{statistics.median(xs):.2f} [{lo:.2f}, {hi:.2f}]"


def bench(a) -> None:
    root = Path(a.models_root).resolve()  # the workers run from the repository root
    clock = "wall time, synchronised" if a.device == "cuda" else f"process CPU time, {a.threads} torch thread(s)"
    print(f"ours (t2i_train) vs theirs ({SCRIPT}); {a.precision}, {a.device} ({clock}); {a.rounds} interleaved "
          f"rounds × {a.steps} timed steps; medians [95 % interval]; ratios >1: ours faster / smaller"
          + ("; gradient checkpointing on both sides" if a.ckpt else "") + ("; TINY models" if a.tiny else ""))
    for arch in a.arch:
        a.arch_now = arch
        t0 = time.perf_counter()
        models, _ = make_models(root, arch, a.tiny)
        models = models.parent
        print(f"\n### {arch}{' (tiny)' if a.tiny else ''} (models ready in {time.perf_counter() - t0:.0f} s)\n")
        print("| size | batch | side | s/step | data part s | UNet step s | steps peak MiB | whole-process peak "
              "MiB |" + (" VRAM peak MiB |" if a.device == "cuda" else ""))
        print("|---|---|---|---|---|---|---|---|" + ("---|" if a.device == "cuda" else ""))
        summary = []
        for size in a.size:
            for batch in a.batch:
                data = make_data(root, size, max(4, 2 * batch))
                runs = {s: [] for s in a.sides}
                for r in range(a.rounds):
                    order = list(a.sides) if r % 2 == 0 else list(reversed(a.sides))
                    for side in order:
                        runs[side].append(_run(side, a, size, batch, models, data))
                pooled = {s: {k: [x for run in v for x in run[k]] for k in ("step_s", "data_s", "unet_s")}
                          for s, v in runs.items()}
                mem = {s: {k: statistics.median(run[k]["peak_mib"] for run in v) for k in ("steps", "whole")}
                       for s, v in runs.items()}
                for s in a.sides:
                    vram = ""
                    if a.device == "cuda":
                        vram = f" {statistics.median(run['steps']['vram_peak_mib'] for run in runs[s]):.0f} |"
                    print(f"| {size}² | {batch} | {s} | {_med(pooled[s]['step_s'])} | "
                          f"{statistics.median(pooled[s]['data_s']):.3f} | {_med(pooled[s]['unet_s'])} | "
                          f"{mem[s]['steps']:.0f} | {mem[s]['whole']:.0f} |{vram}")
                prep = statistics.median(run["prep_s_per_image"] for run in runs["ours"])
                line = []
                if "theirs" in runs:
                    line.append(f"throughput ours/theirs {_ratio(pooled['theirs']['step_s'], pooled['ours']['step_s'])}"
                                f"; UNet step only {_ratio(pooled['theirs']['unet_s'], pooled['ours']['unet_s'])}")
                if "theirs-frozen" in runs:
                    line.append(f"vs their UNet frozen: whole step "
                                f"{_ratio(pooled['theirs-frozen']['step_s'], pooled['ours']['step_s'])}, UNet step "
                                f"{_ratio(pooled['theirs-frozen']['unet_s'], pooled['ours']['unet_s'])}")
                for s in (side for side in ("theirs", "theirs-frozen") if side in runs):
                    line.append(f"peak memory ours/{s}: steps ×{mem['ours']['steps'] / mem[s]['steps']:.2f}, "
                                f"whole process ×{mem['ours']['whole'] / mem[s]['whole']:.2f}")
                    if a.device == "cuda":
                        v = {k: statistics.median(run["steps"]["vram_peak_mib"] for run in runs[k]) for k in runs}
                        line.append(f"VRAM ours/{s} ×{v['ours'] / v[s]:.2f}")
                start = statistics.median(run["steps_start_mib"] for run in runs["ours"])
                line.append(f"our steps add {mem['ours']['steps'] - start:.0f} MiB (adapter gradients, AdamW moments, "
                            f"activations) to the {start:.0f} MiB held as they start")
                line.append(f"our one-off precompute {prep:.2f} s per image (theirs pays its VAE encode every step)")
                summary.append(f"{arch} {size}² batch {batch}: " + "; ".join(line))
        print()
        for s in summary:
            print("- " + s)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", nargs="+", choices=["sd15", "sdxl"], default=["sd15"])
    p.add_argument("--size", nargs="+", type=int, default=[256])
    p.add_argument("--batch", nargs="+", type=int, default=[1, 2])
    p.add_argument("--steps", type=int, default=3, help="timed steps per process (one more is the warm-up)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads per worker on the CPU")
    p.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    p.add_argument("--ckpt", action="store_true", help="gradient checkpointing on both sides")
    p.add_argument("--tiny", action="store_true", help="small models of the same layouts (checks the script)")
    p.add_argument("--gpu", action="store_true", help="the GPU grid: cuda, bf16, 512² and 1024², batch 1 and 4")
    p.add_argument("--models-root", default="/tmp/t2i_bench_models")
    p.add_argument("--worker", choices=SIDES, help=argparse.SUPPRESS)
    p.add_argument("--models", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.gpu:
        a.device, a.precision = "cuda", "bf16"
        a.size = a.size if a.size != [256] else [512, 1024]
        a.batch = a.batch if a.batch != [1, 2] else [1, 4]
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here.")
    if a.worker:
        a.side = a.worker
        a.arch = a.arch[0]
        a.size, a.batch = a.size[0], a.batch[0]
        if a.device == "cpu":
            torch.set_num_threads(a.threads)
        fn = worker_ours if a.worker == "ours" else worker_theirs
        print(json.dumps(fn(a)))
        return
    if "ours" not in a.sides or not {"theirs", "theirs-frozen"} & set(a.sides):
        raise SystemExit("--sides needs ours and theirs or theirs-frozen (or both).")
    bench(a)


if __name__ == "__main__":
    main()

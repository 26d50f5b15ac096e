"""The stand-in's checkpoints: tiny random UNets built with the WebUI's own LDM ``UNetModel`` code
(``t2i_ext.tiny_unet``), wrapped exactly as the WebUI wraps real checkpoints:

- SD1/SD2 (ldm ``LatentDiffusion``, Stability-AI/stablediffusion ldm/models/diffusion/ddpm.py@cf1d67a):
  ``apply_model(x, t, cond)`` -> ``self.model(x, t, **cond)`` = ``DiffusionWrapper.forward(x, t, c_concat,
  c_crossattn)`` -> ``diffusion_model(x, t, context=cat(c_crossattn, 1))`` for ``conditioning_key='crossattn'``;
- SDXL (sgm ``DiffusionEngine`` as patched by modules/sd_models_xl.py@v1.10.1): ``apply_model(x, t, cond)`` ->
  ``OpenAIWrapper.forward(x, t, c)`` -> ``diffusion_model(x, timesteps=t, context=c['crossattn'],
  y=c['vector'])``; the UNet has SGM's ``label_emb`` (``num_classes='sequential'``: Linear-SiLU-Linear on ``y``).
- model type flags as modules/sd_models.py@v1.10.1 ``set_model_type`` sets them: ``is_sdxl`` when the model has a
  ``conditioner``, ``is_sd2`` when ``cond_stage_model`` has ``.model`` (OpenCLIP), else ``is_sd1``.

The text encoder is a deterministic fake with the WebUI's token-chunk shape rule: 75 tokens per chunk, 77 context
rows per chunk, every prompt of one batch padded to the batch's largest chunk count (so a prompt over 75 tokens
gives 154 rows and a short negative prompt 77, which makes the CFG denoiser split cond and uncond calls). The VAE is
a fixed 8x average-pool / nearest-upsample pair, so images and latents round-trip in shape and roughly in colour.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import zlib
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from t2i_ext.tiny_unet import SD15, TINY_SD1, TINY_SDXL, build_ldm_unet, randomize_

CHUNK_TOKENS = 75
CHUNK_ROWS = 77
SD1_CONTEXT = TINY_SD1.context_dim  # 32
SD2_SPEC = dataclasses.replace(TINY_SD1, name="sd2", context_dim=48, linear_transformer=True)
SDXL_ADM = 64


def tokenize(prompt: str) -> list[str]:
    return re.findall(r"\w+|[^\w\s]", prompt.lower())


class FakeTextEncoder(nn.Module):
    """Prompts -> ``[B, 77 * chunks, D]``: word embeddings from a fixed table (crc32 of the word), per-position
    offsets, padding rows for unused slots."""

    def __init__(self, width: int, seed: int, openclip: bool = False):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("table", torch.randn(4096, width, generator=gen) * 0.7)
        self.register_buffer("positions", torch.randn(CHUNK_ROWS, width, generator=gen) * 0.1)
        self.register_buffer("pad", torch.randn(width, generator=gen) * 0.3)
        self.width = width
        if openclip:
            self.model = nn.Identity()  # what set_model_type looks for on SD2 (OpenCLIP)

    def chunks(self, prompt: str) -> int:
        return max(1, math.ceil(len(tokenize(prompt)) / CHUNK_TOKENS))

    def encode_one(self, prompt: str, chunks: int) -> torch.Tensor:
        ids = [zlib.crc32(w.encode()) % self.table.shape[0] for w in tokenize(prompt)]
        rows = []
        for c in range(chunks):
            part = ids[c * CHUNK_TOKENS : (c + 1) * CHUNK_TOKENS]
            vecs = [self.pad] + [self.table[i] for i in part] + [self.pad] * (CHUNK_ROWS - 1 - len(part))
            rows.append(torch.stack(vecs) + self.positions)
        return torch.cat(rows)

    def forward(self, prompts: list[str]) -> torch.Tensor:
        chunks = max(self.chunks(p) for p in prompts)
        return torch.stack([self.encode_one(p, chunks) for p in prompts])


class FakeVAE(nn.Module):
    """Image ``[B, 3, H, W]`` in [-1, 1] <-> latent ``[B, 4, H/8, W/8]`` (RGB + luma, pooled)."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(x, 8)
        return torch.cat([pooled, pooled.mean(1, keepdim=True)], dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return F.interpolate(z[:, :3], scale_factor=8, mode="nearest")


class DiffusionWrapper(nn.Module):
    """ldm ddpm.py ``DiffusionWrapper``: routes the cond dict to the UNet by ``conditioning_key``."""

    def __init__(self, diffusion_model: nn.Module, conditioning_key: str = "crossattn"):
        super().__init__()
        self.diffusion_model = diffusion_model
        self.conditioning_key = conditioning_key

    def forward(self, x, t, c_concat: list | None = None, c_crossattn: list | None = None, c_adm=None):
        if self.conditioning_key == "crossattn":
            return self.diffusion_model(x, t, context=torch.cat(c_crossattn, 1))
        if self.conditioning_key == "hybrid":
            return self.diffusion_model(torch.cat([x] + c_concat, dim=1), t, context=torch.cat(c_crossattn, 1))
        raise NotImplementedError(self.conditioning_key)


class OpenAIWrapper(nn.Module):
    """sgm modules/diffusionmodules/wrappers.py ``OpenAIWrapper``."""

    def __init__(self, diffusion_model: nn.Module):
        super().__init__()
        self.diffusion_model = diffusion_model
        self.conditioning_key = "crossattn"  # sd_models_xl.extend_sdxl

    def forward(self, x, t, c: dict, **kwargs):
        x = torch.cat((x, c.get("concat", torch.Tensor([]).type_as(x))), dim=1)
        return self.diffusion_model(x, timesteps=t, context=c.get("crossattn", None), y=c.get("vector", None), **kwargs)


def sd_alphas_cumprod() -> torch.Tensor:
    betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, dim=0).float()


class _Base(nn.Module):
    is_sd1 = is_sd2 = is_sdxl = is_sd3 = is_ssd = False
    latent_channels = 4
    parameterization = "eps"
    cond_stage_key = "txt"
    lowvram = False

    def __init__(self, name: str):
        super().__init__()
        self.register_buffer("alphas_cumprod", sd_alphas_cumprod())
        self.first_stage_model = FakeVAE()
        self.sd_checkpoint_info = SimpleNamespace(
            name=f"{name}.safetensors",
            name_for_extra=name,
            model_name=name,
            title=f"{name}.safetensors [0123abcd]",
            filename=f"/models/Stable-diffusion/{name}.safetensors",
            hash="0123abcd",
            shorthash="0123abcd",
        )
        self.sd_model_hash = "0123abcd"
        self.sd_model_checkpoint = self.sd_checkpoint_info.filename
        from modules import sd_models  # list_models registers each checkpoint under its title and names

        for alias in ("title", "name", "name_for_extra"):
            sd_models.checkpoint_aliases[getattr(self.sd_checkpoint_info, alias)] = self.sd_checkpoint_info
        loaded = sd_models.loaded_sd_models  # the newest model of a checkpoint replaces an older session's
        loaded[:] = [m for m in loaded if m.sd_checkpoint_info.filename != self.sd_checkpoint_info.filename] + [self]

    @property
    def dtype(self):
        return next(self.model.parameters()).dtype

    @property
    def device(self):
        return next(self.model.parameters()).device

    @contextlib.contextmanager
    def ema_scope(self, context=None):
        yield

    def decode_first_stage(self, z):
        return self.first_stage_model.decode(z)

    def encode_first_stage(self, x):
        return self.first_stage_model.encode(x)

    def get_first_stage_encoding(self, encoder_posterior):
        return encoder_posterior


class LatentDiffusionStandin(_Base):
    def __init__(self, name: str, spec, seed: int, text_width: int, openclip: bool):
        super().__init__(name)
        self.model = DiffusionWrapper(build_ldm_unet(spec, seed=seed))
        self.cond_stage_model = FakeTextEncoder(text_width, seed + 100, openclip=openclip)
        self.is_sd2 = openclip
        self.is_sd1 = not openclip
        with torch.no_grad():
            self.cond_stage_model_empty_prompt = self.get_learned_conditioning([""])  # sd_models.get_empty_cond

    def get_learned_conditioning(self, c):
        return self.cond_stage_model(list(c))

    def apply_model(self, x_noisy, t, cond, return_ids=False):
        if not isinstance(cond, dict):
            cond = {"c_crossattn": cond if isinstance(cond, list) else [cond]}
        return self.model(x_noisy, t, **cond)


class DiffusionEngineStandin(_Base):
    is_sdxl = True

    def __init__(self, name: str, seed: int):
        super().__init__(name)
        unet = build_ldm_unet(TINY_SDXL, seed=seed)
        ted = TINY_SDXL.model_channels * 4
        unet.num_classes = "sequential"
        unet.label_emb = nn.Sequential(nn.Sequential(nn.Linear(SDXL_ADM, ted), nn.SiLU(), nn.Linear(ted, ted)))
        randomize_(unet.label_emb, seed + 7)
        self.model = OpenAIWrapper(unet.eval().requires_grad_(False))
        self.conditioner = FakeTextEncoder(TINY_SDXL.context_dim, seed + 100)
        self.cond_stage_model = self.conditioner
        with torch.no_grad():
            self.cond_stage_model_empty_prompt = self.get_learned_conditioning([""])["crossattn"]

    def get_learned_conditioning(self, batch):
        """sd_models_xl.get_learned_conditioning: ``{"crossattn": [B, T, D], "vector": [B, adm]}``; an all-empty
        negative prompt gets zero text embeddings (``force_zero_embeddings=['txt']``)."""
        prompts = list(batch)
        crossattn = self.conditioner(prompts)
        pooled = crossattn.mean(1)
        sizes = torch.full((len(prompts), SDXL_ADM - 2 * pooled.shape[1]), 0.5)
        vector = torch.cat([pooled, crossattn[:, -1], sizes], dim=1)
        if getattr(batch, "is_negative_prompt", False) and all(x == "" for x in prompts):
            crossattn = torch.zeros_like(crossattn)
            vector = torch.cat([torch.zeros_like(pooled), torch.zeros_like(pooled), sizes], dim=1)
        return {"crossattn": crossattn, "vector": vector}

    def apply_model(self, x, t, cond):
        if self.model.diffusion_model.in_channels == 9:
            x = torch.cat([x] + cond["c_concat"], dim=1)
        return self.model(x, t, cond)


def make_model(family: str, seed: int = 0) -> nn.Module:
    if family == "sd1":
        return LatentDiffusionStandin("tiny-sd15", TINY_SD1, seed, SD1_CONTEXT, openclip=False).eval()
    if family == "sd15":  # the real SD1.5 UNet architecture (random weights): benchmarks only
        return LatentDiffusionStandin("random-sd15", SD15, seed, SD15.context_dim, openclip=False).eval()
    if family == "sd2":
        return LatentDiffusionStandin("tiny-sd21", SD2_SPEC, seed, SD2_SPEC.context_dim, openclip=True).eval()
    if family == "sdxl":
        return DiffusionEngineStandin("tiny-sdxl", seed).eval()
    raise ValueError(family)

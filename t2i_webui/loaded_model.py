"""The trainer's base model built from the checkpoint the WebUI holds (``shared.sd_model``): no second copy.

Both WebUIs answer the same three legacy calls, so one adaptor serves both; only the UNet and the noise schedule are
reached per host:

- UNet: ``host.current().unet(sd_model)`` — A1111 ``sd_model.model.diffusion_model`` (ldm ``UNetModel``), Forge
  ``sd_model.forge_objects.unet.model.diffusion_model`` (``IntegratedUNet2DConditionModel``, the same block layout;
  its weights are inference tensors, which ``t2i_train.loaded_model.restore`` swaps for the run).
- VAE: ``encode_first_stage`` (A1111 SD1/SD2: ldm's ``DiagonalGaussianDistribution``, whose mean and std we scale by
  ``scale_factor``; A1111 SDXL (sgm) and Forge (backend/diffusion_engine/*.py: ``forge_objects.vae.encode`` then
  ``process_in``): a scaled latent, through ``get_first_stage_encoding``) and ``decode_first_stage``.
- text: ``get_learned_conditioning`` — a tensor (SD1/SD2) or SDXL's ``{"crossattn", "vector"}``; SDXL reads the
  image size from the prompt list (``prompt_parser.SdConditioning``'s ``width``/``height``; Forge: backend/
  diffusion_engine/sdxl.py, A1111: modules/sd_models_xl.py), with the crop from the WebUI's settings, exactly as at
  generation. Forge reaches ``forge_objects.vae``/``.clip`` through these calls (and loads them to the device).
- schedule: A1111 ``sd_model.alphas_cumprod`` and ``parameterization`` (``eps``/``v``); Forge
  ``forge_objects.unet.model.predictor`` (``alphas_cumprod``, ``prediction_type``).
"""

from __future__ import annotations

from typing import Any

import torch
from modules import devices, prompt_parser

from t2i_host import families
from t2i_train.base_model import SD1 as TRAIN_SD1
from t2i_train.base_model import SD2 as TRAIN_SD2
from t2i_train.base_model import SDXL as TRAIN_SDXL
from t2i_train.base_model import BaseModel, Conditioning
from t2i_train.errors import BaseModelError
from t2i_train.loaded_model import base_model_from_parts

from . import host

FAMILIES = {families.SD1: TRAIN_SD1, families.SD2: TRAIN_SD2, families.SDXL: TRAIN_SDXL}
CONTEXT_ROWS = 77  # the trainer's cache holds one 77-token chunk per caption (a longer caption is cut, as in the CLI)


def family_of(sd_model: Any) -> str:
    """``sd1``/``sd2``/``sdxl`` of the loaded checkpoint, or a refusal naming what it is and what to do."""
    if sd_model is None:
        raise BaseModelError("no checkpoint is loaded: choose one at the top of the page first.")
    family = families.checkpoint_family(sd_model)
    if family not in FAMILIES:
        raise BaseModelError(
            f"the loaded checkpoint is a {family} model; T2I-Adapters train on SD1.x, SD2.x or SDXL base checkpoints: "
            "choose one at the top of the page."
        )
    unet = host.current().unet(sd_model)
    first = unet.input_blocks[0][0]
    if getattr(first, "in_channels", 4) != 4:
        raise BaseModelError(
            f"the loaded checkpoint's UNet takes {first.in_channels} input channels (an inpainting or instruct model): "
            "choose the base checkpoint of that family at the top of the page."
        )
    return FAMILIES[family]


def _schedule(sd_model: Any) -> tuple[torch.Tensor, str]:
    forge = getattr(sd_model, "forge_objects", None)
    if forge is not None:
        predictor = forge.unet.model.predictor
        kind = {"epsilon": "epsilon", "eps": "epsilon", "v_prediction": "v", "v": "v"}.get(predictor.prediction_type)
        alphas = predictor.alphas_cumprod
    else:
        kind = {"eps": "epsilon", "v": "v"}.get(getattr(sd_model, "parameterization", "eps"))
        alphas = sd_model.alphas_cumprod
        predictor = sd_model
    if kind is None:
        raise BaseModelError(
            f"the loaded checkpoint predicts {getattr(predictor, 'prediction_type', '?')!r}; "
            "the trainer supports noise (epsilon) and v prediction."
        )
    return torch.as_tensor(alphas).detach(), kind


def from_webui(sd_model: Any) -> BaseModel:
    """The trainer's :class:`BaseModel` over ``sd_model``'s own modules (checked with :func:`family_of` first)."""
    family = family_of(sd_model)
    unet = host.current().unet(sd_model)
    alphas, prediction = _schedule(sd_model)

    def encode_image(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        posterior = sd_model.encode_first_stage(images.to(devices.device, devices.dtype_vae))
        if not isinstance(posterior, torch.Tensor):  # ldm's DiagonalGaussianDistribution (A1111 SD1/SD2)
            scale = float(sd_model.scale_factor)
            return posterior.mean * scale, posterior.std * scale
        latent = sd_model.get_first_stage_encoding(posterior)
        return latent, torch.zeros_like(latent)

    def decode_latents(latents: torch.Tensor) -> torch.Tensor:
        return sd_model.decode_first_stage(latents.to(devices.device, devices.dtype_vae))

    def encode_text(prompts: list[str], sizes: list[tuple[int, ...]] | None) -> Conditioning:
        h, w = (sizes[0][4], sizes[0][5]) if sizes else (None, None)  # target size (one prompt at a time)
        with devices.autocast():
            c = sd_model.get_learned_conditioning(prompt_parser.SdConditioning(prompts, width=w, height=h))
        if isinstance(c, dict):
            return Conditioning(c["crossattn"][:, :CONTEXT_ROWS], c["vector"])
        return Conditioning(c[:, :CONTEXT_ROWS])

    info = getattr(sd_model, "sd_checkpoint_info", None)
    source = f"loaded checkpoint {getattr(info, 'title', None) or getattr(info, 'filename', '?')}"
    return base_model_from_parts(family, unet, encode_image, decode_latents, encode_text, alphas, prediction, source)


def unet_precision(sd_model: Any) -> str:
    """The mixed precision a run on the loaded UNet uses: its own dtype (fp32: none), so its weights are never
    cast — a cast to a narrower type would not round-trip, and the next generation would differ."""
    dtype = next(host.current().unet(sd_model).parameters()).dtype
    return {torch.float16: "fp16", torch.bfloat16: "bf16"}.get(dtype, "no")

"""Tiny diffusers folders (random weights, diffusers' own classes) and training folders for the trainer tests."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from t2i_train.tokenizer import find_tokenizer_folder


def write_pairs(root: Path, n: int, size: tuple[int, int] = (64, 64), seed: int = 0) -> Path:
    """``n`` random images with same-stem binary condition maps and captions."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "conditions").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = (rng.random((*size, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(root / "images" / f"{i:03d}.png")
        Image.fromarray(((img.mean(2) > 127) * 255).astype(np.uint8)).save(root / "conditions" / f"{i:03d}.png")
        (root / "images" / f"{i:03d}.txt").write_text(f"picture {i}")
    return root


def diffusers_autoencoder_kl():
    """diffusers' ``AutoencoderKL`` class. Its package ``__init__`` also imports an autoencoder that needs a newer
    transformers than the WebUI's 4.30, so the package is stood in by a bare one with the same path."""
    import importlib
    import sys
    import types

    import diffusers.models

    name = "diffusers.models.autoencoders"
    if name not in sys.modules:
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(Path(diffusers.models.__file__).parent / "autoencoders")]
        sys.modules[name] = pkg
    return importlib.import_module(name + ".autoencoder_kl").AutoencoderKL


def diffusers_folder(folder: Path, family: str, tokenizer_cache: Path) -> dict:
    """A StableDiffusion(XL)Pipeline folder of tiny random diffusers/transformers models; returns the models."""
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(0)
    folder.mkdir(parents=True)
    sdxl = family == "sdxl"
    if sdxl:
        unet = UNet2DConditionModel(
            sample_size=8, block_out_channels=(64, 128, 128), layers_per_block=2, cross_attention_dim=128,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(1, 2, 2), transformer_layers_per_block=(1, 1, 2), use_linear_projection=True,
            addition_embed_type="text_time", addition_time_embed_dim=256, projection_class_embeddings_input_dim=1600,
        )
    elif family == "sd2":  # linear projections, heads per level with a constant width (32 here, 64 in SD2)
        unet = UNet2DConditionModel(
            sample_size=8, block_out_channels=(32, 64, 128, 128), layers_per_block=2, cross_attention_dim=64,
            attention_head_dim=(1, 2, 4, 4), use_linear_projection=True,
        )
    else:
        unet = UNet2DConditionModel(
            sample_size=8, block_out_channels=(32, 64, 128, 128), layers_per_block=2, cross_attention_dim=64,
            attention_head_dim=8,
        )
    with torch.no_grad():  # diffusers zero-initialises output layers: randomise so every path shows
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    vae = diffusers_autoencoder_kl()(block_out_channels=(32, 32, 64, 64), layers_per_block=1, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                        norm_num_groups=32, scaling_factor=0.13025 if sdxl else 0.18215)
    cfg = dict(vocab_size=49408, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=1,
               max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
    te = CLIPTextModel(CLIPTextConfig(hidden_act="gelu" if family == "sd2" else "quick_gelu", **cfg)).eval()
    unet.save_pretrained(folder / "unet")
    vae.save_pretrained(folder / "vae")
    te.save_pretrained(folder / "text_encoder")
    tok = find_tokenizer_folder(None, tokenizer_cache)
    subs = ["tokenizer"]
    models = {"unet": unet.eval(), "vae": vae.eval(), "text_encoder": te}
    if sdxl:
        te2 = CLIPTextModelWithProjection(CLIPTextConfig(hidden_act="gelu", projection_dim=64, **cfg)).eval()
        te2.save_pretrained(folder / "text_encoder_2")
        models["text_encoder_2"] = te2
        subs.append("tokenizer_2")
    for sub in subs:
        (folder / sub).mkdir()
        for name in ("vocab.json", "merges.txt"):
            shutil.copy(tok / name, folder / sub / name)
    (folder / "scheduler").mkdir()
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(
        {"_class_name": "EulerDiscreteScheduler", "beta_start": 0.00085, "beta_end": 0.012,
         "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
         "prediction_type": "v_prediction" if family == "sd2" else "epsilon"}))
    (folder / "model_index.json").write_text(json.dumps(
        {"_class_name": "StableDiffusionXLPipeline" if sdxl else "StableDiffusionPipeline"}))
    return models

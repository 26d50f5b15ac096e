"""Tiny random base models written as AUTOMATIC1111-style single files, for tests, benchmarks and dry runs.

Same key layouts as real SD1/SD2/SDXL checkpoints (``model.diffusion_model.*`` from the ``ldm`` UNet,
``first_stage_model.*``, ``cond_stage_model.*`` / ``conditioner.embedders.*``), small widths, random weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from . import keymaps
from .base_model import SD1, SD2, SDXL


def _clip(hidden: int, act: str, projection: int | None, seed: int) -> nn.Module:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    cfg = CLIPTextConfig(
        vocab_size=49408, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
        num_attention_heads=max(1, hidden // 64), max_position_embeddings=77, hidden_act=act,
        projection_dim=projection or hidden, bos_token_id=49406, eos_token_id=49407, pad_token_id=1,
    )
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg).eval()


def tiny_vae(seed: int = 0) -> nn.Module:
    from ldm.modules.diffusionmodules.model import Decoder, Encoder

    torch.manual_seed(seed)
    dd = dict(double_z=True, z_channels=4, resolution=64, in_channels=3, out_ch=3, ch=32, ch_mult=(1, 1, 2, 2),
              num_res_blocks=1, attn_resolutions=[], dropout=0.0)
    vae = nn.Module()
    vae.encoder, vae.decoder = Encoder(**dd), Decoder(**dd)
    vae.quant_conv, vae.post_quant_conv = nn.Conv2d(8, 8, 1), nn.Conv2d(4, 4, 1)
    return vae


def tiny_unet(family: str, seed: int = 0) -> nn.Module:
    """A tiny ``ldm`` UNet with the family's layout and head rule (SD1: 8 heads; SD2/SDXL: 64 channels a head)."""
    from ldm.modules.diffusionmodules.openaimodel import UNetModel

    from t2i_ext.tiny_unet import randomize_

    torch.manual_seed(seed)
    if family == SD1:
        unet = UNetModel(image_size=32, in_channels=4, out_channels=4, model_channels=32, num_res_blocks=2,
                         attention_resolutions=[1, 2, 4], channel_mult=(1, 2, 4, 4), num_heads=8,
                         use_spatial_transformer=True, transformer_depth=1, context_dim=64, legacy=False)
    elif family == SD2:
        unet = UNetModel(image_size=32, in_channels=4, out_channels=4, model_channels=64, num_res_blocks=2,
                         attention_resolutions=[1, 2, 4], channel_mult=(1, 1, 2, 2), num_head_channels=64,
                         use_spatial_transformer=True, transformer_depth=1, context_dim=64,
                         use_linear_in_transformer=True, legacy=False)
    else:
        import copy

        unet = UNetModel(image_size=32, in_channels=4, out_channels=4, model_channels=64, num_res_blocks=2,
                         attention_resolutions=[2, 4], channel_mult=(1, 2, 2), num_head_channels=64,
                         use_spatial_transformer=True, transformer_depth=1, context_dim=128,
                         use_linear_in_transformer=True, legacy=False, num_classes="continuous")
        unet.label_emb = nn.Sequential(nn.Sequential(nn.Linear(64 + 1536, 256), nn.SiLU(), nn.Linear(256, 256)))
        # depth 2 at the deepest level (input 7-8, middle, output 0-2), as SDXL's deeper layers (keys .0, .1)
        deep = [unet.input_blocks[7], unet.input_blocks[8], unet.middle_block, *unet.output_blocks[:3]]
        for st in (m for block in deep for m in block.modules()):
            if type(st).__name__ == "SpatialTransformer":
                first = st.transformer_blocks[0]
                st.transformer_blocks = nn.ModuleList([first, copy.deepcopy(first)])
    randomize_(unet, seed)
    return unet.eval()


def tiny_checkpoint_state(family: str = SD1, seed: int = 0) -> dict[str, torch.Tensor]:
    """The state dict of a tiny A1111 single-file checkpoint of ``family``."""
    sd = {f"model.diffusion_model.{k}": v for k, v in tiny_unet(family, seed).state_dict().items()}
    sd.update({f"first_stage_model.{k}": v for k, v in tiny_vae(seed).state_dict().items()})
    if family == SD1:
        clip = _clip(64, "quick_gelu", None, seed).state_dict()
        sd.update({f"cond_stage_model.transformer.{k}": v for k, v in clip.items()})
    elif family == SD2:
        clip = _clip(64, "gelu", None, seed).state_dict()
        sd.update({f"cond_stage_model.model.{k}": v for k, v in keymaps.hf_text_to_open_clip(clip).items()})
    else:
        sd.update({f"conditioner.embedders.0.transformer.{k}": v
                   for k, v in _clip(64, "quick_gelu", None, seed).state_dict().items()})
        big_g = _clip(64, "gelu", 64, seed + 1).state_dict()
        sd.update({f"conditioner.embedders.1.model.{k}": v for k, v in keymaps.hf_text_to_open_clip(big_g).items()})
    return {k: v.contiguous() for k, v in sd.items()}


def write_tiny_checkpoint(path: str | os.PathLike, family: str = SD1, seed: int = 0) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    save_file(tiny_checkpoint_state(family, seed), str(path))
    return path


__all__ = ["SD1", "SD2", "SDXL", "tiny_checkpoint_state", "tiny_unet", "tiny_vae", "write_tiny_checkpoint"]

"""CLIP ViT-L/14 vision tower (`openai/clip-vit-large-patch14`), as transformers' `CLIPVisionModel`.

The T2I style adapter consumes this tower's ``last_hidden_state`` (the encoder output before
``post_layernorm``): ``[N, 257, 1024]`` = 1 class token + 16x16 patches of 14 px at 224x224
(TencentARC/T2I-Adapter@SD ``ldm/modules/extra_condition/api.py``).

The configuration is written out here from the published ``config.json`` (``vision_config``) so nothing is
downloaded: 24 layers, width 1024, 16 heads, MLP 4096, patch 14, image 224, ``quick_gelu``, LayerNorm eps 1e-5.
The published weight file is the *full* CLIP checkpoint; its vision half is every key starting with
``vision_model.`` (``vision_model.embeddings.patch_embedding.weight`` [1024, 3, 14, 14],
``vision_model.embeddings.position_embedding.weight`` [257, 1024], ``vision_model.pre_layrnorm.*`` (sic),
``vision_model.encoder.layers.{0..23}.self_attn.{q,k,v,out}_proj.*``, ``...mlp.fc1/fc2.*``,
``...layer_norm1/2.*``, ``vision_model.post_layernorm.*``); ``text_model.*``, ``visual_projection``,
``text_projection`` and ``logit_scale`` are not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

VISION_PREFIX = "vision_model."
POSITION_IDS = "vision_model.embeddings.position_ids"


def clip_vit_large_patch14_config() -> Any:
    """`CLIPVisionConfig` with the published openai/clip-vit-large-patch14 vision hyperparameters."""
    from transformers import CLIPVisionConfig

    return CLIPVisionConfig(
        hidden_size=1024,
        intermediate_size=4096,
        projection_dim=768,
        num_hidden_layers=24,
        num_attention_heads=16,
        num_channels=3,
        image_size=224,
        patch_size=14,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        attention_dropout=0.0,
    )


def build_clip_vision(config: Any = None, *, device: Any = None) -> Any:
    """An (untrained) `CLIPVisionModel`; input ``[N, 3, 224, 224]`` normalised with CLIP mean/std, output
    ``.last_hidden_state`` ``[N, 257, 1024]``. ``device="meta"`` builds it without memory or initialisation
    (to be filled by ``load_state_dict(..., assign=True)``)."""
    import torch
    from transformers import CLIPVisionModel

    with torch.device(device or "cpu"):
        return CLIPVisionModel(config or clip_vit_large_patch14_config()).eval()


def load_clip_vision(path: Path | str) -> Any:
    """Build the tower and strictly load the ``vision_model.*`` half of a full CLIP checkpoint at `path`."""
    import torch

    from annotators.weights import load_state_dict, load_strict

    model = build_clip_vision(device="meta")
    state = load_state_dict(path, keep=lambda k: k.startswith(VISION_PREFIX))
    # A constant arange buffer, not a learned weight: the published file holds it, newer exports omit it, and
    # transformers >= 4.31 (Forge's 4.46) no longer keeps it in the state dict. Match what this model expects.
    positions = torch.arange((model.config.image_size // model.config.patch_size) ** 2 + 1)[None]
    persistent = POSITION_IDS in model.state_dict()
    if not persistent:
        state.pop(POSITION_IDS, None)
    elif POSITION_IDS not in state:
        state[POSITION_IDS] = positions
    load_strict(model, state, f"CLIP ViT-L/14 vision tower from {path}", assign=True)
    if not persistent:  # built on "meta" and outside the state dict, the buffer would stay without data
        model.vision_model.embeddings.register_buffer("position_ids", positions, persistent=False)
    return model.eval()

"""Registry of adapter architectures: each knows how to recognise its state dict and build itself from it.

Hyper-parameters are read from tensor shapes, never from file names, so renamed or converted files load too.
Architectures are tried in order; the first whose ``detect`` matches builds the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .errors import AdapterLoadError
from .keys import StateDict
from .nets import AdapterModel, CoAdapterFuser, FullAdapter, FullAdapterXL, LightAdapter, StyleAdapter

# Published attention blocks use 8 heads; the head count is not visible in any tensor shape.
NUM_HEADS = 8
# Spatial adapters give one feature map per UNet encoder level.
LEVELS = 4


@dataclass(frozen=True)
class Architecture:
    name: str
    detect: Callable[[StateDict], bool]
    build: Callable[[StateDict, dict[str, Any]], AdapterModel]


def _count(sd: StateDict, pattern: str) -> int:
    """Number of distinct indices N in keys matching ``pattern`` (a regex with one ``(\\d+)`` group)."""
    rx = re.compile(pattern)
    return len({m.group(1) for k in sd if (m := rx.match(k))})


def _build_full(sd: StateDict, config: dict[str, Any]) -> AdapterModel:
    cin = sd["conv_in.weight"].shape[1]
    adapter_type = config.get("adapter_type")
    # SD1 and SDXL files share key names: the family shows in conv_in's width (1 or 3 channels × 8² vs × 16²)
    xl = adapter_type == "full_adapter_xl" or (adapter_type is None and cin in (256, 768))
    cls = FullAdapterXL if xl else FullAdapter
    factor = config.get("downscale_factor", cls.default_downscale)
    if cin % factor**2:
        raise AdapterLoadError(
            f"conv_in takes {cin} channels, not a multiple of {factor}² — not a known adapter layout."
        )
    # 4 levels, one per UNet injection point; the residual blocks split evenly between them
    blocks = _count(sd, r"body\.(\d+)\.block1\.weight")
    if blocks == 0 or blocks % LEVELS:
        raise AdapterLoadError(
            f"{blocks} residual blocks cannot be split into {LEVELS} levels — not a known adapter layout."
        )
    per_level = blocks // LEVELS
    channels = [sd[f"body.{level * per_level}.block1.weight"].shape[0] for level in range(LEVELS)]
    return cls(cin // factor**2, channels, per_level, factor)


def _build_light(sd: StateDict, config: dict[str, Any]) -> AdapterModel:
    factor = config.get("downscale_factor", 8)
    levels = _count(sd, r"body\.(\d+)\.out_conv\.weight")
    channels = [sd[f"body.{i}.out_conv.weight"].shape[0] for i in range(levels)]
    per_level = _count(sd, r"body\.0\.body\.(\d+)\.block1\.weight")
    return LightAdapter(sd["body.0.in_conv.weight"].shape[1] // factor**2, channels, per_level, factor)


def _build_style(sd: StateDict, config: dict[str, Any]) -> AdapterModel:
    _, tokens, width = sd["style_embedding"].shape
    layers = _count(sd, r"transformer_layes\.(\d+)\.")
    return StyleAdapter(width, sd["proj"].shape[1], NUM_HEADS, layers, tokens)


def _build_fuser(sd: StateDict, config: dict[str, Any]) -> AdapterModel:
    levels = _count(sd, r"spatial_feat_mapping\.(\d+)\.")
    unet_channels = [sd[f"spatial_feat_mapping.{i}.1.weight"].shape[1] for i in range(levels)]
    layers = _count(sd, r"transformer_layes\.(\d+)\.")
    return CoAdapterFuser(unet_channels, sd["task_embedding"].shape[1], NUM_HEADS, layers)


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("style", lambda sd: "style_embedding" in sd and "proj" in sd, _build_style),
    Architecture("fuser", lambda sd: "task_embedding" in sd and "seq_proj" in sd, _build_fuser),
    Architecture("light", lambda sd: "body.0.in_conv.weight" in sd and "body.0.out_conv.weight" in sd, _build_light),
    Architecture("full", lambda sd: "conv_in.weight" in sd and "body.0.block1.weight" in sd, _build_full),
)


def build_adapter(sd: StateDict, config: dict[str, Any] | None = None) -> AdapterModel:
    """Detect the architecture of ``sd``, build it and load the tensors strictly (dtype as stored)."""
    config = config or {}
    arch = next((a for a in ARCHITECTURES if a.detect(sd)), None)
    if arch is None:
        raise AdapterLoadError(f"not a T2I-Adapter: {describe_foreign(sd)}")
    try:
        with torch.device("meta"):
            model = arch.build(sd, config)
    except (KeyError, IndexError) as e:
        raise AdapterLoadError(f"looks like a {arch.name} adapter but tensor {e} is missing or malformed.") from e
    load_strict(model, sd)
    return model


def load_strict(model: torch.nn.Module, sd: StateDict) -> None:
    """``load_state_dict(strict=True)`` with an error that lists what is missing, unexpected or mis-shaped."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = [
        f"{k} {tuple(sd[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in sorted(set(sd) & set(expected))
        if sd[k].shape != expected[k].shape
    ]
    if missing or unexpected or wrong:

        def show(items: list[str]) -> str:
            return ", ".join(items[:8]) + (f" … and {len(items) - 8} more" if len(items) > 8 else "")

        problems = [
            f"{name} ({len(items)}): {show(items)}"
            for name, items in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong))
            if items
        ]
        raise AdapterLoadError(f"{type(model).__name__} does not match the file — " + "; ".join(problems))
    model.load_state_dict(sd, strict=True, assign=True)


def describe_foreign(sd: StateDict) -> str:
    """What a state dict that is not an adapter looks like, for the error message."""
    keys = list(sd)
    if not keys:
        return "the file holds no tensors."

    def has(*parts: str) -> bool:
        return any(p in k for k in keys for p in parts)

    if has("input_hint_block", "zero_convs", "controlnet_cond_embedding", "control_model."):
        what = "a ControlNet; use it with a ControlNet extension, not as a T2I-Adapter."
    elif has("lora_up", "lora_down", "lora_A", "lora_B", "lora_unet_", "lora_te"):
        what = "a LoRA; put it in the WebUI's models/Lora folder."
    elif has("model.diffusion_model.", "conditioner.embedders", "cond_stage_model."):
        what = "a Stable Diffusion checkpoint; put it in the WebUI's models/Stable-diffusion folder."
    elif has("encoder.down.", "decoder.up.", "post_quant_conv"):
        what = "a VAE; put it in the WebUI's models/VAE folder."
    elif has("string_to_param", "emb_params", "clip_l", "clip_g") and len(keys) <= 4:
        what = "a textual-inversion embedding; put it in the WebUI's embeddings folder."
    elif has("down_blocks.", "mid_block.", "time_embedding."):
        what = "a diffusers UNet or ControlNet, not a T2I-Adapter."
    else:
        what = "an unknown model."
    return f"it looks like {what} (first keys: {', '.join(keys[:3])})"

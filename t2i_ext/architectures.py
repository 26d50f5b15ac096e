"""Registry of adapter architectures: each knows how to recognise its state dict and build itself from it.

Hyper-parameters are read from tensor shapes, never from file names, so renamed or converted files load too.
Architectures are tried in order; the first whose ``detect`` matches builds the network. Detection and the family
(SD1/SDXL) need only names and shapes, so :func:`identify` answers them for :class:`~t2i_ext.sniff.TensorInfo`
stand-ins too (the model store, without loading), by the same rules :func:`build_adapter` uses.

A diffusers ``config.json`` may settle what the tensors leave open (the family of a 64-input ``conv_in``), but a
config value that contradicts the tensors is refused, naming both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .errors import AdapterLoadError, NotAnAdapterError
from .keys import StateDict
from .nets import AdapterModel, CoAdapterFuser, FullAdapter, FullAdapterXL, LightAdapter, StyleAdapter
from .nets.base import SD1, SDXL
from .sniff import show_name

# Published attention blocks use 8 heads; the head count is not visible in any tensor shape.
NUM_HEADS = 8
# Spatial adapters give one feature map per UNet encoder level.
LEVELS = 4
# Weights are real floating point; anything else is a damaged file or not weights.
FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
# diffusers' adapter_type → (kind, family, allowed downscale factors)
DIFFUSERS_TYPES: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "full_adapter": ("full", SD1, (8,)),
    "full_adapter_xl": ("full", SDXL, (16, 8)),
    "light_adapter": ("light", SD1, (8,)),
}

Tensors = Mapping[str, Any]  # name → torch.Tensor or TensorInfo (both have .shape and .dtype)


@dataclass(frozen=True)
class Architecture:
    name: str
    detect: Callable[[Tensors], bool]
    family: Callable[[Tensors, dict[str, Any]], str]  # SD1/SDXL from names, shapes and config; checks the config
    build: Callable[[StateDict, dict[str, Any]], AdapterModel]


@dataclass(frozen=True)
class Identity:
    """What a state dict is, told from names and shapes alone."""

    kind: str  # full, light, style, fuser
    base: str  # SD1 or SDXL


def _count(sd: Tensors, pattern: str) -> int:
    """Number of distinct indices N in keys matching ``pattern`` (a regex with one ``(\\d+)`` group)."""
    rx = re.compile(pattern)
    return len({m.group(1) for k in sd if (m := rx.match(k))})


def _shape(sd: Tensors, key: str, layout: str) -> tuple[int, ...]:
    """``sd[key]``'s shape, which must have as many dimensions as ``layout`` (e.g. ``"[1, tokens, width]"``)."""
    if key not in sd:
        raise AdapterLoadError(f"tensor {key} is missing; an adapter of this kind has one shaped {layout}.")
    shape = tuple(sd[key].shape)
    if len(shape) != layout.count(",") + 1 or 0 in shape:
        raise AdapterLoadError(f"tensor {key} has shape {shape}; expected {layout} — not a known adapter layout.")
    return shape


def _config_int(config: dict[str, Any], key: str) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise AdapterLoadError(f"config.json: {key} is {show_name(value)!r}, not a whole number; fix config.json.")
    return value


def _config_type(config: dict[str, Any], kind: str, tensors_say: str) -> tuple[str, tuple[int, ...]] | None:
    """(family, allowed downscale factors) from config.json's ``adapter_type``; None when it has none."""
    adapter_type = config.get("adapter_type")
    if adapter_type is None:
        return None
    if adapter_type not in DIFFUSERS_TYPES:
        raise AdapterLoadError(
            f"config.json says adapter_type {show_name(adapter_type)!r}, which is not a diffusers adapter type "
            f"({', '.join(DIFFUSERS_TYPES)}), but the tensors are {tensors_say}: fix or remove config.json."
        )
    type_kind, family, factors = DIFFUSERS_TYPES[adapter_type]
    if type_kind != kind:
        raise AdapterLoadError(
            f"config.json says adapter_type {adapter_type!r} (a {type_kind} adapter), but the tensors are "
            f"{tensors_say}: fix or remove config.json."
        )
    return family, factors


def _input_layout(sd: Tensors, config: dict[str, Any], kind: str, key: str, default: dict[str, int]) -> tuple:
    """(family, in_channels, downscale factor) of a spatial adapter from its first conv's inputs and the config.

    The input conv sees ``in_channels × factor²`` channels (PixelUnshuffle): 64/192 inputs are a 1/3-channel SD1
    adapter (× 8²), 256/768 an SDXL one (× 16²). ``default`` maps a family to its factor.
    """
    cin = _shape(sd, key, "[out, channels × factor², kh, kw]")[1]
    tensor_family = {64: SD1, 192: SD1, 256: SDXL, 768: SDXL}.get(cin)
    seen = f"{cin} inputs" + (
        f" (an {tensor_family} adapter's: {cin // default[tensor_family] ** 2} channels × {default[tensor_family]}²)"
        if tensor_family in default
        else ""
    )
    tensors_say = f"a {kind} adapter whose {key} takes {seen}"
    from_type = _config_type(config, kind, tensors_say)
    family = from_type[0] if from_type else tensor_family if tensor_family in default else SD1
    allowed = from_type[1] if from_type else (default[family],)
    factor = _config_int(config, "downscale_factor")
    if factor is None:
        factor = default[family]
    elif factor not in allowed:
        raise AdapterLoadError(
            f"config.json says downscale_factor {factor}, but an {family} {kind} adapter unshuffles by "
            f"{' or '.join(map(str, allowed))} and the tensors are {tensors_say}: fix config.json."
        )
    if cin % factor**2:
        raise AdapterLoadError(f"{key} takes {cin} channels, not a multiple of {factor}² — not a known adapter layout.")
    in_channels = cin // factor**2
    stated = _config_int(config, "in_channels")
    if stated is not None and stated != in_channels:
        raise AdapterLoadError(
            f"config.json says in_channels {stated} (downscale_factor {factor}: {key} would take "
            f"{stated * factor**2} inputs), but the tensors are {tensors_say}: fix config.json."
        )
    if stated is None and from_type and tensor_family and family != tensor_family and in_channels not in (1, 3):
        raise AdapterLoadError(
            f"config.json makes this a {family} adapter with {in_channels} input channels, but the tensors are "
            f"{tensors_say}: fix config.json."
        )
    return family, in_channels, factor


def _full_layout(sd: Tensors, config: dict[str, Any]) -> tuple[str, int, int]:
    return _input_layout(sd, config, "full", "conv_in.weight", {SD1: 8, SDXL: 16})


def _light_layout(sd: Tensors, config: dict[str, Any]) -> tuple[str, int, int]:
    return _input_layout(sd, config, "light", "body.0.in_conv.weight", {SD1: 8})


def _check_config(config: dict[str, Any], found: dict[str, Any]) -> None:
    """Config values diffusers writes (``channels``, ``num_res_blocks``) must say what the tensors say."""
    for key, value in found.items():
        stated = config.get(key)
        if stated is not None and stated != value:
            raise AdapterLoadError(
                f"config.json says {key} {show_name(stated)}, but the tensors have {value}: fix config.json."
            )


def _build_full(sd: StateDict, config: dict[str, Any]) -> AdapterModel:
    family, in_channels, factor = _full_layout(sd, config)
    # 4 levels, one per UNet injection point; the residual blocks split evenly between them
    blocks = _count(sd, r"body\.(\d+)\.block1\.weight")
    if blocks == 0 or blocks % LEVELS:
        raise AdapterLoadError(
            f"{blocks} residual blocks cannot be split into {LEVELS} levels — not a known adapter layout."
        )
    per_level = blocks // LEVELS
    channels = [_shape(sd, f"body.{level * per_level}.block1.weight", "[c, c, 3, 3]")[0] for level in range(LEVELS)]
    _check_config(config, {"channels": channels, "num_res_blocks": per_level})
    cls = FullAdapterXL if family == SDXL else FullAdapter
    return cls(in_channels, channels, per_level, factor)


def _build_light(sd: StateDict, config: dict[str, Any]) -> AdapterModel:
    _, in_channels, factor = _light_layout(sd, config)
    levels = _count(sd, r"body\.(\d+)\.out_conv\.weight")
    channels = [_shape(sd, f"body.{i}.out_conv.weight", "[c, c/4, 1, 1]")[0] for i in range(levels)]
    per_level = _count(sd, r"body\.0\.body\.(\d+)\.block1\.weight")
    # diffusers' light config lists 3 widths and repeats the last
    _check_config(config, {"channels": channels[:-1], "num_res_blocks": per_level})
    return LightAdapter(in_channels, channels, per_level, factor)


def _build_style(sd: StateDict, config: dict[str, Any]) -> AdapterModel:
    _, tokens, width = _shape(sd, "style_embedding", "[1, tokens, width]")
    context = _shape(sd, "proj", "[width, context width]")[1]
    layers = _count(sd, r"transformer_layes\.(\d+)\.")
    return StyleAdapter(width, context, NUM_HEADS, layers, tokens)


def _build_fuser(sd: StateDict, config: dict[str, Any]) -> AdapterModel:
    levels = _count(sd, r"spatial_feat_mapping\.(\d+)\.")
    unet_channels = [_shape(sd, f"spatial_feat_mapping.{i}.1.weight", "[width, channels]")[1] for i in range(levels)]
    layers = _count(sd, r"transformer_layes\.(\d+)\.")
    return CoAdapterFuser(unet_channels, _shape(sd, "task_embedding", "[tasks, width]")[1], NUM_HEADS, layers)


def _sd1_only(kind: str) -> Callable[[Tensors, dict[str, Any]], str]:
    def family(sd: Tensors, config: dict[str, Any]) -> str:
        _config_type(config, kind, f"a {kind} adapter")  # diffusers has no type for it: any adapter_type is wrong
        return SD1

    return family


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture("style", lambda sd: "style_embedding" in sd and "proj" in sd, _sd1_only("style"), _build_style),
    Architecture("fuser", lambda sd: "task_embedding" in sd and "seq_proj" in sd, _sd1_only("fuser"), _build_fuser),
    Architecture(
        "light",
        lambda sd: "body.0.in_conv.weight" in sd and "body.0.out_conv.weight" in sd,
        lambda sd, config: _light_layout(sd, config)[0],
        _build_light,
    ),
    Architecture(
        "full",
        lambda sd: "conv_in.weight" in sd and "body.0.block1.weight" in sd,
        lambda sd, config: _full_layout(sd, config)[0],
        _build_full,
    ),
)


def _detect(sd: Tensors, config: dict[str, Any]) -> tuple[Architecture, str]:
    arch = next((a for a in ARCHITECTURES if a.detect(sd)), None)
    if arch is None:
        raise NotAnAdapterError(f"not a T2I-Adapter: {describe_foreign(sd)}")
    for key, value in sd.items():
        if value.dtype not in FLOAT_DTYPES:
            what = "complex" if value.dtype.is_complex else "not floating point"
            raise AdapterLoadError(
                f"looks like a {arch.name} adapter, but tensor {show_name(key)} is {what} "
                f"({str(value.dtype).removeprefix('torch.')}); adapter weights are real float16/bfloat16/float32: "
                "the file is damaged or not an adapter."
            )
    return arch, arch.family(sd, config)


def identify(sd: Tensors, config: dict[str, Any] | None = None) -> Identity:
    """Kind and family of ``sd`` (tensors or :class:`~t2i_ext.sniff.TensorInfo`) without building the network.

    Raises :class:`~t2i_ext.errors.NotAnAdapterError` for another kind of model (saying which),
    :class:`~t2i_ext.errors.AdapterLoadError` for a broken adapter or a contradicting config.
    """
    arch, family = _detect(sd, config or {})
    return Identity(arch.name, family)


def build_adapter(sd: StateDict, config: dict[str, Any] | None = None) -> AdapterModel:
    """Detect the architecture of ``sd``, build it and load the tensors strictly (dtype as stored)."""
    config = config or {}
    arch, _ = _detect(sd, config)
    try:
        with torch.device("meta"):
            model = arch.build(sd, config)
    except (KeyError, IndexError, ValueError, RuntimeError, TypeError, OverflowError) as e:
        if isinstance(e, AdapterLoadError):
            raise
        raise AdapterLoadError(
            f"looks like a {arch.name} adapter, but its tensor shapes do not form one (not a known adapter layout)."
        ) from None
    load_strict(model, sd)
    check_finite(sd)
    model.load_state_dict(sd, strict=True, assign=True)
    return model


def check_finite(sd: StateDict) -> None:
    """Refuse NaN and infinite weights: they turn every image black, far from where the file is to blame."""
    for key, value in sd.items():
        if not bool(torch.isfinite(value).all()):
            raise AdapterLoadError(
                f"tensor {show_name(key)} holds NaN or infinite values: the file is damaged (or the training that "
                "wrote it diverged). Download it again."
            )


def load_strict(model: torch.nn.Module, sd: Tensors) -> None:
    """Refuse ``sd`` unless it matches ``model`` exactly; the error lists what is missing, unexpected, mis-shaped."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(sd))
    unexpected = sorted(set(sd) - set(expected))
    wrong = [
        f"{k} {tuple(sd[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in sorted(set(sd) & set(expected))
        if tuple(sd[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or wrong:

        def show(items: list[str]) -> str:
            shown = [show_name(item, 120) for item in items[:8]]
            return ", ".join(shown) + (f" … and {len(items) - 8} more" if len(items) > 8 else "")

        problems = [
            f"{name} ({len(items)}): {show(items)}"
            for name, items in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong))
            if items
        ]
        raise AdapterLoadError(f"{type(model).__name__} does not match the file — " + "; ".join(problems))


def describe_foreign(sd: Tensors) -> str:
    """What a state dict that is not an adapter looks like, for the error message."""
    keys = list(sd)
    if not keys:
        return "the file holds no tensors."
    what = foreign_kind(sd) or "an unknown model."
    return f"it looks like {what} (first keys: {', '.join(show_name(k) for k in keys[:3])})"


def foreign_kind(sd: Tensors) -> str | None:
    """Which other kind of model ``sd`` is, and where it goes ("a LoRA; put it in ..."); None when unknown."""
    keys = list(sd)

    def has(*parts: str) -> bool:
        return any(p in k for k in keys for p in parts)

    if has("input_hint_block", "zero_convs", "controlnet_cond_embedding", "control_model."):
        return "a ControlNet; use it with a ControlNet extension, not as a T2I-Adapter."
    if has("lora_up", "lora_down", "lora_A", "lora_B", "lora_unet_", "lora_te"):
        return "a LoRA; put it in the WebUI's models/Lora folder."
    if has("model.diffusion_model.", "conditioner.embedders", "cond_stage_model."):
        return "a Stable Diffusion checkpoint; put it in the WebUI's models/Stable-diffusion folder."
    if has("encoder.down.", "decoder.up.", "post_quant_conv"):
        return "a VAE; put it in the WebUI's models/VAE folder."
    if has("string_to_param", "emb_params", "clip_l", "clip_g") and len(keys) <= 4:
        return "a textual-inversion embedding; put it in the WebUI's embeddings folder."
    if has("down_blocks.", "mid_block.", "time_embedding."):
        return "a diffusers UNet or ControlNet, not a T2I-Adapter."
    return None


def model_kind(sd: Tensors) -> str | None:
    """What ``sd`` is when a slot wanted another kind of file: a T2I-Adapter (told by :func:`identify`) or one of
    :func:`foreign_kind`'s models, with where it goes; None when it is none of them."""
    try:
        found = identify(sd)
    except AdapterLoadError:
        return foreign_kind(sd)
    return f"a T2I-Adapter ({found.kind}, {found.base}); put it in the WebUI's models/T2I-Adapter folder."

"""Base models as users have them → an LDM-layout UNet, a VAE and text encoder(s), frozen.

Accepted: an AUTOMATIC1111-style single file (``.safetensors``/``.ckpt``) for SD1.x, SD2.x (epsilon or v: say
which, the file does not tell) and SDXL base, and a diffusers folder (SD1/SD2/SDXL). The UNet is always the ``ldm``
package's ``UNetModel`` with the checkpoint's own key layout, which is what ``t2i_ext.inject`` hooks at inference;
a diffusers UNet is renamed into that layout (``keymaps``). Hyper-parameters are read from tensor shapes, so no
YAML config is needed; heads follow each family's fixed rule (SD1: 8 heads; SD2/SDXL: 64 channels per head).
Everything unknown (SDXL refiner, inpainting, SD3, Flux, a LoRA, a VAE alone) is refused before any work.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn

from . import keymaps
from .errors import BaseModelError
from .tokenizer import PAD_EOS, PAD_OPEN_CLIP, clip_tokenizer, find_tokenizer_folder

SD1, SD2, SDXL = "sd1", "sd2", "sdxl"
#: adapter family (t2i_ext) of each base family: SD2 takes SD1-layout adapters
ADAPTER_BASE = {SD1: "SD1", SD2: "SD1", SDXL: "SDXL"}
SCALE_FACTOR = {SD1: 0.18215, SD2: 0.18215, SDXL: 0.13025}
StateDict = dict[str, torch.Tensor]


@dataclass
class Conditioning:
    """Text conditioning of a batch: ``context`` ``[B, 77(·k), D]`` and, for SDXL, ``y`` ``[B, 2816]``
    (pooled bigG text embedding followed by the six 256-wide size/crop embeddings)."""

    context: torch.Tensor
    y: torch.Tensor | None = None


@dataclass
class BaseModel:
    """A loaded base model, frozen (``requires_grad_(False)``) and in eval mode."""

    family: str
    unet: nn.Module
    vae: LatentVAE
    text: TextEncoders
    prediction: str  # "epsilon" or "v"
    alphas_cumprod: torch.Tensor  # [T] float64
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def adapter_base(self) -> str:
        return ADAPTER_BASE[self.family]

    @property
    def size_multiple(self) -> int:
        return 16 if self.family == SDXL else 8


# --------------------------------------------------------------------------------------------------------------
# UNet
def context_depth(unet: nn.Module) -> int:
    """Most transformer blocks in one LDM ``SpatialTransformer``: it gives block i ``context[i]``, so deeper SDXL
    layers get a list of that many references to the same context (no copy)."""
    depths = [len(m.transformer_blocks) for m in unet.modules() if type(m).__name__ == "SpatialTransformer"]
    return max(depths, default=1)


def call_unet(unet: nn.Module, x: torch.Tensor, t: torch.Tensor, cond: Conditioning, depth: int = 1) -> torch.Tensor:
    """The UNet's own forward with the conditioning in LDM's calling convention."""
    context = cond.context if depth <= 1 else [cond.context] * depth
    if cond.y is not None:
        return unet(x, t, context=context, y=cond.y)
    return unet(x, t, context=context)


def _blocks(sd: StateDict, prefix: str) -> list[int]:
    return sorted({int(m.group(1)) for k in sd if (m := re.match(rf"{prefix}\.(\d+)\.", k))})


def unet_config(sd: StateDict, family: str, heads: dict | None = None) -> dict:
    """``ldm`` ``UNetModel`` arguments read from an LDM-layout UNet state dict (no ``model.diffusion_model.``)."""
    if "input_blocks.0.0.weight" not in sd:
        raise BaseModelError("the checkpoint has no LDM UNet (model.diffusion_model.input_blocks.*).")
    w = sd["input_blocks.0.0.weight"]
    mc, in_ch = w.shape[0], w.shape[1]
    inputs = _blocks(sd, "input_blocks")
    downs = [i for i in inputs if f"input_blocks.{i}.0.op.weight" in sd]
    levels = len(downs) + 1
    nrb = (len(inputs) - 1 - len(downs)) // levels
    mult, attn = [], []
    for level in range(levels):
        first = 1 + level * (nrb + 1)
        mult.append(sd[f"input_blocks.{first}.0.out_layers.3.weight"].shape[0] // mc)
        if f"input_blocks.{first}.1.proj_in.weight" in sd:
            attn.append(2**level)
    to_k = next(v for k, v in sd.items() if k.endswith("attn2.to_k.weight"))
    proj_in = next(v for k, v in sd.items() if k.endswith(".proj_in.weight"))
    cfg = dict(
        image_size=32,
        in_channels=in_ch,
        out_channels=sd["out.2.weight"].shape[0],
        model_channels=mc,
        num_res_blocks=nrb,
        attention_resolutions=attn,
        channel_mult=tuple(mult),
        use_spatial_transformer=True,
        transformer_depth=1,
        context_dim=to_k.shape[1],
        use_linear_in_transformer=proj_in.ndim == 2,
        legacy=False,
    )
    cfg.update(heads or ({"num_heads": 8} if family == SD1 else {"num_head_channels": 64}))
    if "label_emb.0.0.weight" in sd:
        cfg["num_classes"] = "continuous"  # replaced by SGM's Sequential label embedding after construction
        cfg["adm_in_channels"] = sd["label_emb.0.0.weight"].shape[1]
    return cfg


def build_unet(sd: StateDict, family: str, dtype: torch.dtype = torch.float32, heads: dict | None = None) -> nn.Module:
    """The ``ldm`` ``UNetModel`` for ``sd`` (LDM keys), loaded strictly; built on the meta device, so the weights
    are allocated once. SDXL's ADM label embedding is SGM's ``Sequential(Sequential(Linear, SiLU, Linear))``
    (same keys, same computation) swapped in for ldm's one-layer version; forward is untouched."""
    try:
        from ldm.modules.diffusionmodules.openaimodel import UNetModel
    except ImportError as e:
        raise BaseModelError(
            "the LDM UNet code is missing: `pip install --no-deps stable-diffusion-sdkit==2.1.5` (the WebUI has it)"
        ) from e
    cfg = unet_config(sd, family, heads)
    adm = cfg.pop("adm_in_channels", None)
    with torch.device("meta"):
        unet = UNetModel(**cfg)
        if adm is not None:
            ted = cfg["model_channels"] * 4
            unet.label_emb = nn.Sequential(nn.Sequential(nn.Linear(adm, ted), nn.SiLU(), nn.Linear(ted, ted)))
        for name, module in unet.named_modules():
            if type(module).__name__ == "SpatialTransformer":
                depth = len(_blocks(sd, re.escape(f"{name}.transformer_blocks")))
                if depth > 1:
                    first = module.transformer_blocks[0]
                    import copy

                    copies = [copy.deepcopy(first) for _ in range(depth - 1)]
                    module.transformer_blocks = nn.ModuleList([first, *copies])
    _load_strict(unet, sd, "UNet")
    return unet.to(dtype).eval().requires_grad_(False)


def _load_strict(module: nn.Module, sd: StateDict, what: str) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    if missing or unexpected:
        raise BaseModelError(
            f"the checkpoint's {what} does not match its inferred architecture: {len(missing)} missing "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]})."
        )
    bad = [k for k in own if own[k].shape != sd[k].shape]
    if bad:
        raise BaseModelError(f"the checkpoint's {what} has unexpected shapes, e.g. {bad[:3]}.")
    module.load_state_dict(sd, strict=True, assign=True)


# --------------------------------------------------------------------------------------------------------------
# VAE
class LatentVAE(nn.Module):
    """LDM ``AutoencoderKL`` without its training parts: ``encoder``, ``decoder``, ``quant_conv``,
    ``post_quant_conv`` (the ``first_stage_model.*`` keys). Latents are scaled by ``scale_factor``."""

    def __init__(self, ddconfig: dict, embed_dim: int, scale_factor: float) -> None:
        super().__init__()
        from ldm.modules.diffusionmodules.model import Decoder, Encoder

        self.encoder = Encoder(**ddconfig)
        self.decoder = Decoder(**ddconfig)
        self.quant_conv = nn.Conv2d(2 * ddconfig["z_channels"], 2 * embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, ddconfig["z_channels"], 1)
        self.scale_factor = scale_factor

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``[B, 3, H, W]`` in [-1, 1] → scaled latent mean and std ``[B, 4, H/8, W/8]`` (a sample is
        ``mean + std·ε``, drawn fresh at every training step as diffusers' script does)."""
        moments = self.quant_conv(self.encoder(images.to(self.quant_conv.weight)))
        mean, logvar = moments.float().chunk(2, dim=1)
        std = torch.exp(0.5 * logvar.clamp(-30.0, 20.0))
        return mean * self.scale_factor, std * self.scale_factor

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents ``[B, 4, h, w]`` → images ``[B, 3, 8h, 8w]`` in [-1, 1]."""
        z = self.post_quant_conv((latents / self.scale_factor).to(self.post_quant_conv.weight))
        return self.decoder(z).float().clamp(-1, 1)


def build_vae(sd: StateDict, family: str, scale_factor: float | None = None) -> LatentVAE:
    """A :class:`LatentVAE` for ``sd`` (``first_stage_model.*`` keys without the prefix), config from shapes."""
    if "encoder.conv_in.weight" not in sd:
        raise BaseModelError("the checkpoint has no VAE (first_stage_model.encoder.*).")
    ch = sd["encoder.conv_in.weight"].shape[0]
    downs = _blocks(sd, "encoder.down")
    mult = [sd[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] // ch for i in downs]
    ddconfig = dict(
        double_z=True,
        z_channels=sd["encoder.conv_out.weight"].shape[0] // 2,
        resolution=256,
        in_channels=sd["encoder.conv_in.weight"].shape[1],
        out_ch=sd["decoder.conv_out.weight"].shape[0],
        ch=ch,
        ch_mult=mult,
        num_res_blocks=len(_blocks(sd, "encoder.down.0.block")),
        attn_resolutions=[],
        dropout=0.0,
    )
    vae = LatentVAE(ddconfig, sd["quant_conv.weight"].shape[0] // 2, scale_factor or SCALE_FACTOR[family])
    _load_strict(vae, {k: v.float() for k, v in sd.items()}, "VAE")
    return vae.float().eval().requires_grad_(False)


# --------------------------------------------------------------------------------------------------------------
# text encoders
@dataclass
class TextTower:
    """One CLIP text model with its tokenizer and how its output is used."""

    model: nn.Module  # transformers CLIPTextModel or CLIPTextModelWithProjection
    tokenizer: object
    layer: str  # "last" (SD1), "penultimate+ln" (SD2), "penultimate" (SDXL)
    pooled: bool = False  # SDXL bigG: also return the projected pooled embedding


class TextEncoders:
    """Prompts → :class:`Conditioning`; SDXL adds the size/crop embeddings to the pooled text (``y``)."""

    def __init__(self, towers: list[TextTower], family: str) -> None:
        self.towers = towers
        self.family = family

    def to(self, device: torch.device | str) -> TextEncoders:
        for tower in self.towers:
            tower.model.to(device)
        return self

    @torch.no_grad()
    def encode(
        self, prompts: list[str], sizes: list[tuple[int, int, int, int, int, int]] | None = None
    ) -> Conditioning:
        """``sizes`` (SDXL): per prompt (original h, w, crop top, left, target h, w), as SDXL was trained."""
        contexts, pooled = [], None
        for tower in self.towers:
            device = next(tower.model.parameters()).device
            ids = tower.tokenizer(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
            out = tower.model(ids.input_ids.to(device), output_hidden_states=True)
            if tower.layer == "last":
                hidden = out.last_hidden_state
            elif tower.layer == "penultimate+ln":
                hidden = tower.model.text_model.final_layer_norm(out.hidden_states[-2])
            else:
                hidden = out.hidden_states[-2]
            contexts.append(hidden.float())
            if tower.pooled:
                pooled = out.text_embeds.float()
        cond = Conditioning(torch.cat(contexts, dim=-1))
        if self.family == SDXL:
            if sizes is None:
                raise ValueError("SDXL text conditioning needs sizes (original, crop, target) per prompt")
            cond.y = torch.cat([pooled, size_embedding(torch.tensor(sizes, dtype=torch.float32)).to(pooled)], dim=1)
        return cond


def size_embedding(sizes: torch.Tensor, dim: int = 256) -> torch.Tensor:
    """SDXL's micro-conditioning: ``[B, 6]`` sizes → ``[B, 6·256]`` sinusoidal embeddings (cos, sin), as SGM's
    ``ConcatTimestepEmbedderND``."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    args = sizes.reshape(-1, 1).float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return emb.reshape(sizes.shape[0], -1)


def _clip_config(sd: StateDict, act: str, projection: bool):
    from transformers import CLIPTextConfig

    hidden = sd["text_model.embeddings.token_embedding.weight"].shape[1]
    layers = len(_blocks(sd, r"text_model\.encoder\.layers"))
    proj = sd["text_projection.weight"].shape[0] if projection else hidden
    return CLIPTextConfig(
        vocab_size=sd["text_model.embeddings.token_embedding.weight"].shape[0],
        hidden_size=hidden,
        intermediate_size=sd["text_model.encoder.layers.0.mlp.fc1.weight"].shape[0],
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),  # CLIP-L 12, ViT-H 16, bigG 20: always 64 channels per head
        max_position_embeddings=sd["text_model.embeddings.position_embedding.weight"].shape[0],
        hidden_act=act,
        projection_dim=proj,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=1,
    )


def _clip_model(sd: StateDict, act: str, projection: bool) -> nn.Module:
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    sd = {k: v.float() for k, v in sd.items() if not k.endswith("position_ids")}
    cls = CLIPTextModelWithProjection if projection else CLIPTextModel
    with torch.device("meta"):
        model = cls(_clip_config(sd, act, projection))
    own = model.state_dict()
    sd.update({k: v for k, v in own.items() if k.endswith("position_ids") and k not in sd})
    if "text_model.embeddings.position_ids" in own:
        n = sd["text_model.embeddings.position_embedding.weight"].shape[0]
        sd["text_model.embeddings.position_ids"] = torch.arange(n).unsqueeze(0)
    _load_strict(model, sd, "text encoder")
    embeddings = model.text_model.embeddings
    if embeddings.position_ids.is_meta:  # transformers >= 4.31 (Forge's 4.46): a buffer outside the state dict
        n = embeddings.position_embedding.weight.shape[0]
        embeddings.register_buffer("position_ids", torch.arange(n).unsqueeze(0), persistent=False)
    return model.eval().requires_grad_(False)


# --------------------------------------------------------------------------------------------------------------
# single files
def read_checkpoint(path: Path) -> StateDict:
    """Tensors of an A1111 checkpoint, by content (a renamed file is read as what it is), through the adapter
    core's bounded reader: header and pickle checked before any tensor is read, pickles never run."""
    if not path.exists():
        raise BaseModelError(f"base model {path} does not exist.")
    if path.suffix not in (".safetensors", ".ckpt", ".pt", ".pth", ".bin"):
        raise BaseModelError(f"{path.name}: expected a .safetensors or .ckpt single file, or a diffusers folder.")
    obj = _read_tensors(path)
    return obj.get("state_dict", obj) if isinstance(obj.get("state_dict"), dict) else obj


def _read_tensors(path: Path) -> StateDict:
    from t2i_ext.errors import AdapterLoadError, UnsafePickleError
    from t2i_ext.formats import read_file
    from t2i_ext.sniff import container, error_reason, open_regular

    try:
        with open_regular(path) as f:
            if container(f, path.name) == "safetensors":
                return _read_safetensors(f, path.name)
        return read_file(path, load=True)[0]
    except UnsafePickleError as e:
        raise BaseModelError(
            f"{path.name}: its pickle tries to run code ({e.target}); refused, nothing in it was run. Use a "
            ".safetensors copy of the model."
        ) from None
    except AdapterLoadError as e:
        raise BaseModelError(f"{path.name} could not be read: {error_reason(path, e)}") from None


def _read_safetensors(f: BinaryIO, name: str) -> StateDict:
    """Every tensor of a safetensors file in its own memory, read in file order with plain reads.

    safetensors' own loader maps the whole file and hands out views of that one mapping: the UNet alone then keeps
    the whole checkpoint resident (VAE and text encoders too, ~0.8 GiB for SD1.5 in fp32), even after those are
    freed. The header is checked first (every tensor's bytes inside the file and fitting its shape)."""
    from t2i_ext.errors import AdapterLoadError
    from t2i_ext.sniff import SAFETENSORS_DTYPES, safetensors_header

    safetensors_header(f, name, strict=True)
    f.seek(0)
    (n,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    out = {}
    for key, entry in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = entry["data_offsets"]
        buf = torch.empty(end - begin, dtype=torch.uint8)
        f.seek(8 + n + begin)
        if f.readinto(memoryview(buf.numpy())) != end - begin:
            raise AdapterLoadError(f"{name}: the safetensors file is truncated or corrupt. Download it again.")
        out[key] = buf.view(SAFETENSORS_DTYPES[entry["dtype"]]).reshape(entry["shape"])
    return out


def detect_family(sd: StateDict, name: str = "this file") -> str:
    """``sd1``/``sd2``/``sdxl`` from the text encoder keys, or a refusal naming file ``name`` and what it is."""
    from t2i_ext.architectures import model_kind

    has = lambda prefix: any(k.startswith(prefix) for k in sd)  # noqa: E731
    unet_in = sd.get("model.diffusion_model.input_blocks.0.0.weight")
    if unet_in is None:
        choose = "choose an SD1.x, SD2.x or SDXL base checkpoint (.safetensors/.ckpt) or a diffusers folder."
        if has("model.diffusion_model.joint_blocks") or has("double_blocks."):
            raise BaseModelError(
                f"{name}: SD3/Flux checkpoints are not supported (the adapters target SD1/SD2/SDXL UNets); {choose}"
            )
        # a checkpoint that lost its UNet is no other kind of model: the core would call it a checkpoint
        kind = None if has("model.") or has("cond_stage_model.") or has("conditioner.") else model_kind(sd)
        if kind:
            raise BaseModelError(f"{name} is not a base model: this is {kind} For training, {choose}")
        raise BaseModelError(f"{name}: no Stable Diffusion UNet inside (model.diffusion_model.*); {choose}")
    if unet_in.shape[1] != 4:
        raise BaseModelError(
            f"the UNet takes {unet_in.shape[1]} input channels (inpainting/instruct model): not supported; "
            "use the base checkpoint of that family."
        )
    if has("conditioner.embedders.1.model.") and has("conditioner.embedders.0.transformer."):
        return SDXL
    if has("conditioner.embedders.0.model."):
        raise BaseModelError("SDXL refiner checkpoints are not supported: train against the SDXL base model.")
    if has("cond_stage_model.transformer."):
        return SD1
    if has("cond_stage_model.model."):
        return SD2
    raise BaseModelError("unknown checkpoint: its text encoder matches neither SD1, SD2 nor SDXL.")


def _sub(sd: StateDict, prefix: str) -> StateDict:
    return {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}


def _schedule(
    sd: StateDict | None = None,
    beta_start: float = 0.00085,
    beta_end: float = 0.012,
    steps: int = 1000,
    schedule: str = "scaled_linear",
) -> torch.Tensor:
    if sd is not None and "alphas_cumprod" in sd:
        return sd["alphas_cumprod"].double()
    if schedule == "scaled_linear":
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, steps, dtype=torch.float64) ** 2
    elif schedule == "linear":
        betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    else:
        raise BaseModelError(f"beta schedule {schedule!r} is not supported (scaled_linear, linear).")
    return torch.cumprod(1 - betas, dim=0)


def _load_single_file(
    path: Path, prediction: str, tokenizer_folder: Callable[[], Path], dtype: torch.dtype
) -> BaseModel:
    sd = read_checkpoint(path)
    family = detect_family(sd, path.name)
    if family == SD2 and prediction == "auto":
        raise BaseModelError(
            f"{path.name} is an SD2.x checkpoint, and its file does not say whether it predicts noise (512-base) or "
            "v (768-v): pass --prediction-type epsilon or --prediction-type v."
        )
    prediction = "epsilon" if prediction == "auto" else prediction
    tok = tokenizer_folder()
    if family == SD1:
        towers = [
            TextTower(
                _clip_model(_sub(sd, "cond_stage_model.transformer."), "quick_gelu", False),
                clip_tokenizer(tok, PAD_EOS),
                "last",
            )
        ]
    elif family == SD2:
        hf = keymaps.open_clip_text_to_hf(_sub(sd, "cond_stage_model.model."))
        hf.pop("text_projection.weight", None)
        towers = [TextTower(_clip_model(hf, "gelu", False), clip_tokenizer(tok, PAD_OPEN_CLIP), "penultimate+ln")]
    else:
        big_g = keymaps.open_clip_text_to_hf(_sub(sd, "conditioner.embedders.1.model."))
        towers = [
            TextTower(
                _clip_model(_sub(sd, "conditioner.embedders.0.transformer."), "quick_gelu", False),
                clip_tokenizer(tok, PAD_EOS),
                "penultimate",
            ),
            TextTower(_clip_model(big_g, "gelu", True), clip_tokenizer(tok, PAD_OPEN_CLIP), "penultimate", True),
        ]
    return BaseModel(
        family=family,
        unet=build_unet(_sub(sd, "model.diffusion_model."), family, dtype),
        vae=build_vae(_sub(sd, "first_stage_model."), family),
        text=TextEncoders(towers, family),
        prediction=prediction,
        alphas_cumprod=_schedule(sd),
        source=str(path),
        notes=[f"tokenizer files: {tok}"],
    )


# --------------------------------------------------------------------------------------------------------------
# diffusers folders
def _read_weights(folder: Path, what: str) -> StateDict:
    for index in ("diffusion_pytorch_model.safetensors.index.json", "model.safetensors.index.json",
                  "diffusion_pytorch_model.bin.index.json", "pytorch_model.bin.index.json"):
        if (folder / index).exists():  # a sharded save (``save_pretrained(max_shard_size=...)``)
            return _read_shards(folder, index, what)
    for name in (
        "diffusion_pytorch_model.safetensors",
        "model.safetensors",
        "diffusion_pytorch_model.fp16.safetensors",
        "model.fp16.safetensors",
    ):
        if (folder / name).exists():
            return _read_tensors(folder / name)
    for name in ("diffusion_pytorch_model.bin", "pytorch_model.bin"):
        if (folder / name).exists():
            return _read_tensors(folder / name)
    raise BaseModelError(
        f"the diffusers folder's {what} has no weights ({folder}/diffusion_pytorch_model.safetensors)."
    )


def _read_shards(folder: Path, index: str, what: str) -> StateDict:
    """The tensors of a sharded save: every file its index's ``weight_map`` names, each read once, in order."""
    try:
        files = list(dict.fromkeys(_json(folder / index)["weight_map"].values()))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise BaseModelError(f"the diffusers folder's {what} index {folder / index} is not a shard index ({e}).") \
            from None
    state: StateDict = {}
    for name in files:
        shard = folder / str(name)
        if Path(str(name)).name != str(name) or not shard.is_file():
            raise BaseModelError(f"the diffusers folder's {what} lacks the shard {shard} its index names.")
        state.update(_read_tensors(shard))
    return state


def _json(path: Path) -> dict:
    if not path.exists():
        raise BaseModelError(f"the diffusers folder lacks {path} (needed offline; copy the complete folder).")
    return json.loads(path.read_text())


def _load_diffusers_folder(
    folder: Path, prediction: str, tokenizer_folder: Callable[[], Path], dtype: torch.dtype
) -> BaseModel:
    index = _json(folder / "model_index.json")
    if index.get("_class_name") not in ("StableDiffusionPipeline", "StableDiffusionXLPipeline"):
        raise BaseModelError(
            f"{folder.name} is a {index.get('_class_name')} folder; supported: StableDiffusionPipeline (SD1/SD2) and "
            "StableDiffusionXLPipeline (SDXL base)."
        )
    ucfg = _json(folder / "unet" / "config.json")
    if ucfg.get("in_channels", 4) != 4:
        raise BaseModelError("inpainting/instruct UNets (more than 4 input channels) are not supported.")
    te = _json(folder / "text_encoder" / "config.json")
    # SD2's UNet uses linear transformer projections and 64-channel heads (a list per level); SD1's conv ones
    sd2 = ucfg.get("use_linear_projection", False) or te.get("hidden_size") == 1024
    family = SDXL if (folder / "text_encoder_2").is_dir() else SD2 if sd2 else SD1
    sched = _json(folder / "scheduler" / "scheduler_config.json")
    if prediction == "auto":
        prediction = {"epsilon": "epsilon", "v_prediction": "v"}.get(sched.get("prediction_type", "epsilon"))
        if prediction is None:
            raise BaseModelError(f"prediction type {sched.get('prediction_type')!r} is not supported.")
    heads = ucfg.get("num_attention_heads") or ucfg.get("attention_head_dim", 8)
    if isinstance(heads, int):
        head_rule = {"num_heads": heads}
    else:  # per level: LDM expresses a constant channels-per-head
        per = {c // h for c, h in zip(ucfg["block_out_channels"], heads)}
        if len(per) != 1:
            raise BaseModelError(f"UNet heads {heads} per level have no constant width; not an SD1/SD2/SDXL UNet.")
        head_rule = {"num_head_channels": per.pop()}
    unet_sd = keymaps.diffusers_unet_to_ldm(_read_weights(folder / "unet", "unet"), ucfg.get("layers_per_block", 2))
    vcfg = _json(folder / "vae" / "config.json")
    vae_sd = keymaps.diffusers_vae_to_ldm(_read_weights(folder / "vae", "vae"))

    def tok_folder(sub: str) -> Path:
        own = folder / sub
        return own if (own / "vocab.json").exists() else tokenizer_folder()

    def text_model(sub: str, projection: bool) -> nn.Module:
        cfg = _json(folder / sub / "config.json")
        sd = {k: v for k, v in _read_weights(folder / sub, sub).items()}
        return _clip_model(sd, cfg.get("hidden_act", "quick_gelu"), projection)

    if family == SD1:
        towers = [
            TextTower(text_model("text_encoder", False), clip_tokenizer(tok_folder("tokenizer"), PAD_EOS), "last")
        ]
    elif family == SD2:
        towers = [
            TextTower(
                text_model("text_encoder", False),
                clip_tokenizer(tok_folder("tokenizer"), PAD_OPEN_CLIP),
                "penultimate+ln",
            )
        ]
    else:
        towers = [
            TextTower(
                text_model("text_encoder", False), clip_tokenizer(tok_folder("tokenizer"), PAD_EOS), "penultimate"
            ),
            TextTower(
                text_model("text_encoder_2", True),
                clip_tokenizer(tok_folder("tokenizer_2"), PAD_OPEN_CLIP),
                "penultimate",
                True,
            ),
        ]
    return BaseModel(
        family=family,
        unet=build_unet(unet_sd, family, dtype, head_rule),
        vae=build_vae(vae_sd, family, vcfg.get("scaling_factor")),
        text=TextEncoders(towers, family),
        prediction=prediction,
        alphas_cumprod=_schedule(
            None,
            sched.get("beta_start", 0.00085),
            sched.get("beta_end", 0.012),
            sched.get("num_train_timesteps", 1000),
            sched.get("beta_schedule", "scaled_linear"),
        ),
        source=str(folder),
    )


def load_base_model(
    source: str | os.PathLike,
    prediction: str = "auto",
    tokenizer: str | os.PathLike | None = None,
    dtype: torch.dtype = torch.float32,
    cache: str | os.PathLike | None = None,
) -> BaseModel:
    """Load a base model (single file or diffusers folder), frozen; ``prediction``: ``auto``/``epsilon``/``v``."""
    if prediction not in ("auto", "epsilon", "v"):
        raise BaseModelError(f"prediction type must be auto, epsilon or v, not {prediction!r}.")
    path = Path(source)
    load = _load_diffusers_folder if path.is_dir() else _load_single_file
    return load(path, prediction, lambda: find_tokenizer_folder(tokenizer, cache), dtype)

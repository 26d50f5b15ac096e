"""Key renames between the layouts base models come in and the layouts the trainer builds.

- diffusers ``UNet2DConditionModel`` → LDM/SGM ``UNetModel`` (``input_blocks``/``middle_block``/``output_blocks``),
  so a diffusers folder trains against the same UNet code (and the same injection hooks) as a WebUI checkpoint;
- diffusers ``AutoencoderKL`` → LDM ``Encoder``/``Decoder`` (``first_stage_model.*`` layout);
- open_clip text towers (SD2's ViT-H, SDXL's bigG: ``transformer.resblocks.*``) → transformers ``CLIPTextModel``.

Written as rules rather than taken from diffusers' converters, so the trainer never imports diffusers; the tests
check the rules numerically against diffusers' own models (same outputs from both layouts).
"""

from __future__ import annotations

import re

import torch

StateDict = dict[str, torch.Tensor]

_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}


def _resnet(rest: str, table: dict[str, str]) -> str:
    head, _, tail = rest.partition(".")
    return f"{table.get(head, head)}.{tail}" if tail else table.get(head, head)


def diffusers_unet_to_ldm(sd: StateDict, layers_per_block: int) -> StateDict:
    """diffusers UNet keys → LDM ``UNetModel`` keys (tensors shared, not copied)."""
    lpb = layers_per_block
    up_has_attn = {int(m.group(1)) for k in sd if (m := re.match(r"up_blocks\.(\d+)\.attentions\.", k))}
    fixed = {
        "conv_in.": "input_blocks.0.0.",
        "time_embedding.linear_1.": "time_embed.0.",
        "time_embedding.linear_2.": "time_embed.2.",
        "add_embedding.linear_1.": "label_emb.0.0.",
        "add_embedding.linear_2.": "label_emb.0.2.",
        "conv_norm_out.": "out.0.",
        "conv_out.": "out.2.",
    }
    out: StateDict = {}
    for key, value in sd.items():
        new = None
        for old, repl in fixed.items():
            if key.startswith(old):
                new = repl + key[len(old) :]
        if new is None and (m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key)):
            i, kind, j, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            block = 1 + i * (lpb + 1) + j
            new = f"input_blocks.{block}.0.{_resnet(rest, _UNET_RESNET)}" if kind == "resnets" else (
                f"input_blocks.{block}.1.{rest}"
            )
        elif new is None and (m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key)):
            new = f"input_blocks.{(int(m.group(1)) + 1) * (lpb + 1)}.0.op.{m.group(2)}"
        elif new is None and (m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key)):
            new = f"middle_block.{2 * int(m.group(1))}.{_resnet(m.group(2), _UNET_RESNET)}"
        elif new is None and (m := re.match(r"mid_block\.attentions\.0\.(.*)", key)):
            new = f"middle_block.1.{m.group(1)}"
        elif new is None and (m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key)):
            i, kind, j, rest = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
            block = i * (lpb + 1) + j
            new = f"output_blocks.{block}.0.{_resnet(rest, _UNET_RESNET)}" if kind == "resnets" else (
                f"output_blocks.{block}.1.{rest}"
            )
        elif new is None and (m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key)):
            i = int(m.group(1))
            slot = 2 if i in up_has_attn else 1
            new = f"output_blocks.{i * (lpb + 1) + lpb}.{slot}.conv.{m.group(2)}"
        if new is None:
            raise KeyError(f"diffusers UNet key {key!r} has no LDM counterpart (unsupported UNet variant)")
        out[new] = value
    return out


_VAE_RESNET = {"conv_shortcut": "nin_shortcut"}
_VAE_ATTN = {
    "group_norm": "norm",
    "to_q": "q",
    "query": "q",
    "to_k": "k",
    "key": "k",
    "to_v": "v",
    "value": "v",
    "to_out.0": "proj_out",
    "proj_attn": "proj_out",
}


def diffusers_vae_to_ldm(sd: StateDict) -> StateDict:
    """diffusers ``AutoencoderKL`` keys → LDM ``Encoder``/``Decoder`` keys (attention linears become 1×1 convs)."""
    n_up = 1 + max(int(m.group(1)) for k in sd if (m := re.match(r"decoder\.up_blocks\.(\d+)\.", k)))
    out: StateDict = {}
    for key, value in sd.items():
        new = key
        if m := re.match(r"(encoder|decoder)\.(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            part, way, i, j, rest = m.groups()
            i = int(i) if way == "down" else n_up - 1 - int(i)
            new = f"{part}.{way}.{i}.block.{j}.{_resnet(rest, _VAE_RESNET)}"
        elif m := re.match(r"(encoder|decoder)\.(down|up)_blocks\.(\d+)\.(down|up)samplers\.0\.conv\.(.*)", key):
            part, way, i, _, rest = m.groups()
            i = int(i) if way == "down" else n_up - 1 - int(i)
            new = f"{part}.{way}.{i}.{way}sample.conv.{rest}"
        elif m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key):
            part, j, rest = m.groups()
            new = f"{part}.mid.block_{int(j) + 1}.{_resnet(rest, _VAE_RESNET)}"
        elif m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)\.(weight|bias)$", key):
            part, name, kind = m.groups()
            new = f"{part}.mid.attn_1.{_VAE_ATTN[name]}.{kind}"
            if kind == "weight" and value.ndim == 2:
                value = value[:, :, None, None]
        elif m := re.match(r"(encoder|decoder)\.conv_norm_out\.(.*)", key):
            new = f"{m.group(1)}.norm_out.{m.group(2)}"
        out[new] = value
    return out


# open_clip text tower name → transformers CLIPTextModel name: one table, read one way to load open_clip-layout
# checkpoints and the other way to write them (t2i_train/tiny.py). The text projection is stored transposed, and
# open_clip's fused attention ``in_proj`` is transformers' q/k/v projections stacked.
_OPEN_CLIP_TOP = {
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
}
_OPEN_CLIP_LAYER = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
    "attn.out_proj": "self_attn.out_proj",
}
_QKV = ("q_proj", "k_proj", "v_proj")


def open_clip_text_to_hf(sd: StateDict) -> StateDict:
    """open_clip text tower (``transformer.resblocks.N.*``, ``token_embedding``, ``ln_final``, ``text_projection``)
    → transformers ``CLIPTextModel[WithProjection]`` keys; fused ``in_proj`` attention weights are split in q/k/v."""
    out: StateDict = {hf: sd[oc] for oc, hf in _OPEN_CLIP_TOP.items()}
    if "text_projection" in sd:
        out["text_projection.weight"] = sd["text_projection"].T.contiguous()
    for key, value in sd.items():
        if m := re.match(r"transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)$", key):
            for name, part in zip(_QKV, value.chunk(3, dim=0)):
                out[f"text_model.encoder.layers.{m[1]}.self_attn.{name}.{m[2]}"] = part.contiguous()
        elif m := re.match(r"transformer\.resblocks\.(\d+)\.(.*)\.(weight|bias)$", key):
            out[f"text_model.encoder.layers.{m[1]}.{_OPEN_CLIP_LAYER.get(m[2], m[2])}.{m[3]}"] = value
    return out


def hf_text_to_open_clip(sd: StateDict) -> StateDict:
    """The inverse of :func:`open_clip_text_to_hf` (to write open_clip-layout towers)."""
    out: StateDict = {oc: sd[hf] for oc, hf in _OPEN_CLIP_TOP.items()}
    if "text_projection.weight" in sd:
        out["text_projection"] = sd["text_projection.weight"].T.contiguous()
    to_open_clip = {hf: oc for oc, hf in _OPEN_CLIP_LAYER.items()}
    for key in sd:
        m = re.match(r"text_model\.encoder\.layers\.(\d+)\.(.*)\.(weight|bias)$", key)
        if m and m[2] == "self_attn.q_proj":  # k and v join it
            qkv = [sd[f"text_model.encoder.layers.{m[1]}.self_attn.{name}.{m[3]}"] for name in _QKV]
            out[f"transformer.resblocks.{m[1]}.attn.in_proj_{m[3]}"] = torch.cat(qkv)
        elif m and m[2] not in ("self_attn.k_proj", "self_attn.v_proj"):
            out[f"transformer.resblocks.{m[1]}.{to_open_clip.get(m[2], m[2])}.{m[3]}"] = sd[key]
    return out

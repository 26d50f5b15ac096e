"""Key layouts: diffusers ``T2IAdapter`` names ↔ TencentARC's original names (facts §2.7).

Full (SD1 and SDXL): ``adapter.conv_in`` ↔ ``conv_in``; ``adapter.body.{i}.resnets.{j}`` ↔ ``body.{i·R+j}``;
``adapter.body.{i}.in_conv`` ↔ ``body.{i·R}.in_conv`` (R = residual blocks per level).
Light: ``adapter.body.{i}.resnets.{j}`` ↔ ``body.{i}.body.{j}``; ``in_conv``/``out_conv`` keep their place.
"""

from __future__ import annotations

import re

import torch

StateDict = dict[str, torch.Tensor]

# indices of at most 6 digits: a hostile name's 5,000-digit index must not reach int() (Python refuses it)
_DIFFUSERS_KEY = re.compile(r"^body\.(\d{1,6})\.(resnets\.(\d{1,6})\.)?(.*)$")
_ORIGINAL_FULL_KEY = re.compile(r"^body\.(\d{1,6})\.(.*)$")
_ORIGINAL_LIGHT_KEY = re.compile(r"^body\.(\d{1,6})\.body\.(\d{1,6})\.(.*)$")


def is_diffusers_layout(sd: StateDict) -> bool:
    """True for diffusers names (after the ``adapter.`` prefix was removed)."""
    return any((m := _DIFFUSERS_KEY.match(k)) and m.group(3) is not None for k in sd)


def diffusers_to_original(sd: StateDict) -> StateDict:
    light = any(".out_conv." in k for k in sd)
    if light:
        return {k.replace(".resnets.", ".body."): v for k, v in sd.items()}
    per_level = 1 + max((int(m.group(3)) for k in sd if (m := _DIFFUSERS_KEY.match(k)) and m.group(3)), default=0)
    out = {}
    for key, value in sd.items():
        m = _DIFFUSERS_KEY.match(key)
        if m is None:
            out[key] = value
            continue
        level, rest = int(m.group(1)), m.group(4)
        j = int(m.group(3)) if m.group(3) else 0
        out[f"body.{level * per_level + j}.{rest}"] = value
    return out


def original_to_diffusers(sd: StateDict, kind: str, num_res_blocks: int) -> StateDict:
    """Inverse of :func:`diffusers_to_original`, with the ``adapter.`` prefix diffusers stores."""
    out = {}
    for key, value in sd.items():
        if kind == "light":
            m = _ORIGINAL_LIGHT_KEY.match(key)
            new = f"body.{m.group(1)}.resnets.{m.group(2)}.{m.group(3)}" if m else key
        else:
            m = _ORIGINAL_FULL_KEY.match(key)
            if m:
                level, j = divmod(int(m.group(1)), num_res_blocks)
                rest = m.group(2)
                new = f"body.{level}.{rest}" if rest.startswith("in_conv.") else f"body.{level}.resnets.{j}.{rest}"
            else:
                new = key
        out["adapter." + new] = value
    return out

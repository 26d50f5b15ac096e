"""Attaching an adapter injection to a Forge ``UnetPatcher``, through Forge's own patch options only.

Forge (lllyasviel/stable-diffusion-webui-forge, commit dfdcbab6) gives every job a patcher clone whose
``model_options`` its UNet reads; nothing is written on the shared UNet, so a job can leave nothing behind. We use:

- a **block modifier** (``UnetPatcher.add_block_modifier``): ``backend/nn/unet.py`` calls
  ``modifier(h, "before"|"after", transformer_options)`` around every block, with ``transformer_options["block"]`` =
  ``("input", i)`` / ``("middle", 0)``; the "after" call of an input block comes after ``apply_control`` and before
  ``hs.append(h)``, so a feature added there reaches the skip connection too — exactly where the A1111 hooks add it
  (t2i_ext/injection.py). Chosen over ``add_patched_controlnet`` because a control object on the linked list is
  asked for a *new* control dict every call and its outputs are popped per block in a fixed order shared with Forge's
  own ControlNets; a modifier is independent of them, so both take effect in one job. Chosen over
  ``input_block_patch`` because that patch list comes from ``model_options["transformer_options"]["patches"]``,
  which Forge's per-cond ``patches`` also merge into.
- a **conditioning modifier** (``UnetPatcher.add_conditioning_modifier``) for style tokens:
  ``backend/sampling/sampling_function.py::sampling_function`` passes it the cond and uncond lists before they are
  batched; each entry's ``model_conds["c_crossattn"]`` is one ``Condition`` of all images' text ``[B, 77·k, C]``.
  Conditional entries get the tokens appended, unconditional ones a copy of their own last tokens (the core's rule),
  so every entry keeps one length and Forge can still batch cond with uncond.

The rows of each UNet call are read from ``transformer_options["cond_or_uncond"]`` (``calc_cond_uncond_batch``):
one chunk of the whole image batch per entry, 0 = cond, 1 = uncond. No Forge module is imported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from t2i_ext.injection import BlockId, Injection
from t2i_ext.units import BatchLayout


def call_layout(rows: int, cond_or_uncond: Sequence[int]) -> BatchLayout:
    """Rows of one Forge UNet call: ``len(cond_or_uncond)`` chunks, each the whole batch of images in order."""
    chunks = len(cond_or_uncond)
    if chunks == 0 or rows % chunks:
        raise ValueError(f"a UNet call of {rows} rows cannot hold {chunks} equal chunks")
    batch = rows // chunks
    return BatchLayout(
        images=tuple(range(batch)) * chunks, cond=tuple(flag == 0 for flag in cond_or_uncond for _ in range(batch))
    )


def block_modifier(injection: Injection, blocks: Sequence[BlockId]):
    """A Forge block modifier adding feature level k after block ``blocks[k]``; it also sets each call's layout."""
    level_of = {tuple(block): level for level, block in enumerate(blocks)}

    def modifier(h: torch.Tensor, when: str, transformer_options: dict) -> torch.Tensor:
        block = tuple(transformer_options.get("block", ()))
        if when == "before" and block == ("input", 0):  # a new UNet call: its rows
            injection.layout = call_layout(h.shape[0], transformer_options["cond_or_uncond"])
        if when != "after" or block not in level_of:
            return h
        return injection.add_residual(level_of[block], h)

    return modifier


def conditioning_modifier(injection: Injection):
    """A Forge conditioning modifier appending the active style tokens to the text of each cond entry."""

    def modifier(model, x, timestep, uncond, cond, cond_scale, model_options, seed):
        for entries, is_cond in ((cond, True), (uncond or [], False)):
            for entry in entries:
                text = entry["model_conds"]["c_crossattn"]
                context = text.cond
                injection.layout = BatchLayout(images=range(context.shape[0]), cond=(is_cond,) * context.shape[0])
                extended = injection.extend_context(context)
                if extended is not context:
                    entry["model_conds"] = {**entry["model_conds"], "c_crossattn": type(text)(extended)}
        injection.layout = None  # the block modifier sets each UNet call's own
        return model, x, timestep, uncond, cond, cond_scale, model_options, seed

    return modifier


def attach(unet_patcher: Any, injection: Injection, blocks: Sequence[BlockId]) -> None:
    """Add ``injection`` to ``unet_patcher`` (a clone the job owns) as a block modifier and, for style tokens, a
    conditioning modifier."""
    if blocks:
        unet_patcher.add_block_modifier(block_modifier(injection, blocks))
    if any(unit.tokens is not None for unit in injection.units):
        unet_patcher.add_conditioning_modifier(conditioning_modifier(injection))


def fail_modifier(error: BaseException):
    """A block modifier raising ``error`` at the first block: Forge swallows errors in script hooks, the UNet not."""

    def modifier(h: torch.Tensor, when: str, transformer_options: dict) -> torch.Tensor:
        raise error

    return modifier

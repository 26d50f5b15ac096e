"""Adding adapter outputs to a UNet with module hooks on its own blocks; ``UNet.forward`` is never replaced.

Targets any UNet with the LDM/SGM layout (``input_blocks``, ``middle_block``), as the WebUI runs for SD1, SD2 and
SDXL. Feature level k is added to the output of a block, so the skip connection stored right after it carries the
residual too (facts §3):

- SD1/SD2 layout (4 levels): after the last input block of each level — ids 2, 5, 8, 11;
- SDXL layout (3 levels): after the first Downsample (id 3), after the last block of levels 1 and 2 (ids 5, 8),
  and after the middle block.

Style tokens are appended to the cross-attention context by a forward pre-hook on the UNet. Unconditional rows
are padded with a copy of their own last T tokens, as TencentARC's sampler does: the trailing tokens of a prompt
embedding are padding, so the copy adds no new content, while zero vectors would still take attention mass.

Because only hooks are used, the WebUI's lowvram/medvram hooks, FreeU and other extensions that patch the UNet keep
working, and leaving the ``with`` block — normally, by exception or by KeyboardInterrupt — restores the UNet exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from .errors import InjectionError
from .nets.base import SD1, SDXL
from .units import AdapterUnit, BatchLayout, ControlMode

BlockId = tuple[str, int]  # ("input", index) or ("middle", 0): how Forge's UNet names its blocks too


def injection_blocks(unet: nn.Module, base: str) -> list[BlockId]:
    """The 4 blocks whose outputs receive feature levels 0–3 for an adapter of family ``base``, by id."""
    blocks = getattr(unet, "input_blocks", None)
    middle = getattr(unet, "middle_block", None)
    if blocks is None or middle is None:
        raise InjectionError(
            f"{type(unet).__name__} has no input_blocks/middle_block: not an LDM/SGM UNet. Pass the WebUI's "
            "diffusion model (shared.sd_model.model.diffusion_model)."
        )
    downs = [i for i, block in enumerate(blocks) if _is_downsample(block)]
    levels = len(downs) + 1
    last = ("input", len(blocks) - 1)
    if base == SD1 and levels == 4:
        return [("input", i - 1) for i in downs] + [last]
    if base == SDXL and levels == 3:
        return [("input", downs[0]), ("input", downs[1] - 1), last, ("middle", 0)]
    layout = {4: "SD1/SD2 layout", 3: "SDXL layout"}.get(levels, "unknown layout")
    want = "4 resolution levels (SD1/SD2)" if base == SD1 else "3 resolution levels (SDXL)"
    raise InjectionError(
        f"an {base} adapter needs a UNet with {want}, but this UNet has {levels} levels ({layout}). "
        f"Use an adapter made for the loaded checkpoint's family."
    )


def injection_points(unet: nn.Module, base: str) -> list[nn.Module]:
    """The 4 block modules whose outputs receive feature levels 0–3 for an adapter of family ``base``."""
    return [block_module(unet, block) for block in injection_blocks(unet, base)]


def block_module(unet: nn.Module, block: BlockId) -> nn.Module:
    kind, i = block
    return unet.input_blocks[i] if kind == "input" else unet.middle_block


def _is_downsample(block: nn.Module) -> bool:
    # LDM and SGM wrap each Downsample alone in a TimestepEmbedSequential
    children = list(block.children())
    return len(children) == 1 and type(children[0]).__name__ == "Downsample"


LayoutSource = BatchLayout | Callable[[torch.Tensor, Any], BatchLayout | None] | None


class Injection:
    """Live state of an injection: set ``progress`` (and ``layout``) before each UNet call.

    ``progress`` is the sampling progress ``step / steps`` in [0, 1]. ``layout`` says which rows of the next UNet
    call are which image and whether they are conditional; it may be left ``None`` when every unit is shared by
    all images (batch 1) or has one entry per row, is not "adapter more important", and has no style tokens.
    When the caller can only tell the rows from the call itself (a host that splits CFG batches its own way),
    pass ``layout_fn(x, context) -> BatchLayout``: it is asked before every UNet call.
    """

    def __init__(
        self, units: Sequence[AdapterUnit], layout_fn: Callable[[torch.Tensor, Any], BatchLayout | None] | None = None
    ) -> None:
        self.units = list(units)
        self.progress = 0.0
        self.layout: BatchLayout | None = None
        self.layout_fn = layout_fn
        self._cache: dict[tuple, torch.Tensor | None] = {}
        self._converted: dict[tuple, torch.Tensor] = {}

    # -- feature residuals -------------------------------------------------------------------------------------
    def residual(self, level: int, hidden: torch.Tensor) -> torch.Tensor | None:
        """Sum of the active units' level features, weighted, gathered to ``hidden``'s rows, device and dtype."""
        active = tuple(i for i, u in enumerate(self.units) if u.maps and u.active(self.progress))
        if not active:
            return None
        key = (level, active, self.layout, hidden.shape[0], hidden.device, hidden.dtype)
        if key not in self._cache:  # built once per step pattern: sampling steps reuse it without copies
            self._cache[key] = self._build_residual(level, active, hidden)
        res = self._cache[key]
        if res.shape[1] != hidden.shape[1]:  # the adapter's width, not the image, is wrong: say so
            raise InjectionError(
                f"adapter feature level {level} has {res.shape[1]} channels but this UNet's block has "
                f"{hidden.shape[1]}: the adapter was made for a model of another width; use an adapter made for "
                "the loaded checkpoint."
            )
        if res.shape[1:] != hidden.shape[1:]:
            raise InjectionError(
                f"adapter feature level {level} has shape {tuple(res.shape[1:])} but the UNet block output is "
                f"{tuple(hidden.shape[1:])}: the condition image must have the generation's size (latent × 8)."
            )
        return res

    def add_residual(self, level: int, hidden: torch.Tensor) -> torch.Tensor:
        """``hidden`` plus the active units' level features (``hidden`` itself when none is active)."""
        res = self.residual(level, hidden)
        return hidden if res is None else hidden + res

    def _build_residual(self, level: int, active: tuple[int, ...], hidden: torch.Tensor) -> torch.Tensor:
        rows = hidden.shape[0]
        total = None
        for i in active:
            unit = self.units[i]
            f = self._rows(self._on(unit.maps[level], hidden, ("map", i, level)), unit, rows)
            scale = unit.level_scale(level)
            if scale != 1.0:  # weight 1 (the default) adds the features themselves: no copy is held
                f = f * scale
            if unit.control_mode is ControlMode.ADAPTER:
                f = f * self._cond_mask(rows, hidden)
            total = f if total is None else total + f
        return total

    def _on(self, t: torch.Tensor, like: torch.Tensor, key: tuple) -> torch.Tensor:
        """``t`` on ``like``'s device and dtype, converted once (lowvram may move the UNet between calls)."""
        if t.device == like.device and t.dtype == like.dtype:
            return t
        k = (*key, like.device, like.dtype)
        if k not in self._converted:
            self._converted[k] = t.to(device=like.device, dtype=like.dtype)
        return self._converted[k]

    def _rows(self, t: torch.Tensor, unit: AdapterUnit, rows: int) -> torch.Tensor:
        """Select each UNet row's image from a per-image tensor; batch-1 tensors broadcast as they are."""
        if t.shape[0] == 1:
            return t
        if self.layout is not None:
            self._check_layout(rows)
            if max(self.layout.images) >= t.shape[0]:
                raise InjectionError(
                    f"batch layout refers to image {max(self.layout.images)} but the adapter output has {t.shape[0]}."
                )
            return t[list(self.layout.images)]
        if t.shape[0] == rows:
            return t
        raise InjectionError(
            f"adapter output has {t.shape[0]} images but the UNet was called with {rows} rows: set "
            "injection.layout (BatchLayout) so each row knows its image."
        )

    def _cond_mask(self, rows: int, like: torch.Tensor) -> torch.Tensor:
        if self.layout is None:
            raise InjectionError(
                "'adapter is more important' and style tokens need to know the conditional rows: set injection.layout."
            )
        self._check_layout(rows)
        return torch.tensor(self.layout.cond, device=like.device, dtype=like.dtype).view(-1, *([1] * (like.ndim - 1)))

    def _check_layout(self, rows: int) -> None:
        if len(self.layout) != rows:
            raise InjectionError(f"batch layout describes {len(self.layout)} rows but the UNet was called with {rows}.")

    # -- style tokens ----------------------------------------------------------------------------------------------
    def extend_context(self, context: torch.Tensor) -> torch.Tensor:
        """Append active style tokens to conditional rows; pad unconditional rows with their own last tokens."""
        active = [i for i, u in enumerate(self.units) if u.tokens is not None and u.active(self.progress)]
        if not active:
            return context
        rows = context.shape[0]
        parts = []
        for i in active:
            unit = self.units[i]
            tokens = self._on(unit.tokens, context, ("tokens", i))
            if tokens.shape[-1] != context.shape[-1]:
                raise InjectionError(
                    f"style tokens are {tokens.shape[-1]} wide but the UNet's text context is "
                    f"{context.shape[-1]} wide: the style adapter works with SD1 checkpoints (768) only."
                )
            parts.append(self._rows(tokens, unit, rows) * float(unit.weight))
        style = torch.cat([p.expand(rows, -1, -1) for p in parts], dim=1)
        pad = context[:, -style.shape[1] :]
        if pad.shape[1] < style.shape[1]:  # a context shorter than the tokens: repeat its last token
            pad = context[:, -1:].expand(-1, style.shape[1], -1)
        cond = self._cond_mask(rows, context).bool()
        return torch.cat([context, torch.where(cond, style, pad)], dim=1)


def _check_units(units: Sequence[AdapterUnit]) -> str | None:
    if not all(isinstance(u, AdapterUnit) for u in units):
        raise InjectionError("inject() takes a list of AdapterUnit objects.")
    bases = {u.base for u in units if u.maps}
    if len(bases) > 1:
        raise InjectionError("SD1 and SDXL adapters cannot be mixed in one generation.")
    return bases.pop() if bases else None


def prepare_injection(
    unet: nn.Module, units: Sequence[AdapterUnit], layout: LayoutSource = None
) -> tuple[Injection, list[BlockId]]:
    """Validate ``units`` against ``unet`` and return the injection state with the ids of the blocks each feature
    level is added after — what a host attaches in its own way (module hooks here, Forge's block modifiers)."""
    units = list(units)
    base = _check_units(units)
    blocks = injection_blocks(unet, base) if base else []
    state = Injection(units, layout_fn=layout if callable(layout) else None)
    state.layout = None if callable(layout) else layout
    return state, blocks


@contextmanager
def inject(unet: nn.Module, units: Sequence[AdapterUnit], layout: LayoutSource = None) -> Iterator[Injection]:
    """Inject ``units`` into ``unet`` for the duration of the ``with`` block; yields the :class:`Injection`.

    ``layout`` is a :class:`BatchLayout` for every call, or a function ``(x, context) -> BatchLayout`` asked before
    each UNet call. Everything is validated before the first hook is installed, and every hook is removed on
    exit — also on exceptions and KeyboardInterrupt — so the UNet computes bit-identical outputs afterwards.
    """
    state, blocks = prepare_injection(unet, units, layout)
    handles = []
    try:
        for level, block in enumerate(blocks):
            handles.append(block_module(unet, block).register_forward_hook(_feature_hook(state, level)))
        if state.layout_fn is not None or any(u.tokens is not None for u in state.units):
            handles.append(unet.register_forward_pre_hook(_unet_pre_hook(state), with_kwargs=True))
        yield state
    finally:
        for handle in handles:
            handle.remove()
        state._cache.clear()
        state._converted.clear()


def _feature_hook(state: Injection, level: int):
    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        out = state.add_residual(level, output)
        return None if out is output else out

    return hook


def _unet_pre_hook(state: Injection):
    """Before each UNet call: ask for the call's batch layout, then append style tokens to its context."""

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        positional = "context" not in kwargs and len(args) > 2
        context = args[2] if positional else kwargs.get("context")
        if state.layout_fn is not None:
            state.layout = state.layout_fn(args[0] if args else kwargs.get("x"), context)
        if not any(u.tokens is not None for u in state.units):
            return None
        if not isinstance(context, torch.Tensor):
            raise InjectionError("style tokens need the UNet's text context, but the UNet was called without one.")
        context = state.extend_context(context)
        if positional:
            return (*args[:2], context, *args[3:]), kwargs
        return args, {**kwargs, "context": context}

    return hook

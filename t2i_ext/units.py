"""What to inject: adapter outputs with their weight, step window and control mode, and the batch layout."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import torch

from .errors import InjectionError
from .nets.base import SD1, SDXL


class ControlMode(str, Enum):
    """How an adapter shares control with the prompt (the WebUI's ControlNet vocabulary)."""

    BALANCED = "balanced"  # features × weight on every row, conditional and unconditional
    PROMPT = "prompt"  # "My prompt is more important": per-level soft weights, shallow levels weakest
    ADAPTER = "adapter"  # "Adapter is more important": conditional rows only, so CFG amplifies the adapter


#: per-level factors of ControlMode.PROMPT (sd-webui-controlnet's soft injection, facts §3.5)
PROMPT_LEVEL_SCALES = (0.25, 0.62, 0.825, 1.0)


@dataclass
class AdapterUnit:
    """One adapter's contribution to a generation.

    ``features`` is the adapter's output, computed once: 4 feature maps ``[B, C_l, H_l, W_l]`` from a spatial
    adapter, or style tokens ``[B, T, D]`` from the style adapter (or a CoAdapter fuser's outputs: pass ``tokens``
    too). ``B`` is 1 (shared by every image) or one per image of the job. The unit is active for sampling
    progress ``p = step / steps`` with ``start ≤ p < end`` (``end = 1`` includes the last step).
    ``base`` is the adapter's family (``"SD1"``/``"SDXL"``); inferred from the feature shapes when omitted.
    """

    features: Sequence[torch.Tensor] | torch.Tensor | None = None
    weight: float = 1.0
    start: float = 0.0
    end: float = 1.0
    control_mode: ControlMode | str = ControlMode.BALANCED
    tokens: torch.Tensor | None = None
    base: str | None = None
    maps: tuple[torch.Tensor, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        if isinstance(self.features, torch.Tensor):
            if self.tokens is not None:
                raise InjectionError("AdapterUnit: style tokens given twice (as features= and tokens=).")
            self.tokens, self.features = self.features, None
        self.maps = tuple(self.features or ())
        try:
            self.control_mode = ControlMode(self.control_mode)
        except ValueError:
            raise InjectionError(
                f"AdapterUnit: unknown control_mode {self.control_mode!r}; use one of {[m.value for m in ControlMode]}."
            ) from None
        self.weight = _finite_number("weight", self.weight)
        self.start = _finite_number("start", self.start)
        self.end = _finite_number("end", self.end)
        if not (0.0 <= self.start <= self.end <= 1.0):
            raise InjectionError(f"AdapterUnit: need 0 ≤ start ≤ end ≤ 1, got start={self.start}, end={self.end}.")
        if not self.maps and self.tokens is None:
            raise InjectionError("AdapterUnit: no features: pass the adapter's output as features=.")
        if self.maps:
            if len(self.maps) != 4 or any(f.ndim != 4 for f in self.maps):
                raise InjectionError(
                    f"AdapterUnit: expected 4 feature maps [B, C, H, W], got {[tuple(f.shape) for f in self.maps]}."
                )
            if len({f.shape[0] for f in self.maps}) != 1:
                raise InjectionError("AdapterUnit: the 4 feature maps have different batch sizes.")
            if self.base is None:
                # SDXL adapters keep the size between levels 0 and 1 (and 2 and 3); SD1 adapters halve it.
                self.base = SDXL if self.maps[0].shape[-2:] == self.maps[1].shape[-2:] else SD1
        if self.tokens is not None and self.tokens.ndim != 3:
            raise InjectionError(f"AdapterUnit: style tokens must be [B, T, D], got {tuple(self.tokens.shape)}.")
        if self.base not in (None, SD1, SDXL):
            raise InjectionError(f"AdapterUnit: base must be {SD1!r} or {SDXL!r}, not {self.base!r}.")

    @property
    def batch(self) -> int:
        return self.maps[0].shape[0] if self.maps else self.tokens.shape[0]

    def active(self, progress: float) -> bool:
        return self.start <= progress and (progress < self.end or self.end >= 1.0)

    def level_scale(self, level: int) -> float:
        soft = PROMPT_LEVEL_SCALES[level] if self.control_mode is ControlMode.PROMPT else 1.0
        return float(self.weight) * soft


def _finite_number(name: str, value: object) -> float:
    """Any real scalar (Python, numpy, or a one-element torch tensor; not a bool) → float, else InjectionError."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InjectionError(f"AdapterUnit: {name} must be a finite number, not {value!r}.")
    return float(value)


@dataclass(frozen=True)
class BatchLayout:
    """What each row of one UNet call is: the job image it belongs to and whether it is conditional.

    The caller knows how its sampler builds CFG batches; the core does not guess. Example: 2 images under CFG,
    batched as ``[cond0, cond1, uncond0, uncond1]`` → ``BatchLayout(images=(0, 1, 0, 1), cond=(1, 1, 0, 0))``.
    """

    images: tuple[int, ...]
    cond: tuple[bool, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(int(i) for i in self.images))
        object.__setattr__(self, "cond", tuple(bool(c) for c in self.cond))
        if len(self.images) != len(self.cond):
            raise InjectionError(f"BatchLayout: {len(self.images)} image indices but {len(self.cond)} cond flags.")

    @classmethod
    def cfg(cls, batch: int, uncond_first: bool = True) -> BatchLayout:
        """``[uncond × batch, cond × batch]`` (diffusers, original T2I) or cond first (the WebUI)."""
        halves = [(False,) * batch, (True,) * batch]
        if not uncond_first:
            halves.reverse()
        return cls(images=tuple(range(batch)) * 2, cond=halves[0] + halves[1])

    @classmethod
    def all_cond(cls, batch: int) -> BatchLayout:
        return cls(images=tuple(range(batch)), cond=(True,) * batch)

    def __len__(self) -> int:
        return len(self.images)

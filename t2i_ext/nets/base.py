"""What every adapter network tells its caller about itself."""

from __future__ import annotations

from torch import nn

SD1 = "SD1"
SDXL = "SDXL"


class AdapterModel(nn.Module):
    """Base class of the adapter networks.

    Subclasses set ``kind`` ("full", "light", "style", "fuser") and ``base`` (``SD1`` or ``SDXL``); spatial
    adapters also set ``in_channels`` (of the condition image) and ``pixel_multiple`` (height and width of the
    condition must be multiples of it: the PixelUnshuffle factor).
    """

    kind: str = ""
    base: str = SD1
    in_channels: int = 0
    pixel_multiple: int = 1
    #: how the weights were stored ("original", "diffusers", ...); set by the loader.
    source_format: str = ""

    @property
    def is_spatial(self) -> bool:
        return self.kind in ("full", "light")

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def describe(self) -> str:
        """One line for menus and the CLI, e.g. ``SDXL · full · 3-channel · 79.0 M params · sizes ×16``."""
        parts = [self.base, self.kind]
        if self.is_spatial:
            parts.append(f"{self.in_channels}-channel")
        parts.append(f"{self.num_parameters / 1e6:.1f} M params")
        if self.is_spatial:
            parts.append(f"sizes ×{self.pixel_multiple}")
        return " · ".join(parts)

"""Latents and text embeddings computed once and cached, so the training loop holds only the UNet and the adapter.

Each training sample becomes one ``.safetensors`` file in the cache: the VAE posterior's scaled ``mean`` and
``std`` (a fresh sample is drawn every step), the condition map, the text ``context`` (and SDXL's ``y``). File
names hash the base model, the sample's bytes, caption and crop, so a changed image or model is recomputed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .base_model import SDXL, BaseModel, Conditioning
from .data import Placement, Sample, load_pair, place


@dataclass
class Entry:
    """One precomputed sample: ``mean``/``std`` ``[4, h, w]``, ``cond`` ``[C, 8h, 8w]`` in [0, 1], ``context``
    ``[77, D]``, ``y`` ``[2816]`` (SDXL) or None."""

    mean: torch.Tensor
    std: torch.Tensor
    cond: torch.Tensor
    context: torch.Tensor
    y: torch.Tensor | None = None

    @property
    def bucket(self) -> tuple[int, int]:
        return tuple(self.mean.shape[-2:])


class LatentSet:
    """Precomputed entries, in memory or as cache files; ``buckets`` groups indices of one latent size."""

    def __init__(self, entries: list[Entry] | None = None, files: list[Path] | None = None,
                 sizes: list[tuple[int, int]] | None = None, uncond: dict[tuple[int, int], Conditioning] | None = None):
        self._entries = entries
        self._files = files
        self.sizes = sizes or [e.bucket for e in entries]
        #: empty-prompt conditioning per latent size (sample grids use it for CFG)
        self.uncond = uncond or {}

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, i: int) -> Entry:
        if self._entries is not None:
            return self._entries[i]
        from safetensors.torch import load_file

        t = load_file(str(self._files[i]))
        return Entry(t["mean"], t["std"], t["cond"].float() / 255.0, t["context"], t.get("y"))

    def buckets(self) -> dict[tuple[int, int], list[int]]:
        out: dict[tuple[int, int], list[int]] = {}
        for i, s in enumerate(self.sizes):
            out.setdefault(s, []).append(i)
        return out


def model_key(source: str) -> str:
    """Identity of a base model for cache names: its source (a path, or a WebUI's checkpoint title with its hash),
    and a file's size and modification time (no full hash of GBs)."""
    p = Path(source)
    stats = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in ([p] if p.is_file() else sorted(p.rglob("*")))
             if f.is_file()] if p.exists() else []
    return hashlib.sha1(repr((source, stats)).encode()).hexdigest()[:12]


def _sizes(sample: Sample, placement: Placement) -> tuple[int, int, int, int, int, int]:
    # SDXL micro-conditioning: original size, crop top-left (in resized pixels), target size
    return (*sample.size, placement.top, placement.left, *placement.target)


def precompute(
    base: BaseModel,
    samples: list[Sample],
    resolution: int,
    buckets: bool,
    channels: int,
    cache: str | os.PathLike,
    device: torch.device | str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> LatentSet:
    """Encode every sample once (VAE and text encoders moved to ``device`` for the pass, then back to the CPU)."""
    from safetensors.torch import save_file

    cache = Path(cache) / f"latents-{model_key(base.source)}"
    cache.mkdir(parents=True, exist_ok=True)
    files, sizes, uncond = [], [], {}
    moved = False
    for n, s in enumerate(samples):
        pl = place(s.size, resolution, base.size_multiple, buckets)
        key = hashlib.sha1(
            repr((s.image.read_bytes(), s.condition.read_bytes(), s.caption, pl, channels)).encode()
        ).hexdigest()[:20]
        path = cache / f"{s.stem}-{key}.safetensors"
        size = (pl.target[0] // 8, pl.target[1] // 8)
        if size not in uncond:
            uncond[size] = None
        if not path.exists():
            if not moved:
                base.vae.to(device)
                base.text.to(device)
                moved = True
            image, cond = load_pair(s, pl, channels)
            mean, std = base.vae.encode(torch.from_numpy(image)[None].to(device))
            text = base.text.encode([s.caption], [_sizes(s, pl)] if base.family == SDXL else None)
            tensors = {
                "mean": mean[0].cpu().contiguous(),
                "std": std[0].cpu().contiguous(),
                "cond": torch.from_numpy(np.round(cond * 255).astype(np.uint8)),
                "context": text.context[0].cpu().contiguous(),
            }
            if text.y is not None:
                tensors["y"] = text.y[0].cpu().contiguous()
            tmp = path.with_suffix(".tmp")
            save_file(tensors, str(tmp))
            os.replace(tmp, path)
        files.append(path)
        sizes.append(size)
        if progress:
            progress(n + 1, len(samples))
    # the empty prompt, for classifier-free guidance in sample grids
    for size in uncond:
        h, w = size[0] * 8, size[1] * 8
        if not moved:
            base.text.to(device)
            moved = True
        c = base.text.encode([""], [(h, w, 0, 0, h, w)] if base.family == SDXL else None)
        uncond[size] = Conditioning(c.context.cpu(), None if c.y is None else c.y.cpu())
    base.vae.to("cpu")
    base.text.to("cpu")
    return LatentSet(files=files, sizes=sizes, uncond=uncond)

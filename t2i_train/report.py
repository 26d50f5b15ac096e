"""Pictures of a run: the loss curve and sample grids (condition | without adapter | with adapter)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def save_loss_curve(losses: list[float], path: str | os.PathLike) -> Path:
    """Per-step loss and its moving average as a PNG (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, lw=0.6, alpha=0.5, label="loss")
    if len(losses) >= 5:
        w = max(2, len(losses) // 20)
        avg = np.convolve(losses, np.ones(w) / w, mode="valid")
        ax.plot(steps[w - 1 :], avg, lw=1.5, label=f"mean of {w}")
    ax.set_xlabel("step")
    ax.set_ylabel("MSE")
    ax.legend(loc="upper right")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``[B, C, H, W]`` in [-1, 1] (C = 3) or [0, 1] (C = 1, condition maps) → ``[B, H, W, 3]`` uint8."""
    x = images.detach().float().cpu()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1) * 2 - 1
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().byte()
    return x.permute(0, 2, 3, 1).numpy()


def save_grid(columns: list[torch.Tensor], path: str | os.PathLike, titles: list[str] | None = None,
              caption: str | None = None) -> Path:
    """One row per sample, one column per tensor in ``columns`` (each ``[B, C, H, W]``, the same H, W), under a
    header: ``caption`` (e.g. the step), then ``titles`` over their columns, so a grid read alone says what it is.
    Cells too narrow for their title are enlarged by a whole factor (nearest neighbour: the pixels stay visible)."""
    from PIL import ImageDraw, ImageFont

    cols = [to_uint8(c) for c in columns]
    rows = [np.concatenate([c[i] for c in cols], axis=1) for i in range(cols[0].shape[0])]
    grid = Image.fromarray(np.concatenate(rows, axis=0))
    if titles or caption:
        font = ImageFont.load_default()
        text_w = lambda t: int(ImageDraw.Draw(grid).textlength(t, font=font)) + 8  # noqa: E731
        cell = cols[0].shape[2]
        scale = max(1, *(-(-text_w(t) // cell) for t in titles or []))
        body = grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST) if scale > 1 else grid
        line = 14
        header = line * ((1 if caption else 0) + (1 if titles else 0)) + 4
        grid = Image.new("RGB", (max(body.width, text_w(caption or "")), body.height + header), "white")
        grid.paste(body, (0, header))
        draw = ImageDraw.Draw(grid)
        y = 2
        if caption:
            draw.text((4, y), caption, fill="black", font=font)
            y += line
        for i, title in enumerate(titles or []):
            draw.text((i * cell * scale + 4, y), title, fill="black", font=font)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    grid.save(tmp)
    os.replace(tmp, path)
    return path

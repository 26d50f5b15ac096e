"""Which rows of each UNet call are conditional, and which job image each row belongs to.

The WebUI's CFG denoiser (``modules/sd_samplers_cfg_denoiser.py``, facts §4.4) builds one input
``x_in = [cond rows | uncond rows (| uncond rows again for edit models)]`` per denoiser call: cond rows are
grouped per image (``repeats[i]`` rows for image i: more than one with AND prompts), then one uncond row per
image. It then calls the UNet once with all rows (batch_cond_uncond on), in chunks of B rows (off), with the cond
rows in chunks followed by the uncond rows in a separate call (prompt and negative prompt of different token
lengths), or with the cond rows only (uncond skipped by NGMS / "skip early cond").

:class:`CfgRowTracker` is told each denoiser call's text tensors (from ``on_cfg_denoiser``) and is asked, before
every UNet call, for that call's :class:`~t2i_ext.units.BatchLayout`:

1. Position: UNet calls inside one denoiser call walk ``x_in`` front to back, so a cursor says which ``x_in``
   rows a call of R rows holds (the uncond-only call of the different-lengths path is the last U rows, which is
   where the cursor stands after the cond chunks).
2. Check: each row's cross-attention context is compared with the text row the position predicts (prefix of
   the shorter token length, so padded contexts match; tolerance for a half-precision UNet). Identical cond
   and uncond texts (empty prompt and negative) match either way, so position decides, which is exact.
3. When the check fails (another extension called the UNet between, or the call is not from the denoiser), rows
   are identified by content alone: a row equal to some cond row is conditional (image from that row), one equal
   to an uncond row is unconditional; a row that matches nothing is treated as conditional, image ``row % B``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from t2i_ext.units import BatchLayout


def text_tensor(cond: Any) -> torch.Tensor | None:
    """The cross-attention tensor of a text conditioning: SD1/SD2 give a tensor, SDXL a dict with "crossattn"."""
    if isinstance(cond, dict):
        cond = cond.get("crossattn")
    return cond if isinstance(cond, torch.Tensor) else None


class CfgRowTracker:
    """Batch layouts of UNet calls for a job of ``batch`` images with ``repeats[i]`` cond rows per image."""

    def __init__(
        self, batch: int, repeats: Sequence[int] | None = None, rtol: float = 1e-2, atol: float = 1e-3
    ) -> None:
        self.batch = int(batch)
        self.repeats = list(repeats) if repeats else [1] * self.batch
        if len(self.repeats) != self.batch or min(self.repeats) < 1:
            raise ValueError(f"repeats {self.repeats} must give a positive cond row count for each of {batch} images")
        self.rtol, self.atol = rtol, atol
        self.cond_images = [i for i, r in enumerate(self.repeats) for _ in range(r)]
        self.text_cond: torch.Tensor | None = None
        self.text_uncond: torch.Tensor | None = None
        self.cursor = 0
        self.total_rows = 0
        self.fallbacks = 0  # how often the position check failed (for tests and diagnostics)

    def start_denoiser_call(self, text_cond: Any, text_uncond: Any, x_rows: int) -> None:
        """Called from ``on_cfg_denoiser``: a new ``x_in`` of ``x_rows`` rows is about to be sent to the UNet."""
        self.text_cond = text_tensor(text_cond)
        self.text_uncond = text_tensor(text_uncond)
        if self.text_cond is not None and self.text_cond.shape[0] != len(self.cond_images):
            # prompts changed shape (another extension edited them): derive one row per image evenly
            rows = self.text_cond.shape[0]
            self.cond_images = [min(self.batch - 1, r * self.batch // rows) for r in range(rows)]
        self.cursor = 0
        self.total_rows = int(x_rows)

    def _expected(self, index: int) -> tuple[bool, int, torch.Tensor | None]:
        """(is cond, image, text row) of ``x_in`` row ``index``."""
        c = len(self.cond_images)
        if index < c:
            text = self.text_cond[index] if self.text_cond is not None else None
            return True, self.cond_images[index], text
        j = (index - c) % self.batch
        text = self.text_uncond[j] if self.text_uncond is not None and j < self.text_uncond.shape[0] else None
        return False, j, text

    def _same(self, a: torch.Tensor, b: torch.Tensor) -> bool:
        n = min(a.shape[0], b.shape[0])
        if a.shape[1:] != b.shape[1:]:
            return False
        x, y = a[:n].float(), b[:n].to(device=a.device).float()
        return bool(torch.allclose(x, y, rtol=self.rtol, atol=self.atol))

    def layout(self, x: torch.Tensor, context: Any) -> BatchLayout:
        """The layout of a UNet call with input ``x`` and cross-attention ``context``."""
        rows = int(x.shape[0])
        ctx = text_tensor(context)
        if self.text_cond is not None and self.cursor + rows <= max(
            self.total_rows, len(self.cond_images) + self.batch
        ):
            predicted = [self._expected(self.cursor + r) for r in range(rows)]
            if ctx is None or all(t is None or self._same(ctx[r], t) for r, (_, _, t) in enumerate(predicted)):
                self.cursor += rows
                return BatchLayout(images=[p[1] for p in predicted], cond=[p[0] for p in predicted])
        self.fallbacks += 1
        return self._by_content(rows, ctx)

    def _by_content(self, rows: int, ctx: torch.Tensor | None) -> BatchLayout:
        images, cond = [], []
        used: set[int] = set()
        for r in range(rows):
            row = ctx[r] if ctx is not None and r < ctx.shape[0] else None
            match_c = (
                [k for k in range(self.text_cond.shape[0])] if row is not None and self.text_cond is not None else []
            )
            match_c = [k for k in match_c if self._same(row, self.text_cond[k])]
            match_u = []
            if row is not None and self.text_uncond is not None:
                match_u = [j for j in range(self.text_uncond.shape[0]) if self._same(row, self.text_uncond[j])]
            if match_c and not match_u:
                k = next((k for k in match_c if k not in used), match_c[0])
                used.add(k)
                images.append(self.cond_images[k])
                cond.append(True)
            elif match_u and not match_c:
                images.append(match_u[0] if len(match_u) == 1 else r % self.batch)
                cond.append(False)
            else:  # unknown, or cond and uncond texts identical: conditional (features apply as in Balanced)
                images.append(r % self.batch)
                cond.append(True)
        return BatchLayout(images=images, cond=cond)

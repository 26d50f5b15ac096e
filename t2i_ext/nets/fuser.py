"""The CoAdapter fuser: lets several adapters' outputs rescale each other before injection."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .base import SD1, AdapterModel
from .blocks import FP32LayerNorm, TransformerStack

#: Task index of each condition in the fuser's ``task_embedding`` (TencentARC's ``ExtraCondition`` enum).
TASK_INDEX = {"sketch": 0, "keypose": 1, "seg": 2, "depth": 3, "canny": 4, "style": 5, "color": 6, "openpose": 7}

#: one adapter output: 4 feature maps ``[N, C_l, H_l, W_l]`` (spatial) or style tokens ``[N, T, D]``
AdapterOutput = "list[torch.Tensor] | torch.Tensor"


class CoAdapterFuser(AdapterModel):
    """Fuses weighted adapter outputs: ``[(condition, output), ...] → (features | None, tokens | None)``.

    Each spatial output becomes 4 tokens (global average per level → SiLU → Linear to ``width``, plus task and
    level embeddings), a style output contributes its tokens plus the style task embedding. After 3 transformer
    blocks, every level of every spatial output is scaled channel-wise by ``1 + spatial_ch_projs[l](token)`` and the
    conditions are summed per level; style tokens are scaled by ``1 + token @ seq_proj`` and concatenated. The
    projections start at zero, so an untrained fuser is a plain sum. Published: 27,285,184 parameters.
    """

    kind = "fuser"
    base = SD1

    def __init__(
        self,
        unet_channels: Sequence[int] = (320, 640, 1280, 1280),
        width: int = 768,
        num_head: int = 8,
        layers: int = 3,
    ) -> None:
        super().__init__()
        self.task_embedding = nn.Parameter(width**0.5 * torch.randn(16, width))
        self.positional_embedding = nn.Parameter(width**0.5 * torch.randn(len(unet_channels), width))
        self.spatial_feat_mapping = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(ch, width)) for ch in unet_channels
        )
        self.transformer_layes = TransformerStack(width, num_head, layers)
        self.ln_post = FP32LayerNorm(width)
        self.ln_pre = FP32LayerNorm(width)
        self.spatial_ch_projs = nn.ModuleList(nn.Linear(width, ch) for ch in unet_channels)
        for proj in self.spatial_ch_projs:
            nn.init.zeros_(proj.weight)
            nn.init.zeros_(proj.bias)
        self.seq_proj = nn.Parameter(torch.zeros(width, width))

    def forward(
        self, outputs: Sequence[tuple[str, list[torch.Tensor] | torch.Tensor]]
    ) -> tuple[list[torch.Tensor] | None, torch.Tensor | None]:
        if not outputs:
            return None, None
        tokens = []
        for name, out in outputs:
            if name not in TASK_INDEX:
                raise ValueError(f"CoAdapter fuser: unknown condition {name!r}; known: {', '.join(TASK_INDEX)}")
            task = self.task_embedding[TASK_INDEX[name]]
            if isinstance(out, torch.Tensor):
                tokens.append(out + task)
            else:
                levels = [mapping(f.mean(dim=(2, 3))) for mapping, f in zip(self.spatial_feat_mapping, out)]
                tokens.append(torch.stack(levels, dim=1) + task + self.positional_embedding)
        x = self.ln_post(self.transformer_layes(self.ln_pre(torch.cat(tokens, dim=1))))

        fused_maps: list[torch.Tensor] | None = None
        fused_tokens = []
        start = 0
        for _, out in outputs:
            if isinstance(out, torch.Tensor):
                length = out.shape[1]
                fused_tokens.append(out * (x[:, start : start + length] @ self.seq_proj + 1))
            else:
                length = len(out)
                scaled = [
                    f * (proj(x[:, start + l]) + 1)[:, :, None, None]
                    for l, (proj, f) in enumerate(zip(self.spatial_ch_projs, out))
                ]
                fused_maps = scaled if fused_maps is None else [a + b for a, b in zip(fused_maps, scaled)]
            start += length
        return fused_maps, (torch.cat(fused_tokens, dim=1) if fused_tokens else None)

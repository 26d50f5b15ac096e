"""OpenPose body network (Cao et al., CVPR 2017; CMU's 18-keypoint COCO model) as ported by Hzzone/pytorch-openpose
``bodypose_model`` and used by ControlNet / T2I-Adapter (``body_pose_model.pth``).

VGG-19 front end (``model0``: conv1_1 .. conv4_4_CPM, 3 max-pools -> stride 8, 128 channels), then six stages of
two branches: ``L1`` = part affinity fields (38 = 19 limbs x (x, y)), ``L2`` = confidence maps (19 = 18 parts +
background). Stage 1 (``model1_1``/``model1_2``) uses 3x3 convs; stages 2-6 (``model{t}_1``/``model{t}_2``) take
the concatenation [PAF, heatmap, features] (38 + 19 + 128 = 185 channels) and use 7x7 convs.

Key names: each block is an ``nn.Sequential`` of named convs, so the module's keys are
``model0.conv1_1.weight`` [64, 3, 3, 3], ``model1_1.conv5_5_CPM_L1.weight`` [38, 512, 1, 1],
``model2_1.Mconv1_stage2_L1.weight`` [128, 185, 7, 7], ``model6_2.Mconv7_stage6_L2.weight`` [19, 128, 1, 1], ...
The published ``body_pose_model.pth`` stores the same tensors **without the block prefix** (``conv1_1.weight``,
``Mconv7_stage6_L2.weight``; pytorch-openpose ``util.transfer`` re-adds it); `from_published` accepts both.

A quirk kept on purpose: the original's list of layers without ReLU names ``Mconv7_stage6_L1`` twice and omits
``Mconv7_stage6_L2``, so the final heatmaps pass through a ReLU. ReLUs hold no weights; keeping it reproduces the
published model's outputs exactly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import torch
import torch.nn as nn

# (name, in, out, kernel) of the VGG front end; "pool" = 2x2 max-pool stride 2.
_FRONT = (
    ("conv1_1", 3, 64, 3),
    ("conv1_2", 64, 64, 3),
    "pool1_stage1",
    ("conv2_1", 64, 128, 3),
    ("conv2_2", 128, 128, 3),
    "pool2_stage1",
    ("conv3_1", 128, 256, 3),
    ("conv3_2", 256, 256, 3),
    ("conv3_3", 256, 256, 3),
    ("conv3_4", 256, 256, 3),
    "pool3_stage1",
    ("conv4_1", 256, 512, 3),
    ("conv4_2", 512, 512, 3),
    ("conv4_3_CPM", 512, 256, 3),
    ("conv4_4_CPM", 256, 128, 3),
)
PAF_CHANNELS = 38
HEATMAP_CHANNELS = 19
FEATURES = 128
# Last convs with no ReLU after them (see the module docstring for the stage-6 heatmap quirk).
_NO_RELU = {f"Mconv7_stage{t}_L{b}" for t in range(2, 6) for b in (1, 2)} | {
    "conv5_5_CPM_L1",
    "conv5_5_CPM_L2",
    "Mconv7_stage6_L1",
}


def _block(layers: tuple) -> nn.Sequential:
    items: list[tuple[str, nn.Module]] = []
    for layer in layers:
        if isinstance(layer, str):
            items.append((layer, nn.MaxPool2d(kernel_size=2, stride=2)))
            continue
        name, cin, cout, k = layer
        items.append((name, nn.Conv2d(cin, cout, k, padding=k // 2)))
        if name not in _NO_RELU:
            items.append((f"relu_{name}", nn.ReLU(inplace=True)))
    return nn.Sequential(OrderedDict(items))


def _stage1(branch: int, out: int) -> nn.Sequential:
    return _block(
        (
            (f"conv5_1_CPM_L{branch}", FEATURES, 128, 3),
            (f"conv5_2_CPM_L{branch}", 128, 128, 3),
            (f"conv5_3_CPM_L{branch}", 128, 128, 3),
            (f"conv5_4_CPM_L{branch}", 128, 512, 1),
            (f"conv5_5_CPM_L{branch}", 512, out, 1),
        )
    )


def _refine(stage: int, branch: int, out: int) -> nn.Sequential:
    cin = PAF_CHANNELS + HEATMAP_CHANNELS + FEATURES
    layers = [(f"Mconv1_stage{stage}_L{branch}", cin, 128, 7)]
    layers += [(f"Mconv{i}_stage{stage}_L{branch}", 128, 128, 7) for i in range(2, 6)]
    layers += [(f"Mconv6_stage{stage}_L{branch}", 128, 128, 1), (f"Mconv7_stage{stage}_L{branch}", 128, out, 1)]
    return _block(tuple(layers))


class BodyPoseNet(nn.Module):
    """Input BGR image scaled to ``x / 256 - 0.5``, [N, 3, H, W] with H, W multiples of 8.
    Output (PAFs [N, 38, H/8, W/8], heatmaps [N, 19, H/8, W/8]) of the sixth stage."""

    def __init__(self) -> None:
        super().__init__()
        self.model0 = _block(_FRONT)
        self.model1_1 = _stage1(1, PAF_CHANNELS)
        self.model1_2 = _stage1(2, HEATMAP_CHANNELS)
        for t in range(2, 7):
            setattr(self, f"model{t}_1", _refine(t, 1, PAF_CHANNELS))
            setattr(self, f"model{t}_2", _refine(t, 2, HEATMAP_CHANNELS))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model0(x)
        paf, heat = self.model1_1(features), self.model1_2(features)
        for t in range(2, 7):
            both = torch.cat([paf, heat, features], dim=1)
            paf, heat = getattr(self, f"model{t}_1")(both), getattr(self, f"model{t}_2")(both)
        return paf, heat


def from_published(state: Mapping[str, torch.Tensor], model: BodyPoseNet) -> dict[str, torch.Tensor]:
    """Map the published flat names (``conv1_1.weight``) to the module's (``model0.conv1_1.weight``); a state
    dict that already has the block prefixes is returned as is. Layer names are unique across blocks."""
    if any(k.startswith("model0.") for k in state):
        return dict(state)
    by_flat = {k.split(".", 1)[1]: k for k in model.state_dict()}
    return {by_flat.get(k, k): v for k, v in state.items()}

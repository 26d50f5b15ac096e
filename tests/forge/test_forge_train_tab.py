"""The Train tab on the Forge stand-in: it trains against Forge's own UNet (``forge_objects.unet.model.
diffusion_model``, whose weights Forge makes under ``torch.inference_mode``) and leaves it as it found it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.webui.harness import unet_hook_count
from tests.webui.images import pixels
from tests.webui.test_train_tab import pairs, tab_module, values

pytest.importorskip("accelerate", reason="the trainer runs through accelerate")


def as_inference_tensors(unet):
    """What Forge's loader (backend/loader.py ``forge_loader``, under ``@torch.inference_mode()``) hands out."""
    with torch.inference_mode():
        for m in unet.modules():
            for name, p in list(m._parameters.items()):
                if p is not None:
                    m._parameters[name] = torch.nn.Parameter(p.detach().clone(), requires_grad=p.requires_grad)


def test_training_on_forges_unet_leaves_it_as_it_was(forge, tmp_path):
    unet = forge.shared.sd_model.forge_objects.unet.model.diffusion_model
    as_inference_tensors(unet)
    plain = forge.txt2img()
    flags = ([m.training for m in unet.modules()], [(p.requires_grad, p.is_inference()) for p in unet.parameters()])
    weights = {k: v.clone() for k, v in unet.state_dict().items()}
    updates = list(tab_module(forge).run_training(**values("forge-trained", pairs(tmp_path), sample_every=2)))
    assert updates[-1][0].startswith("Done"), updates[-1][0]
    assert ([m.training for m in unet.modules()], [(p.requires_grad, p.is_inference()) for p in unet.parameters()]) \
        == flags
    assert unet_hook_count(unet) == 0
    assert all(torch.equal(weights[k], v) for k, v in unet.state_dict().items())
    assert np.array_equal(pixels(plain), pixels(forge.txt2img()))

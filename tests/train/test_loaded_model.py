"""``t2i_train.loaded_model.restore``: training against a host's UNet in place leaves it as it was, and works with
what a host written for inference hands over (inference-mode weights, in-place additions after a LayerNorm)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from t2i_train.loaded_model import restore


class InPlaceBlock(nn.Module):
    """Forge's BasicTransformerBlock pattern (backend/nn/unet.py): ``n = self.norm1(x); n = attn(n); x += n``."""

    def __init__(self) -> None:
        super().__init__()
        self.norm1, self.proj, self.norm2 = nn.LayerNorm(8), nn.Linear(8, 8), nn.LayerNorm(8)

    def forward(self, x):
        n = self.proj(self.norm1(x))
        x += n
        n = self.norm2(x)
        x += n
        return x


def train_step(block: nn.Module, feature: nn.Parameter) -> None:
    x = torch.randn(2, 4, 8) + feature  # the adapter's feature enters the frozen block's activations
    block(x).square().mean().backward()


def test_in_place_additions_after_a_layernorm_need_the_copies():
    block, feature = InPlaceBlock().requires_grad_(False), nn.Parameter(torch.zeros(8))
    with pytest.raises(RuntimeError, match="inplace operation"):
        train_step(block, feature)
    with restore(block, copy_norm_inputs=True):
        train_step(block, feature)
    assert feature.grad is not None and feature.grad.abs().sum() > 0
    assert all(not m._forward_pre_hooks for m in block.modules())


def test_inference_mode_weights_are_trained_through_and_given_back_as_they_were():
    with torch.inference_mode():
        block = InPlaceBlock()
    flags = [(p.requires_grad, p.is_inference()) for p in block.parameters()]
    values = {k: v.clone() for k, v in block.state_dict().items()}
    feature = nn.Parameter(torch.zeros(8))
    with restore(block, copy_norm_inputs=True):
        block.requires_grad_(False).train()
        handle = block.register_forward_hook(lambda *a: None)  # a hook the run forgets to remove
        train_step(block, feature)
    assert feature.grad is not None
    assert [(p.requires_grad, p.is_inference()) for p in block.parameters()] == flags
    assert block.training  # the mode it had before the run
    assert not block._forward_hooks and handle.id not in block._forward_hooks
    assert all(torch.equal(values[k], v) for k, v in block.state_dict().items())


def test_inference_weights_are_swapped_one_at_a_time_never_a_second_model_in_memory(monkeypatch):
    """Each original weight is freed as its copy is made (Forge's UNet is made under inference mode): holding them
    all until the end put a whole second UNet in memory (+3 GiB seen in the real Forge as a run started)."""
    import weakref

    from t2i_train import loaded_model

    with torch.inference_mode():
        net = nn.Sequential(*[nn.Linear(16, 16) for _ in range(4)])
    originals = [weakref.ref(p) for p in net.parameters()]
    alive = []
    replace = loaded_model._replace

    def counting(*args, **kwargs):
        replace(*args, **kwargs)
        alive.append(sum(r() is not None for r in originals))

    monkeypatch.setattr(loaded_model, "_replace", counting)
    with restore(net):
        pass
    n = len(originals)
    assert alive[:n] == list(range(n, 0, -1))  # after the k-th copy only the k-th original (in hand) and later ones


def test_a_text_encoder_that_gives_nan_is_refused_naming_the_caption():
    from t2i_train.base_model import Conditioning
    from t2i_train.errors import BaseModelError
    from t2i_train.loaded_model import HostText

    # a real random SD1.5 checkpoint's CLIP gave NaN for "picture 2" in the WebUI, and the run died at that step
    text = HostText(lambda prompts, sizes: Conditioning(torch.full((1, 77, 8), float("nan"))))
    with pytest.raises(BaseModelError, match="'picture 2'"):
        text.encode(["picture 2"])

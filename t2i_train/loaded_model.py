"""A :class:`~t2i_train.base_model.BaseModel` over a model that is already in memory (a WebUI's), and
:func:`restore`, which puts back everything a training run changes on its UNet.

WebUI-free: the host hands in its LDM-layout UNet module and three callables (image → latent posterior, latents →
image, prompts → conditioning); no weights are copied. The WebUI side (which attributes of ``shared.sd_model`` to
call on A1111 or Forge) is ``t2i_webui/loaded_model.py``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

from .base_model import ADAPTER_BASE, BaseModel, Conditioning
from .errors import BaseModelError

LOG = logging.getLogger("t2i_train")
#: image ``[B, 3, H, W]`` in [-1, 1] → scaled latent mean and std ``[B, 4, H/8, W/8]`` (std 0 when the host
#: only gives a sample)
EncodeImage = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
DecodeLatents = Callable[[torch.Tensor], torch.Tensor]  # scaled latents → images in [-1, 1]
#: prompts and, for SDXL, per prompt (original h, w, crop top, left, target h, w) → conditioning
EncodeText = Callable[[list[str], "list[tuple[int, ...]] | None"], Conditioning]


class HostVAE:
    """The host's VAE as precompute and sample grids use it; ``to`` is a no-op (the host places its models)."""

    def __init__(self, encode: EncodeImage, decode: DecodeLatents) -> None:
        self._encode, self._decode = encode, decode

    def to(self, device: torch.device | str) -> HostVAE:
        return self

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = self._encode(images)
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all()):  # one bad latent poisons every epoch
            raise BaseModelError("the loaded checkpoint's VAE gave NaN/inf latents for a training image: the "
                                 "checkpoint (or its VAE setting) is broken; choose another one.")
        return mean.float().clone(), std.float().clone()  # clone: a host's inference-mode tensors become ordinary

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self._decode(latents).float().clamp(-1, 1).clone()


class HostText:
    """The host's text encoder(s) as precompute uses them; ``to`` is a no-op."""

    def __init__(self, encode: EncodeText) -> None:
        self._encode = encode

    def to(self, device: torch.device | str) -> HostText:
        return self

    @torch.no_grad()
    def encode(self, prompts: list[str], sizes: list[tuple[int, ...]] | None = None) -> Conditioning:
        c = self._encode(list(prompts), sizes)
        if not (torch.isfinite(c.context).all() and (c.y is None or torch.isfinite(c.y).all())):
            raise BaseModelError(
                f"the loaded checkpoint's text encoder gave NaN/inf for the caption {prompts[0]!r}: the checkpoint "
                "is broken for this text; change the caption (or use another checkpoint) and train again."
            )
        return Conditioning(c.context.float().clone(), None if c.y is None else c.y.float().clone())


def base_model_from_parts(family: str, unet: nn.Module, encode_image: EncodeImage, decode_latents: DecodeLatents,
                          encode_text: EncodeText, alphas_cumprod: torch.Tensor, prediction: str,
                          source: str) -> BaseModel:
    """A BaseModel that trains against ``unet`` itself (no copy); ``family``: ``sd1``/``sd2``/``sdxl``."""
    if family not in ADAPTER_BASE:
        raise ValueError(f"unknown family {family!r}")
    if prediction not in ("epsilon", "v"):
        raise ValueError(f"prediction must be epsilon or v, not {prediction!r}")
    return BaseModel(
        family=family,
        unet=unet,
        vae=HostVAE(encode_image, decode_latents),
        text=HostText(encode_text),
        prediction=prediction,
        alphas_cumprod=alphas_cumprod.detach().double().cpu(),
        source=source,
    )


# --------------------------------------------------------------------------------------------------------------
_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
               "_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called")


@dataclass
class _Snapshot:
    training: dict[nn.Module, bool]
    tensors: dict[tuple[nn.Module, str, bool], tuple[bool, torch.dtype, torch.device]]  # (module, name, is_param)
    hooks: dict[nn.Module, dict[str, set]]
    forwards: dict[nn.Module, object]  # instance-level ``forward`` overrides present before


def _slots(unet: nn.Module) -> Iterator[tuple[nn.Module, str, bool, torch.Tensor]]:
    for module in unet.modules():
        for is_param, table in ((True, module._parameters), (False, module._buffers)):
            for name, t in table.items():
                if t is not None:
                    yield module, name, is_param, t


def _snapshot(unet: nn.Module) -> _Snapshot:
    training, tensors, hooks, forwards = {}, {}, {}, {}
    for m in unet.modules():
        training[m] = m.training
        hooks[m] = {d: set(getattr(m, d, {}) or {}) for d in _HOOK_DICTS}
        if "forward" in m.__dict__:
            forwards[m] = m.__dict__["forward"]
    for m, name, is_param, t in _slots(unet):
        tensors[(m, name, is_param)] = (t.requires_grad, t.dtype, t.device)
    return _Snapshot(training, tensors, hooks, forwards)


def _replace(module: nn.Module, name: str, is_param: bool, value: torch.Tensor, requires_grad: bool) -> None:
    if is_param:
        module._parameters[name] = nn.Parameter(value, requires_grad=requires_grad)
    else:
        module._buffers[name] = value


def _ordinary_weights(unet: nn.Module) -> list[tuple[nn.Module, str, bool]]:
    """Replace tensors made under ``torch.inference_mode`` (Forge builds its models so) by ordinary copies, one at a
    time (never a second model in memory): autograd cannot save an inference tensor for the backward pass that
    reaches the adapter through the UNet's activations. Returns the slots replaced, made inference tensors again
    afterwards."""
    swapped = []
    for m, name, is_param in [slot[:3] for slot in _slots(unet)]:  # no tensor held here: each original dies at once
        t = (m._parameters if is_param else m._buffers)[name]
        if t.is_inference():
            _replace(m, name, is_param, t.detach().clone(), t.requires_grad)
            swapped.append((m, name, is_param))
        del t
    return swapped


def _copy_norm_input(module: nn.Module, args: tuple) -> tuple | None:
    if torch.is_grad_enabled() and args and isinstance(args[0], torch.Tensor):
        return (args[0].clone(), *args[1:])
    return None


@contextlib.contextmanager
def restore(unet: nn.Module, copy_norm_inputs: bool = False) -> Iterator[nn.Module]:
    """Train against ``unet`` inside the block; afterwards its modules' train/eval mode, every tensor's
    ``requires_grad``, dtype and device, its hooks and instance ``forward`` overrides are as they were (anything a
    run left is removed, with a warning), so the host's next generation is bit-identical to one before. Weights
    are never written: the run only trains the adapter.

    ``copy_norm_inputs``: for a UNet written for inference that adds to an activation in place after normalising it
    (Forge's ``BasicTransformerBlock``: ``n = self.norm1(x) … x += n``), each LayerNorm gets a copy of its input
    while gradients are on, so the tensor autograd saved is not the one then changed."""
    before = _snapshot(unet)
    swapped = _ordinary_weights(unet)
    handles = [m.register_forward_pre_hook(_copy_norm_input) for m in unet.modules()
               if copy_norm_inputs and isinstance(m, nn.LayerNorm)]
    try:
        yield unet
    finally:
        for handle in handles:
            handle.remove()
        left = 0
        for m, was_training in before.training.items():
            m.training = was_training
            for d, keys in before.hooks[m].items():
                current = getattr(m, d, None)
                for key in [k for k in (current or {}) if k not in keys]:
                    del current[key]
                    left += 1
            if "forward" in m.__dict__ and m.__dict__["forward"] is not before.forwards.get(m):
                if m in before.forwards:
                    m.forward = before.forwards[m]
                else:
                    del m.forward
                left += 1
        for (m, name, is_param), (requires_grad, dtype, device) in before.tensors.items():
            t = (m._parameters if is_param else m._buffers).get(name)
            if t is None:
                continue
            if t.dtype != dtype or t.device != device:
                t.data = t.data.to(device=device, dtype=dtype)
            if t.requires_grad != requires_grad:
                t.requires_grad_(requires_grad)
        if swapped:
            with torch.inference_mode():
                for m, name, is_param in swapped:
                    t = (m._parameters if is_param else m._buffers)[name]
                    _replace(m, name, is_param, t.detach().clone(), t.requires_grad)
        if left:
            LOG.warning("T2I-Adapter training: removed %d hook(s) or forward override(s) a run left on the UNet", left)

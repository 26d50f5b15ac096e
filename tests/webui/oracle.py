"""An independent check of what the extension does to every UNet call (tests only).

``UNetRecorder`` records each call of the loaded UNet (inputs, output) together with the sampling progress the
WebUI's CFG denoiser reported just before it (``on_cfg_denoiser``: ``sampling_step / total_sampling_steps``) and the
denoiser's text tensors. ``expected_output`` recomputes a recorded call on the clean UNet with the adapter core's
``t2i_ext.inject`` and the *true* row layout, derived from the rows' text context alone (a row whose context equals
image i's negative-prompt encoding is image i's unconditional row; one equal to image i's prompt encoding is its
conditional row). So the test does not rely on the extension's own row tracking: if the extension mislabels a row,
applies features of the wrong image, the wrong size or outside the guidance window, the outputs differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import t2i_ext


@dataclass
class Call:
    args: tuple
    kwargs: dict
    output: torch.Tensor
    step: int
    total: int
    text_cond: torch.Tensor | None
    text_uncond: torch.Tensor | None

    @property
    def x(self) -> torch.Tensor:
        return self.args[0]

    @property
    def context(self) -> torch.Tensor:
        return self.kwargs["context"]


@dataclass
class UNetRecorder:
    unet: torch.nn.Module
    calls: list[Call] = field(default_factory=list)

    def __enter__(self):
        from modules import script_callbacks

        self._state = {"step": 0, "total": 1, "cond": None, "uncond": None}

        def on_denoiser(params):
            cond, uncond = params.text_cond, params.text_uncond
            self._state.update(
                step=params.sampling_step, total=params.total_sampling_steps, cond=_text(cond), uncond=_text(uncond)
            )
            self.p = params.denoiser.p

        def hook(module, args, kwargs, output):
            s = self._state
            self.calls.append(
                Call(
                    tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args),
                    {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()},
                    output.clone(),
                    s["step"],
                    s["total"],
                    s["cond"],
                    s["uncond"],
                )
            )

        self._callback = on_denoiser
        script_callbacks.on_cfg_denoiser(on_denoiser, name="test_oracle")
        self._handle = self.unet.register_forward_hook(hook, with_kwargs=True)
        return self

    def __exit__(self, *exc):
        from modules import script_callbacks

        self._handle.remove()
        script_callbacks.remove_callbacks_for_function(self._callback)
        return False


def _text(c):
    if isinstance(c, dict):
        c = c.get("crossattn")
    return c.clone() if isinstance(c, torch.Tensor) else None


def true_layout(call: Call, cond_images: list[int]) -> t2i_ext.BatchLayout:
    """Rows classified by their context: equal (on the common token prefix) to a row of the denoiser's ``text_cond``
    (image ``cond_images[k]``) or ``text_uncond`` (image k)."""
    images, cond = [], []
    for row in call.context:
        found = None
        for k, ref in enumerate(call.text_cond):
            n = min(len(ref), len(row))
            if torch.equal(row[:n], ref[:n]):
                found = (cond_images[k], True)
                break
        if found is None:
            for k, ref in enumerate(call.text_uncond):
                n = min(len(ref), len(row))
                if torch.equal(row[:n], ref[:n]):
                    found = (k, False)
                    break
        assert found is not None, "a UNet row whose context is neither a prompt nor a negative prompt"
        images.append(found[0])
        cond.append(found[1])
    return t2i_ext.BatchLayout(images=tuple(images), cond=tuple(cond))


def features_for(adapter_file: Path, images: list[np.ndarray]):
    adapter = t2i_ext.load_adapter(str(adapter_file))
    cond = t2i_ext.condition_for(adapter, images if len(images) > 1 else images[0])
    return t2i_ext.compute_features(adapter, cond)


@torch.no_grad()
def expected_output(unet, call: Call, units: list[t2i_ext.AdapterUnit], cond_images: list[int]) -> torch.Tensor:
    layout = true_layout(call, cond_images)
    with t2i_ext.inject(unet, units, layout=layout) as injection:
        injection.progress = call.step / max(1, call.total)
        return unet(*call.args, **call.kwargs)


def assert_calls_match(unet, calls: list[Call], units, cond_images, atol=1e-5) -> int:
    """Every recorded call equals the oracle's; returns how many calls were checked."""
    assert calls, "the UNet was never called"
    for i, call in enumerate(calls):
        want = expected_output(unet, call, units, cond_images)
        err = (want - call.output).abs().max().item()
        assert err <= atol, (
            f"UNet call {i} (step {call.step}/{call.total}, {call.x.shape[0]} rows) differs from "
            f"the oracle by {err:.3g}"
        )
    return len(calls)

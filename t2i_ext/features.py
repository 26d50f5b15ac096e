"""Running an adapter once per generation, so sampling holds only its outputs."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .errors import AdapterOutputError
from .nets import AdapterModel, CoAdapterFuser
from .units import AdapterUnit

AdapterOutput = "list[torch.Tensor] | torch.Tensor"


@torch.no_grad()
def compute_features(
    adapter: AdapterModel,
    condition: torch.Tensor,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    offload: bool = False,
) -> list[torch.Tensor] | torch.Tensor:
    """One adapter pass: ``condition`` (``[N, C, H, W]`` image, or ``[N, 257, 1024]`` CLIP tokens for the style
    adapter) → feature maps or style tokens on ``device`` in ``dtype`` (the UNet's; default: the adapter's).

    The adapter runs on ``device`` in its own dtype. With ``offload`` its weights go back to the CPU right after the
    pass, so sampling keeps only the outputs (a few MB) on the device instead of ~300 MB of weights.
    """
    param = next(adapter.parameters())
    device = torch.device(device) if device is not None else param.device
    adapter.to(device)
    try:
        # standard layout: a channels-last input would make every conv (and the features) channels-last
        out = adapter(condition.to(device=device, dtype=param.dtype, memory_format=torch.contiguous_format))
    finally:
        if offload:
            adapter.to("cpu")
    dtype = dtype or param.dtype
    outputs = [out.to(dtype)] if isinstance(out, torch.Tensor) else [f.to(dtype) for f in out]
    _check_finite(outputs, f"the {getattr(adapter, 'kind', 'adapter')} adapter's output")
    return outputs[0] if isinstance(out, torch.Tensor) else outputs


def _check_finite(outputs: Sequence[torch.Tensor], what: str) -> None:
    """Once per pass (not per step): NaN/inf here would turn every sampled image into NaN, silently."""
    if not all(bool(torch.isfinite(t).all()) for t in outputs):
        raise AdapterOutputError(
            f"{what} contains NaN or infinite values: the adapter file's weights are broken, or its values overflow "
            "in half precision; re-download or convert the file, or run the adapter in float32."
        )


@torch.no_grad()
def fuse(
    fuser: CoAdapterFuser,
    outputs: Sequence[tuple[str, list[torch.Tensor] | torch.Tensor, float]],
    **unit_options,
) -> AdapterUnit:
    """CoAdapter: combine ``(condition name, adapter output, weight)`` triples into one :class:`AdapterUnit`.

    Condition names are the fuser's tasks (sketch, keypose, seg, depth, canny, style, color, openpose). Each output is
    multiplied by its weight before fusion, as in TencentARC's CoAdapter; ``unit_options`` (start, end,
    control_mode) apply to the fused unit, whose own weight is 1.
    """
    if not outputs:
        raise ValueError("fuse() needs at least one (condition, output, weight) triple.")
    param = next(fuser.parameters())
    weighted = []
    for name, out, weight in outputs:
        if isinstance(out, torch.Tensor):
            weighted.append((name, out.to(param) * weight))
        else:
            weighted.append((name, [f.to(param) * weight for f in out]))
    maps, tokens = fuser(weighted)
    _check_finite([*(maps or ()), *([tokens] if tokens is not None else [])], "the CoAdapter fuser's output")
    dtype = (outputs[0][1] if isinstance(outputs[0][1], torch.Tensor) else outputs[0][1][0]).dtype
    return AdapterUnit(
        features=[f.to(dtype) for f in maps] if maps is not None else None,
        tokens=tokens.to(dtype) if tokens is not None else None,
        weight=1.0,
        **unit_options,
    )

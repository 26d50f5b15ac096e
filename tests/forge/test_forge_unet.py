"""The same units give the same UNet outputs on both hosts: the A1111 module hooks (t2i_ext.inject) against Forge's
block and conditioning modifiers (t2i_host/forge_unet.py) run by the Forge stand-in's UNet forward, on one UNet."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from t2i_ext import AdapterUnit, BatchLayout, inject
from t2i_ext.injection import injection_points, prepare_injection
from t2i_ext.nets.fuser import CoAdapterFuser
from t2i_ext.tiny_unet import TINY_SD1, TINY_SDXL, build_ldm_unet
from t2i_host import forge_unet

from .conftest import FORGE_STANDIN_DIR

spec = importlib.util.spec_from_file_location("forge_standin_unet", FORGE_STANDIN_DIR / "forge_standin.py")
forge = importlib.util.module_from_spec(spec)
spec.loader.exec_module(forge)

BATCH = 2


def block_outputs(unet, base, x, t, context, y=None):
    """Shapes of the injection blocks' outputs for one plain forward."""
    outs = []
    handles = [b.register_forward_hook(lambda m, a, o: outs.append(o.shape)) for b in injection_points(unet, base)]
    with torch.no_grad():
        unet(x, t, context=context, y=y)
    for h in handles:
        h.remove()
    return outs


def random_units(unet, base, x, t, context, y=None, tokens=False, **options):
    gen = torch.Generator().manual_seed(3)
    shapes = block_outputs(unet, base, x[:BATCH], t[:BATCH], context[:BATCH], None if y is None else y[:BATCH])
    maps = [torch.randn(BATCH, *s[1:], generator=gen) * 0.5 for s in shapes]
    units = [AdapterUnit(features=maps, **options)]
    if tokens:
        units.append(AdapterUnit(tokens=torch.randn(1, 8, context.shape[-1], generator=gen)))
    return units


def a1111_output(unet, units, layout, x, t, context, y):
    with torch.no_grad(), inject(unet, units, layout=layout):
        return unet(x, t, context=context, y=y)


def forge_output(unet, units, cond_or_uncond, x, t, context, y):
    """One Forge UNet call: conditioning modifier on the per-entry text, then the forward with block modifiers."""
    patcher = forge.UnetPatcher(None)
    injection, blocks = prepare_injection(unet, units)
    forge_unet.attach(patcher, injection, blocks)
    chunks = [context[i * BATCH : (i + 1) * BATCH] for i in range(len(cond_or_uncond))]
    entries = [{"model_conds": {"c_crossattn": forge.ConditionCrossAttn(c)}} for c in chunks]
    cond = [e for e, f in zip(entries, cond_or_uncond) if f == 0]
    uncond = [e for e, f in zip(entries, cond_or_uncond) if f == 1]
    for modifier in patcher.model_options.get("conditioning_modifiers", []):
        modifier(None, x, t, uncond, cond, 7.0, patcher.model_options, 0)
    by_flag = {0: iter(cond), 1: iter(uncond)}
    text = torch.cat([next(by_flag[f])["model_conds"]["c_crossattn"].cond for f in cond_or_uncond])
    options = dict(patcher.model_options["transformer_options"], cond_or_uncond=list(cond_or_uncond))
    with torch.no_grad():
        return forge.forge_unet_forward(unet, x, t, text, y, None, options)


CASES = [(f, m, False) for f in ("sd1", "sdxl") for m in ("balanced", "prompt", "adapter")]
CASES += [("sd1", m, True) for m in ("balanced", "prompt", "adapter")]  # style tokens are for SD1 checkpoints


@pytest.mark.parametrize(("family", "mode", "tokens"), CASES)
def test_forge_modifiers_equal_the_a1111_hooks(family, mode, tokens):
    spec = TINY_SD1 if family == "sd1" else TINY_SDXL
    unet = build_ldm_unet(spec, seed=1).eval()
    base = "SD1" if family == "sd1" else "SDXL"
    gen = torch.Generator().manual_seed(2)
    rows = 2 * BATCH  # Forge: one cond entry and one uncond entry, each the whole batch
    x = torch.randn(rows, 4, 32, 32, generator=gen)
    t = torch.full((rows,), 500.0)
    context = torch.randn(rows, 77, spec.context_dim, generator=gen)
    y = torch.randn(rows, unet.adm_in_channels, generator=gen) if getattr(unet, "num_classes", None) else None
    units = random_units(unet, base, x, t, context, y, tokens=tokens, weight=0.8, control_mode=mode)
    cond_or_uncond = [0, 1]
    layout = BatchLayout(images=(0, 1, 0, 1), cond=(True, True, False, False))
    ours = a1111_output(unet, units, layout, x, t, context, y)
    theirs = forge_output(unet, units, cond_or_uncond, x, t, context, y)
    plain = forge_output(unet, [], cond_or_uncond, x, t, context, y)
    assert (ours - plain).abs().max() > 1e-3  # the units do something
    assert (ours - theirs).abs().max() <= 1e-6


def test_call_layout_reads_forge_chunks():
    assert forge_unet.call_layout(4, [0, 1]) == BatchLayout(images=(0, 1, 0, 1), cond=(True, True, False, False))
    assert forge_unet.call_layout(3, [1]) == BatchLayout(images=(0, 1, 2), cond=(False,) * 3)
    with pytest.raises(ValueError):
        forge_unet.call_layout(3, [0, 1])


def test_fused_coadapter_unit_gives_the_same_output_on_both_hosts():
    from t2i_ext import fuse

    unet = build_ldm_unet(TINY_SD1, seed=1).eval()
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(4, 4, 32, 32, generator=gen)
    t = torch.full((4,), 300.0)
    context = torch.randn(4, 77, TINY_SD1.context_dim, generator=gen)
    shapes = block_outputs(unet, "SD1", x[:2], t[:2], context[:2])
    fuser = CoAdapterFuser(unet_channels=[s[1] for s in shapes], width=TINY_SD1.context_dim, num_head=4, layers=1)
    sketch = [torch.randn(2, *s[1:], generator=gen) for s in shapes]
    style = torch.randn(2, 8, TINY_SD1.context_dim, generator=gen)
    unit = fuse(fuser.eval(), [("sketch", sketch, 1.0), ("style", style, 0.8)])
    assert unit.maps and unit.tokens is not None
    layout = BatchLayout(images=(0, 1, 0, 1), cond=(True, True, False, False))
    ours = a1111_output(unet, [unit], layout, x, t, context, None)
    theirs = forge_output(unet, [unit], [0, 1], x, t, context, None)
    assert (ours - theirs).abs().max() <= 1e-6

"""Injection into the WebUI's LDM UNet, checked against diffusers' UNet2DConditionModel with the same weights."""

import pytest
import torch

import t2i_ext
from t2i_ext import AdapterUnit, BatchLayout, ControlMode, InjectionError
from t2i_ext.nets import FullAdapter, FullAdapterXL, LightAdapter

from .reference import TINY_CHANNELS

CTX = 32  # tiny UNets' context width


def _features(adapter_cls, height, width, batch=1, seed=0, scale=1.0):
    torch.manual_seed(seed)
    adapter = adapter_cls(3, TINY_CHANNELS).eval()
    with torch.no_grad():
        return [f * scale for f in adapter(torch.rand(batch, 3, height, width))]


def _inputs(rows, height, width, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, 4, height // 8, width // 8, generator=g)
    t = torch.full((rows,), 500.0)
    context = torch.randn(rows, 12, CTX, generator=g)
    return x, t, context


@torch.no_grad()
def _ldm(unet, x, t, context, units=(), layout=None, progress=0.0):
    with t2i_ext.inject(unet, list(units), layout=layout) as injection:
        injection.progress = progress
        return unet(x, t, context=context)


@torch.no_grad()
def _diffusers(ref, x, t, context, residuals=None):
    # diffusers' pipelines repeat the features to the batch (its mid-block residual needs an exact shape match)
    rows = x.shape[0]
    extra = (
        {}
        if residuals is None
        else {"down_intrablock_additional_residuals": [r.expand(rows, -1, -1, -1).clone() for r in residuals]}
    )
    return ref(x, t, encoder_hidden_states=context, **extra).sample


def _max(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize("size", [(256, 320), (192, 448)])
def test_sd1_injection_matches_diffusers_down_intrablock_residuals(sd1_unets, size):
    ldm, ref = sd1_unets
    feats = _features(FullAdapter, *size)
    x, t, c = _inputs(2, *size)  # batch 2 as under CFG; batch-1 features broadcast to both rows
    ours = _ldm(ldm, x, t, c, [AdapterUnit(features=feats)])
    expected = _diffusers(ref, x, t, c, feats)
    plain = _diffusers(ref, x, t, c)
    assert _max(ours, expected) <= 1e-5
    assert _max(ours, plain) > 1e-2  # the features change the result


@pytest.mark.parametrize("size", [(256, 256), (256, 384)])
def test_sdxl_features_land_after_downsample_levels_and_middle_block(sdxl_unets, size):
    ldm, ref = sdxl_unets
    feats = _features(FullAdapterXL, *size)
    x, t, c = _inputs(2, *size)
    ours = _ldm(ldm, x, t, c, [AdapterUnit(features=feats)])
    assert _max(ours, _diffusers(ref, x, t, c, feats)) <= 1e-5
    assert _max(ours, _diffusers(ref, x, t, c)) > 1e-2


@pytest.fixture
def webui_cat_fix(monkeypatch):
    """The WebUI's ``TorchHijackForUnet`` (modules/sd_hijack_unet.py, v1.10.1): the LDM UNet's ``th.cat`` resizes the
    upsampled tensor to its skip connection with nearest interpolation, so sizes need only be multiples of 8."""
    from ldm.modules.diffusionmodules import openaimodel

    class TorchWithResizingCat:
        def __getattr__(self, name):
            return getattr(torch, name)

        @staticmethod
        def cat(tensors, *args, **kwargs):
            if len(tensors) == 2 and tensors[0].shape[-2:] != tensors[1].shape[-2:]:
                tensors = (
                    torch.nn.functional.interpolate(tensors[0], tensors[1].shape[-2:], mode="nearest"),
                    tensors[1],
                )
            return torch.cat(tensors, *args, **kwargs)

    monkeypatch.setattr(openaimodel, "th", TorchWithResizingCat())


def _middle_output(unet, middle, call):
    """Run ``call`` and return ``middle``'s output as it stands after the forward (diffusers adds in place)."""
    seen = []
    handle = middle.register_forward_hook(lambda m, a, out: seen.append(out))
    try:
        final = call()
    finally:
        handle.remove()
    return seen[0], final


# sd1 264×392: latent 33×49, levels 33/17/9/5 × 49/25/13/7, odd at every level and not square (the pattern of
# 520×776 at a sixth of the attention cost: 34 s → 3 s)
@pytest.mark.parametrize(
    "family, size", [("sd1", (264, 264)), ("sd1", (264, 392)), ("sdxl", (272, 208)), ("sdxl", (528, 784))]
)
def test_odd_but_legal_sizes_work_end_to_end_and_the_encoder_matches_diffusers(
    sd1_unets, sdxl_unets, webui_cat_fix, family, size
):
    # At sizes that give odd latent levels the two UNets upsample differently (the WebUI resizes after the
    # upsampling conv, diffusers before), so the final outputs differ by design; the encoder path, where the
    # features go, must still agree exactly. Its end is the middle block's output.
    ldm, ref = sd1_unets if family == "sd1" else sdxl_unets
    feats = _features(FullAdapter if family == "sd1" else FullAdapterXL, *size)
    x, t, c = _inputs(2, *size)
    with torch.no_grad(), t2i_ext.inject(ldm, [AdapterUnit(features=feats)]):
        ours_mid, ours = _middle_output(ldm, ldm.middle_block, lambda: ldm(x, t, context=c))
    ref_mid, _ = _middle_output(ref, ref.mid_block, lambda: _diffusers(ref, x, t, c, feats))
    plain = _ldm(ldm, x, t, c)
    assert ours.shape == x.shape
    # mid-block activations of the random UNet reach ~10, so the fp32 bound is relative to their size
    assert _max(ours_mid, ref_mid) <= 1e-5 * max(1.0, ref_mid.abs().max().item())
    assert _max(ours, plain) > 1e-2


def test_sdxl_injection_points_are_input_blocks_3_5_8_and_middle(sdxl_unets):
    ldm, _ = sdxl_unets
    points = t2i_ext.injection_points(ldm, t2i_ext.SDXL)
    assert points == [ldm.input_blocks[3], ldm.input_blocks[5], ldm.input_blocks[8], ldm.middle_block]


def test_sd1_injection_points_are_input_blocks_2_5_8_11(sd1_unets):
    ldm, _ = sd1_unets
    assert t2i_ext.injection_points(ldm, t2i_ext.SD1) == [ldm.input_blocks[i] for i in (2, 5, 8, 11)]


def test_several_units_are_summed_with_their_weights(sd1_unets):
    ldm, ref = sd1_unets
    a, b = _features(FullAdapter, 128, 128, seed=1), _features(LightAdapter, 128, 128, seed=2)
    x, t, c = _inputs(2, 128, 128)
    ours = _ldm(ldm, x, t, c, [AdapterUnit(features=a, weight=0.7), AdapterUnit(features=b, weight=-0.4)])
    summed = [0.7 * fa + -0.4 * fb for fa, fb in zip(a, b)]
    assert _max(ours, _diffusers(ref, x, t, c, summed)) <= 1e-5


def test_weight_zero_equals_no_adapter(sd1_unets):
    ldm, _ = sd1_unets
    x, t, c = _inputs(2, 128, 128)
    plain = _ldm(ldm, x, t, c)
    assert torch.equal(_ldm(ldm, x, t, c, [AdapterUnit(features=_features(FullAdapter, 128, 128), weight=0.0)]), plain)


def test_prompt_more_important_uses_soft_level_weights(sd1_unets):
    ldm, ref = sd1_unets
    feats = _features(FullAdapter, 128, 128)
    x, t, c = _inputs(2, 128, 128)
    ours = _ldm(ldm, x, t, c, [AdapterUnit(features=feats, weight=0.8, control_mode="prompt")])
    soft = [f * 0.8 * s for f, s in zip(feats, (0.25, 0.62, 0.825, 1.0))]
    assert _max(ours, _diffusers(ref, x, t, c, soft)) <= 1e-5


def test_adapter_more_important_touches_conditional_rows_only(sd1_unets):
    ldm, _ = sd1_unets
    feats = _features(FullAdapter, 128, 128)
    x, t, c = _inputs(4, 128, 128)
    layout = BatchLayout(images=(0, 1, 0, 1), cond=(True, True, False, False))  # the WebUI's [cond…, uncond…]
    plain = _ldm(ldm, x, t, c)
    balanced = _ldm(ldm, x, t, c, [AdapterUnit(features=feats)])
    adapter_first = _ldm(ldm, x, t, c, [AdapterUnit(features=feats, control_mode=ControlMode.ADAPTER)], layout)
    assert _max(adapter_first[:2], balanced[:2]) <= 1e-6
    assert torch.equal(adapter_first[2:], plain[2:])


def test_adapter_more_important_without_a_layout_is_an_error(sd1_unets):
    ldm, _ = sd1_unets
    x, t, c = _inputs(2, 128, 128)
    with pytest.raises(InjectionError, match="conditional rows: set injection.layout"):
        _ldm(ldm, x, t, c, [AdapterUnit(features=_features(FullAdapter, 128, 128), control_mode="adapter")])


def test_per_image_features_follow_the_batch_layout(sd1_unets):
    ldm, ref = sd1_unets
    feats = _features(FullAdapter, 128, 128, batch=2)  # one condition image per job image
    x, t, c = _inputs(4, 128, 128)
    layout = BatchLayout.cfg(2, uncond_first=False)  # rows: cond0, cond1, uncond0, uncond1
    ours = _ldm(ldm, x, t, c, [AdapterUnit(features=feats)], layout)
    per_row = [torch.cat([f[0:1], f[1:2], f[0:1], f[1:2]]) for f in feats]
    assert _max(ours, _diffusers(ref, x, t, c, per_row)) <= 1e-5


def test_per_image_features_without_layout_need_one_row_per_image(sd1_unets):
    ldm, _ = sd1_unets
    feats = _features(FullAdapter, 128, 128, batch=2)
    x, t, c = _inputs(4, 128, 128)
    with pytest.raises(InjectionError, match="2 images but the UNet was called with 4 rows"):
        _ldm(ldm, x, t, c, [AdapterUnit(features=feats)])
    with pytest.raises(InjectionError, match="layout describes 2 rows but the UNet was called with 4"):
        _ldm(ldm, x, t, c, [AdapterUnit(features=feats)], BatchLayout.all_cond(2))


@pytest.mark.parametrize(
    "start, end, progress, active",
    [
        (0.0, 1.0, 0.95, True),
        (0.0, 0.5, 0.5, False),
        (0.0, 0.5, 0.4, True),
        (0.3, 1.0, 0.2, False),
        (0.3, 0.6, 0.3, True),
    ],
)
def test_step_window_switches_the_unit_on_and_off(sd1_unets, start, end, progress, active):
    ldm, _ = sd1_unets
    x, t, c = _inputs(2, 128, 128)
    unit = AdapterUnit(features=_features(FullAdapter, 128, 128), start=start, end=end)
    out = _ldm(ldm, x, t, c, [unit], progress=progress)
    assert torch.equal(out, _ldm(ldm, x, t, c)) != active


def test_style_tokens_extend_conditional_context_and_pad_unconditional_with_its_own_tail(sd1_unets):
    ldm, _ = sd1_unets
    x, t, c = _inputs(2, 128, 128)
    tokens = torch.randn(1, 8, CTX)
    layout = BatchLayout.cfg(1)  # [uncond, cond]
    ours = _ldm(ldm, x, t, c, [AdapterUnit(features=tokens, weight=0.5)], layout)
    uncond_ctx = torch.cat([c[0:1], c[0:1, -8:]], dim=1)
    cond_ctx = torch.cat([c[1:2], 0.5 * tokens], dim=1)
    with torch.no_grad():
        expected = ldm(x, t, context=torch.cat([uncond_ctx, cond_ctx]))
    assert _max(ours, expected) <= 1e-6
    # positional context (the WebUI's sgm wrapper passes it by keyword, LDM's by position) works the same
    with torch.no_grad(), t2i_ext.inject(ldm, [AdapterUnit(features=tokens, weight=0.5)], layout):
        assert _max(ldm(x, t, c), expected) <= 1e-6


def test_style_tokens_of_the_wrong_width_are_rejected(sd1_unets):
    ldm, _ = sd1_unets
    x, t, c = _inputs(2, 128, 128)
    with pytest.raises(InjectionError, match="768"):
        _ldm(ldm, x, t, c, [AdapterUnit(features=torch.randn(1, 8, 768))], BatchLayout.cfg(1))


def test_sdxl_adapter_on_sd1_unet_fails_before_any_hook_is_installed(sd1_unets):
    ldm, _ = sd1_unets
    feats = _features(FullAdapterXL, 128, 128)
    with pytest.raises(InjectionError, match="SDXL adapter needs a UNet with 3 resolution levels"):
        with t2i_ext.inject(ldm, [AdapterUnit(features=feats)]):
            pass
    assert _no_hooks(ldm)


def test_mixing_sd1_and_sdxl_units_is_rejected(sd1_unets):
    ldm, _ = sd1_unets
    units = [
        AdapterUnit(features=_features(FullAdapter, 128, 128)),
        AdapterUnit(features=_features(FullAdapterXL, 128, 128)),
    ]
    with pytest.raises(InjectionError, match="cannot be mixed"):
        with t2i_ext.inject(ldm, units):
            pass


def test_condition_of_the_wrong_size_names_the_cause(sd1_unets):
    ldm, _ = sd1_unets
    x, t, c = _inputs(2, 128, 128)
    with pytest.raises(InjectionError, match="must have the generation's size"):
        _ldm(ldm, x, t, c, [AdapterUnit(features=_features(FullAdapter, 256, 256))])
    assert _no_hooks(ldm)


def _no_hooks(module):
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in module.modules())


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_hooks_are_removed_on_exceptions_and_interrupts_and_the_unet_is_unchanged(sd1_unets, error):
    ldm, _ = sd1_unets
    x, t, c = _inputs(2, 128, 128)
    before = _ldm(ldm, x, t, c)
    units = [AdapterUnit(features=_features(FullAdapter, 128, 128)), AdapterUnit(features=torch.randn(1, 8, CTX))]
    with pytest.raises(error):
        with torch.no_grad(), t2i_ext.inject(ldm, units, BatchLayout.cfg(1)):
            assert not _no_hooks(ldm)
            ldm(x, t, context=c)
            raise error("interrupted mid-sampling")
    assert _no_hooks(ldm)
    assert "forward" not in vars(ldm)  # UNet.forward was never replaced
    with torch.no_grad():
        assert torch.equal(ldm(x, t, context=c), before)


def test_other_hooks_on_the_same_blocks_keep_working(sd1_unets):
    """The WebUI's lowvram mode moves blocks with forward pre-hooks; such hooks must survive and still run."""
    ldm, _ = sd1_unets
    calls = []
    handle = ldm.input_blocks[2].register_forward_pre_hook(lambda m, a: calls.append("pre"))
    try:
        x, t, c = _inputs(2, 128, 128)
        _ldm(ldm, x, t, c, [AdapterUnit(features=_features(FullAdapter, 128, 128))])
        assert calls == ["pre"]
        assert len(ldm.input_blocks[2]._forward_pre_hooks) == 1  # ours gone, theirs kept
    finally:
        handle.remove()


def test_features_in_another_dtype_are_converted_once_per_device_and_dtype(sd1_unets):
    ldm, _ = sd1_unets
    feats = _features(FullAdapter, 128, 128)
    x, t, c = _inputs(2, 128, 128)
    expected = _ldm(ldm, x, t, c, [AdapterUnit(features=feats)])
    with torch.no_grad(), t2i_ext.inject(ldm, [AdapterUnit(features=[f.double() for f in feats])]) as injection:
        for _ in range(3):
            out = ldm(x, t, context=c)
        assert len(injection._converted) == 4  # one fp32 copy per level, not one per step
    assert _max(out, expected) <= 1e-6


def test_unit_validation_messages():
    f = _features(FullAdapter, 64, 64)
    with pytest.raises(InjectionError, match="start ≤ end"):
        AdapterUnit(features=f, start=0.8, end=0.2)
    with pytest.raises(InjectionError, match="finite number"):
        AdapterUnit(features=f, weight=float("nan"))
    with pytest.raises(InjectionError, match="unknown control_mode 'louder'"):
        AdapterUnit(features=f, control_mode="louder")
    with pytest.raises(InjectionError, match="expected 4 feature maps"):
        AdapterUnit(features=f[:3])
    with pytest.raises(InjectionError, match="no features"):
        AdapterUnit()


def test_a_layout_function_is_asked_before_every_unet_call(sd1_unets):
    """Hosts that split CFG batches themselves tell each call's rows from the call (here: by its context)."""
    ldm, _ = sd1_unets
    feats = _features(FullAdapter, 128, 128)
    x, t, c = _inputs(2, 128, 128)
    seen = []

    def layout_fn(x_in, context):
        seen.append(x_in.shape[0])
        return BatchLayout(images=(0,) * x_in.shape[0], cond=tuple(bool(r[0, 0] == c[0, 0, 0]) for r in context))

    unit = AdapterUnit(features=feats, control_mode="adapter")
    plain = _ldm(ldm, x, t, c)
    with torch.no_grad(), t2i_ext.inject(ldm, [unit], layout=layout_fn):
        both = ldm(x, t, context=c)
        only_second = ldm(x[1:], t[1:], context=c[1:])  # a call holding only the unconditional row
    assert seen == [2, 1]
    assert not torch.equal(both[0], plain[0]) and torch.equal(both[1], plain[1])
    assert _max(only_second[0], plain[1]) <= 1e-5  # batch-1 vs batch-2 kernels round differently


def test_a_single_unit_at_weight_one_adds_its_features_without_copies(sd1_unets):
    ldm, _ = sd1_unets
    feats = _features(FullAdapter, 128, 128)
    hidden = [torch.zeros(2, *f.shape[1:]) for f in feats]
    with t2i_ext.inject(ldm, [AdapterUnit(features=feats)]) as injection:
        assert all(injection.residual(level, h) is feats[level] for level, h in enumerate(hidden))
    with t2i_ext.inject(ldm, [AdapterUnit(features=feats, weight=0.5)]) as injection:
        assert torch.equal(injection.residual(0, hidden[0]), feats[0] * 0.5)

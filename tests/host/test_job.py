"""Per-job features: computed once, reused by a repeat job, recomputed for a new size; the hooks' lifetime."""

import numpy as np
import pytest
import torch

from t2i_ext.nets import FullAdapter
from t2i_host.job import FeatureCache, Job, UnitPlan, condition_name
from t2i_host.unit_args import UnitArgs, UnitArgsError


def tiny_adapter() -> torch.nn.Module:
    torch.manual_seed(0)
    return FullAdapter(3, [8, 16, 32, 32], 1, 8).eval()


def plan(adapter, image, **fields) -> UnitPlan:
    args = UnitArgs.parse({"model": "x", "image": image, **fields})
    return UnitPlan(
        index=0,
        args=args,
        adapter=adapter,
        model_hash="abcd1234",
        model_name="t2iadapter_canny",
        images=list(args.image),
    )


def counting(adapter):
    calls = []
    adapter.register_forward_hook(lambda *a: calls.append(1))
    return calls


IMAGE = (np.random.default_rng(0).random((40, 56, 3)) * 255).astype(np.uint8)


def test_a_repeat_job_runs_no_adapter_pass():
    adapter, cache = tiny_adapter(), FeatureCache()
    calls = counting(adapter)
    first = Job([plan(adapter, IMAGE)], annotate=None, cache=cache).units(64, 64)
    second = Job([plan(adapter, IMAGE.copy(), weight=0.3)], annotate=None, cache=cache).units(64, 64)
    assert len(calls) == 1 and cache.passes == 1 and cache.hits == 1
    assert second[0].maps[0] is first[0].maps[0] and second[0].weight == 0.3  # weight does not invalidate


def test_a_new_size_or_image_recomputes():
    adapter, cache = tiny_adapter(), FeatureCache()
    job = Job([plan(adapter, IMAGE)], annotate=None, cache=cache)
    small = job.units(64, 64)
    large = job.units(128, 96)  # the hires pass
    assert cache.passes == 2 and small[0].maps[0].shape[-2:] == (8, 8) and large[0].maps[0].shape[-2:] == (12, 16)
    Job([plan(adapter, 255 - IMAGE)], annotate=None, cache=cache).units(64, 64)
    assert cache.passes == 3


def test_annotator_parameters_are_part_of_the_key():
    adapter, cache = tiny_adapter(), FeatureCache()
    seen = []

    def annotate(name, image, **kw):
        seen.append((name, kw))
        return image

    for low in (10, 20, 10):
        p = plan(adapter, IMAGE, module="canny", threshold_a=low)
        p.annotator_params = [("low_threshold", int), ("high_threshold", int)]
        Job([p], annotate=annotate, cache=cache).units(64, 64)
    assert cache.passes == 2 and seen == [("canny", {"low_threshold": 10}), ("canny", {"low_threshold": 20})]


def test_one_condition_image_per_batch_image():
    adapter = tiny_adapter()
    images = [IMAGE, 255 - IMAGE]
    units = Job([plan(adapter, images)], annotate=None, cache=FeatureCache()).units(64, 64)
    assert units[0].batch == 2


def test_offload_sends_the_adapter_back_to_the_cpu():
    adapter = tiny_adapter()
    Job([plan(adapter, IMAGE, low_vram=True)], annotate=None, cache=FeatureCache()).units(64, 64)
    assert next(adapter.parameters()).device.type == "cpu"


def test_missing_image_names_the_field():
    adapter = tiny_adapter()
    with pytest.raises(UnitArgsError, match="field 'image'"):
        Job([plan(adapter, None)], annotate=None, cache=FeatureCache()).units(64, 64)


def test_install_and_remove_leave_the_unet_clean():
    from t2i_ext.tiny_unet import TINY_SD1, build_ldm_unet
    from t2i_ext.units import BatchLayout

    unet = build_ldm_unet(TINY_SD1).eval()
    torch.manual_seed(0)
    adapter = FullAdapter(3, list(TINY_SD1.channels), 1, 8).eval()
    x, t, ctx = torch.randn(1, 4, 8, 8), torch.tensor([10.0]), torch.randn(1, 4, TINY_SD1.context_dim)
    with torch.no_grad():
        clean = unet(x, t, ctx)
        job = Job([plan(adapter, IMAGE)], annotate=None, cache=FeatureCache())
        units = job.units(64, 64)
        job.install(unet, units, layout=BatchLayout.all_cond(1))
        job.install(unet, units, layout=BatchLayout.all_cond(1))  # re-install (hires pass) replaces, never stacks
        assert sum(len(b._forward_hooks) for b in unet.input_blocks) == 4
        guided = unet(x, t, ctx)
        job.remove()
        job.remove()
        after = unet(x, t, ctx)
    assert not job.installed and not any(b._forward_hooks for b in unet.input_blocks)
    assert not torch.equal(guided, clean) and torch.equal(after, clean)


def test_coadapter_condition_names_come_from_file_names():
    assert condition_name("coadapter-depth-sd15v1") == "depth"
    assert condition_name("t2iadapter_color_sd14v1") == "color"
    assert condition_name("my_adapter") is None


def test_style_units_encode_the_reference_and_ignore_the_size():
    from t2i_ext.nets import StyleAdapter

    torch.manual_seed(0)
    style = StyleAdapter(width=1024, context_dim=32, num_head=8, layers=1, num_token=4).eval()
    seen = []

    def annotate(name, image, **kw):
        seen.append(name)
        return torch.randn(1, 257, 1024, generator=torch.Generator().manual_seed(int(image.sum()) % 1000))

    cache = FeatureCache()
    p = plan(style, IMAGE, module="clip_vision")
    (unit,) = Job([p], annotate=annotate, cache=cache).units(64, 64)
    assert unit.tokens.shape == (1, 4, 32) and seen == ["clip_vision"]
    Job([p], annotate=annotate, cache=cache).units(128, 96)  # hires: same tokens
    assert cache.passes == 1
    with pytest.raises(UnitArgsError, match="clip_vision"):
        Job([plan(style, IMAGE)], annotate=annotate, cache=FeatureCache()).units(64, 64)


def test_a_fuser_unit_fuses_the_other_units_into_one():
    from t2i_ext.nets import CoAdapterFuser

    torch.manual_seed(0)
    fuser = CoAdapterFuser(unet_channels=(8, 16, 32, 32), width=32, num_head=4, layers=1).eval()
    sketch, depth = plan(tiny_adapter(), IMAGE), plan(tiny_adapter(), 255 - IMAGE, weight=0.5)
    sketch.model_name, depth.model_name = "coadapter-sketch-sd15v1", "coadapter-depth-sd15v1"
    depth.index = 1
    fuse_args = UnitArgs.parse({"model": "coadapter-fuser", "weight": 0.8, "guidance_end": 0.5})
    fuser_plan = UnitPlan(index=2, args=fuse_args, adapter=fuser, model_hash="f", model_name="coadapter-fuser-sd15v1")
    units = Job([sketch, depth, fuser_plan], annotate=None, cache=FeatureCache()).units(64, 64)
    assert len(units) == 1 and len(units[0].maps) == 4 and units[0].weight == 0.8 and units[0].end == 0.5
    unnamed = plan(tiny_adapter(), IMAGE)
    unnamed.model_name = "my_adapter"
    with pytest.raises(UnitArgsError, match="CoAdapter condition"):
        Job([unnamed, fuser_plan], annotate=None, cache=FeatureCache()).units(64, 64)


def test_hr_option_picks_the_passes_a_unit_guides():
    adapter = tiny_adapter()
    low, high = plan(adapter, IMAGE, hr_option="Low res only"), plan(adapter, IMAGE, hr_option="High res only")
    both = plan(adapter, IMAGE)
    job = Job([low, high, both], annotate=None, cache=FeatureCache())
    assert len(job.units(64, 64, hires=False)) == 2
    assert len(job.units(128, 128, hires=True)) == 2
    assert len(job.units(64, 64)) == 3


def test_a_missing_annotator_weight_file_is_a_422_naming_the_module():
    from annotators.weights import WeightsUnavailableError

    def annotate(name, image, **params):
        raise WeightsUnavailableError("clip_vision.bin is missing; put it into models/annotators")

    job = Job([plan(tiny_adapter(), IMAGE, module="canny")], annotate=annotate, cache=FeatureCache())
    with pytest.raises(UnitArgsError, match="put it into models/annotators") as info:
        job.units(64, 64)
    assert info.value.field == "module" and info.value.status_code == 422


def test_an_adapter_with_nan_outputs_is_a_422_naming_the_model():
    adapter = tiny_adapter()
    with torch.no_grad():
        next(adapter.parameters()).fill_(float("inf"))
    with pytest.raises(UnitArgsError, match="NaN or infinite") as info:
        Job([plan(adapter, IMAGE)], annotate=None, cache=FeatureCache()).units(64, 64)
    assert info.value.field == "model"


def test_an_annotator_sees_transparency_as_white():
    rgba = np.zeros((64, 64, 4), np.uint8)  # black strokes on a transparent canvas
    rgba[20:40, 30, 3] = 255
    seen = []

    def annotate(name, image, **params):
        from annotators.image import to_rgb_uint8

        seen.append(to_rgb_uint8(image))
        return seen[-1]

    job = Job([plan(tiny_adapter(), rgba, module="invert")], annotate=annotate, cache=FeatureCache())
    job.units(64, 64)
    assert seen[0][0, 0].tolist() == [255, 255, 255] and seen[0][25, 30].tolist() == [0, 0, 0]

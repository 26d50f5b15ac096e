"""load_adapter: every container, detection, descriptors, and parity with diffusers after loading."""

import json

import pytest
import torch
from safetensors.torch import save_file

import t2i_ext
from t2i_ext import SD1, SDXL

from .reference import ADAPTER_CONFIGS, TINY_CHANNELS, diffusers_adapter, to_original_keys

SPATIAL = list(ADAPTER_CONFIGS)


def _original_sd(ref, name):
    return to_original_keys(ref.state_dict(), name == "light", ref.config.num_res_blocks)


def _write(container: str, ref, name: str, folder):
    """Write ``ref``'s weights the way ``container`` stores them; returns (path or state dict, precision)."""
    sd = _original_sd(ref, name)
    half = {k: v.half() for k, v in sd.items()}
    path = folder / "adapter"
    if container == "pth":
        torch.save(sd, path.with_suffix(".pth"))
        return path.with_suffix(".pth"), "fp32"
    if container == "pth_fp16":
        torch.save(half, path.with_suffix(".pth"))
        return path.with_suffix(".pth"), "fp16"
    if container == "ckpt_state_dict":
        torch.save({"state_dict": sd, "epoch": 3}, path.with_suffix(".ckpt"))
        return path.with_suffix(".ckpt"), "fp32"
    if container == "pth_adapter_container":
        torch.save({"adapter": sd}, path.with_suffix(".pth"))
        return path.with_suffix(".pth"), "fp32"
    if container == "pth_adapter_prefix":
        torch.save({"adapter." + k: v for k, v in sd.items()}, path.with_suffix(".pth"))
        return path.with_suffix(".pth"), "fp32"
    if container == "safetensors":
        save_file(sd, str(path.with_suffix(".safetensors")))
        return path.with_suffix(".safetensors"), "fp32"
    if container == "safetensors_fp16":
        save_file(half, str(path.with_suffix(".safetensors")))
        return path.with_suffix(".safetensors"), "fp16"
    if container == "diffusers_safetensors":
        ref.save_pretrained(path)
        return path, "fp32"
    if container == "diffusers_bin":
        ref.save_pretrained(path, safe_serialization=False)
        return path, "fp32"
    if container == "diffusers_fp16_safetensors":
        ref.half().save_pretrained(path, variant="fp16")
        ref.float()
        return path, "fp16"
    if container == "diffusers_fp16_bin":
        ref.half().save_pretrained(path, variant="fp16", safe_serialization=False)
        ref.float()
        return path, "fp16"
    if container == "state_dict":
        return sd, "fp32"
    raise AssertionError(container)


CONTAINERS = [
    "pth",
    "pth_fp16",
    "ckpt_state_dict",
    "pth_adapter_container",
    "pth_adapter_prefix",
    "safetensors",
    "safetensors_fp16",
    "diffusers_safetensors",
    "diffusers_bin",
    "diffusers_fp16_safetensors",
    "diffusers_fp16_bin",
    "state_dict",
]


def _max_diff(ours, ref, x, precision):
    if precision == "fp16":  # the reference sees the same fp16-rounded weights, computed in fp32
        with torch.no_grad():
            for p in ref.parameters():
                p.copy_(p.half().float())
    with torch.no_grad():
        return max((a - b).abs().max().item() for a, b in zip(ours(x), ref(x)))


@pytest.mark.parametrize("container", CONTAINERS)
@pytest.mark.parametrize("name", SPATIAL)
def test_every_container_loads_and_matches_diffusers(name, container, tmp_path):
    ref = diffusers_adapter(name, TINY_CHANNELS)
    source, precision = _write(container, ref, name, tmp_path)
    adapter = t2i_ext.load_adapter(source)
    assert adapter.kind == ("light" if name == "light" else "full")
    assert adapter.base == (SDXL if name.startswith("xl") else SD1)
    assert adapter.in_channels == ref.config.in_channels
    assert next(adapter.parameters()).dtype == torch.float32
    assert ("diffusers" in adapter.source_format) == container.startswith("diffusers")
    x = torch.rand(1, adapter.in_channels, 80, 112)
    assert _max_diff(adapter, ref, x, precision) <= 1e-5


@pytest.mark.parametrize("name", SPATIAL)
@pytest.mark.parametrize("container", ["pth", "diffusers_safetensors"])
def test_published_size_adapters_load_from_original_and_diffusers_files(name, container, tmp_path):
    ref = diffusers_adapter(name)
    source, precision = _write(container, ref, name, tmp_path)
    adapter = t2i_ext.load_adapter(source)
    assert adapter.num_parameters == sum(p.numel() for p in ref.parameters())
    x = torch.rand(1, adapter.in_channels, 64, 96)
    assert _max_diff(adapter, ref, x, precision) <= 1e-5


def test_descriptor_says_what_the_adapter_is(tmp_path):
    ref = diffusers_adapter("xl_3ch")
    ref.save_pretrained(tmp_path / "canny-sdxl")
    adapter = t2i_ext.load_adapter(tmp_path / "canny-sdxl")
    assert adapter.describe() == "SDXL · full · 3-channel · 79.0 M params · sizes ×16"
    assert adapter.pixel_multiple == 16 and adapter.num_parameters == 79_028_160


def test_requested_dtype_and_device_are_applied(tmp_path):
    ref = diffusers_adapter("full_1ch", TINY_CHANNELS)
    adapter = t2i_ext.load_adapter(_original_sd(ref, "full_1ch"), device="cpu", dtype=torch.float16)
    assert {p.dtype for p in adapter.parameters()} == {torch.float16}
    assert not any(p.requires_grad for p in adapter.parameters()) and not adapter.training


def test_diffusers_config_decides_sdxl_when_channels_are_ambiguous(tmp_path):
    # a 4-channel SD1 adapter would also have 256 conv_in channels; config.json settles the family
    ref = diffusers_adapter("full_1ch", TINY_CHANNELS)
    ref.save_pretrained(tmp_path / "a")
    config = json.loads((tmp_path / "a/config.json").read_text())
    assert t2i_ext.load_adapter(tmp_path / "a").base == SD1
    config["adapter_type"] = "full_adapter_xl"
    config["downscale_factor"] = 8  # keeps the 64-channel conv_in valid; only the family changes
    (tmp_path / "a/config.json").write_text(json.dumps(config))
    assert t2i_ext.load_adapter(tmp_path / "a").base == SDXL


def test_style_and_fuser_load_from_original_files(tmp_path):
    from t2i_ext.nets import CoAdapterFuser, StyleAdapter

    style = StyleAdapter(width=64, context_dim=32, num_head=8, layers=2, num_token=8)
    torch.save(style.state_dict(), tmp_path / "style.pth")
    loaded = t2i_ext.load_adapter(tmp_path / "style.pth")
    assert loaded.kind == "style" and loaded.num_token == 8 and loaded.context_dim == 32
    x = torch.randn(2, 257, 64)
    assert torch.equal(loaded(x), style.eval()(x))

    fuser = CoAdapterFuser((8, 16, 32, 32), width=32, num_head=8, layers=2)
    save_file({k: v.contiguous() for k, v in fuser.state_dict().items()}, str(tmp_path / "fuser.safetensors"))
    loaded = t2i_ext.load_adapter(tmp_path / "fuser.safetensors")
    assert loaded.kind == "fuser" and loaded.describe().startswith("SD1 · fuser")

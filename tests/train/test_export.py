"""Exported adapters reload through this extension's loader and through diffusers with the same outputs."""

import pytest
import torch

import t2i_ext
from t2i_train.adapters import make_adapter
from t2i_train.export import export_adapter
from t2i_train.tiny import tiny_unet


@pytest.mark.parametrize(
    ("family", "architecture", "channels"),
    [("sd1", "full", 1), ("sd1", "full", 3), ("sd1", "light", 3), ("sdxl", "full", 1), ("sdxl", "full", 3)],
)
def test_exported_files_reload_through_our_loader_and_diffusers(tmp_path, family, architecture, channels):
    from diffusers import T2IAdapter

    base = "SDXL" if family == "sdxl" else "SD1"
    adapter = make_adapter(architecture, channels, tiny_unet(family), base, seed=1)
    with torch.no_grad():  # "trained" weights: every tensor moved away from its initialisation
        for p in adapter.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    safetensors, folder = export_adapter(adapter, tmp_path, diffusers=True)
    cond = torch.rand(1, channels, 64, 64)
    with torch.no_grad():
        want = adapter.eval()(cond)
        ours = t2i_ext.load_adapter(safetensors)
        ours_folder = t2i_ext.load_adapter(folder)
        theirs = T2IAdapter.from_pretrained(folder).eval()
        assert ours.kind == architecture and ours.base == base and ours.in_channels == channels
        for got in (ours(cond), ours_folder(cond), theirs(cond)):
            assert len(got) == 4
            diff = max((a - b).abs().max().item() for a, b in zip(got, want))
            assert diff <= 1e-5, diff

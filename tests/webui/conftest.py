"""Fixtures for the WebUI tests: the stand-in ``modules`` package goes on ``sys.path`` for this directory's tests
only and is removed from ``sys.modules`` afterwards; adapter files at the tiny UNets' widths go into the stand-in's
models folder."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from .harness import STANDIN_DIR, StandinWebUI, data_dir_env

SD1_WIDTHS = (32, 64, 128, 128)  # t2i_ext.tiny_unet.TINY_SD1 channels per level (level 3 repeats level 2)
SDXL_WIDTHS = (32, 64, 128, 128)  # TINY_SDXL: 32, 64, 128 (+ the middle block at 128)


def _save(net: torch.nn.Module, path, seed: int) -> None:
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (0.3 / max(1, p[0].numel() if p.ndim > 1 else 1) ** 0.5))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))


def write_adapters(models_dir) -> dict[str, str]:
    """Adapter files named like the published ones, with random weights at the tiny widths."""
    from t2i_ext.nets.full import FullAdapter, FullAdapterXL

    folder = models_dir / "T2I-Adapter"
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "canny": (FullAdapter(1, SD1_WIDTHS), "t2iadapter_canny_sd14v1.safetensors", 1),
        "sketch_rgb": (FullAdapter(3, SD1_WIDTHS), "t2iadapter_sketch_sd15v2.safetensors", 2),
        "xl_canny": (FullAdapterXL(3, SDXL_WIDTHS), "t2i-adapter_xl_canny.safetensors", 3),
    }
    out = {}
    for key, (net, name, seed) in files.items():
        _save(net, folder / name, seed)
        out[key] = name.rsplit(".", 1)[0]
    return out


@pytest.fixture(scope="session")
def standin(tmp_path_factory):
    pytest.importorskip("gradio", reason="the stand-in builds the extension's UI: needs gradio==3.41.2 (the WebUI's)")
    data = tmp_path_factory.mktemp("webui_data")
    saved_env = {k: os.environ.get(k) for k in data_dir_env(data)}
    os.environ.update(data_dir_env(data))
    saved_path = list(sys.path)
    sys.path.insert(0, str(STANDIN_DIR))
    before = set(sys.modules)
    torch.set_num_threads(2)
    try:
        adapters = write_adapters(data / "models")
        ui = StandinWebUI()
        ui.adapters = adapters
        ui.data_dir = data
        yield ui
    finally:
        for name in set(sys.modules) - before:
            if name == "modules" or name.startswith("modules.") or name in ("standin_models",) or name.endswith(".py"):
                del sys.modules[name]
        sys.path[:] = saved_path
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture()
def webui(standin):
    """The session's stand-in with SD1 loaded, default options, no interruption and no reported errors."""
    from modules import errors, shared

    standin.use("sd1")
    saved = dict(shared.opts.data)
    errors.reported.clear()
    shared.state.interrupted = False
    yield standin
    shared.opts.data.clear()
    shared.opts.data.update(saved)
    standin.use("sd1")

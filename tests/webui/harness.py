"""Drives the stand-in WebUI the way the real one is driven (tests only).

``StandinWebUI`` starts like ``webui.py@v1.10.1 webui()``: load scripts (built-in first, then the extension at the
repository root) -> ``before_ui_callback`` -> ``create_ui`` (``ui_settings_callback``, then per tab
``initialize_scripts`` + ``setup_ui`` inside ``gr.Blocks``) -> FastAPI app with ``Api`` -> ``app_started_callback``.
``txt2img``/``img2img`` mirror modules/txt2img.py / modules/img2img.py: build ``p`` from the UI values, assign
``p.scripts`` and ``p.script_args`` (which runs ``setup``), then ``with closing(p)``: the selectable script's ``run``
or ``process_images(p)`` between ``state.begin()``/``state.end()`` (modules/call_queue.py). Exceptions propagate
to the caller (the UI would show them).
"""

from __future__ import annotations

import contextlib
import os
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDIN_DIR = Path(__file__).resolve().parent / "standin"
TITLE = "T2I-Adapter"


#: a small, fast job: what every test job starts from (tests override fields by keyword)
JOB_DEFAULTS = {
    "prompt": "a house by a lake",
    "negative_prompt": "blurry",
    "seed": 1234,
    "steps": 6,
    "cfg_scale": 7.0,
    "width": 64,
    "height": 64,
    "sampler_name": "Euler",
    "batch_size": 1,
    "n_iter": 1,
}


def unet_hook_count(unet: torch.nn.Module) -> int:
    """Forward hooks, pre-hooks and instance-level forward overrides anywhere in ``unet``."""
    n = 0
    for m in unet.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks)
        n += len(getattr(m, "_forward_hooks_with_kwargs", {}) or {})
        n += int("forward" in m.__dict__)
    return n


class StandinWebUI:
    def __init__(self, families=("sd1", "sd2", "sdxl")):
        import gradio as gr
        from modules import api as _api_pkg  # noqa: F401
        from modules import script_callbacks, scripts, shared
        from standin_models import make_model

        self.shared = shared
        self.scripts = scripts
        self.script_callbacks = script_callbacks
        self.models = {f: make_model(f) for f in families}
        self.use("sd1" if "sd1" in families else families[0])

        scripts.load_scripts(str(STANDIN_DIR / "builtin_scripts"), [str(REPO_ROOT)])
        script_callbacks.before_ui_callback()
        # ui.py create_ui: settings are registered before the tabs are built
        script_callbacks.ui_settings_callback()
        self.blocks = {}
        for is_img2img, runner in ((False, scripts.scripts_txt2img), (True, scripts.scripts_img2img)):
            with gr.Blocks() as blocks:
                scripts.scripts_current = runner
                runner.initialize_scripts(is_img2img)
                runner.setup_ui()
            self.blocks["img2img" if is_img2img else "txt2img"] = blocks
        scripts.scripts_current = None
        self.app = None
        self.api = None

    # -- checkpoints ------------------------------------------------------------------------------------------------
    def use(self, family: str):
        """Switch the loaded checkpoint (sd_models.reload_model_weights -> model_loaded callbacks)."""
        self.shared.sd_model = self.models[family]
        self.shared.opts.sd_model_checkpoint = self.models[family].sd_checkpoint_info.title
        self.script_callbacks.model_loaded_callback(self.shared.sd_model)
        return self.shared.sd_model

    @property
    def unet(self) -> torch.nn.Module:
        return self.shared.sd_model.model.diffusion_model

    # -- scripts ----------------------------------------------------------------------------------------------------
    def runner(self, is_img2img: bool):
        return self.scripts.scripts_img2img if is_img2img else self.scripts.scripts_txt2img

    def script(self, is_img2img: bool = False):
        return self.runner(is_img2img).title_map[TITLE.lower()]

    def ui_args(self, is_img2img: bool, units: list[Any] | None = None) -> list[Any]:
        """What the Generate button sends: every input's current value (the components' defaults), with the
        extension's slice replaced by ``units`` (one value per unit, as its ``gr.State`` components would hold)."""
        runner = self.runner(is_img2img)
        values = [0] + [getattr(c, "value", None) for c in runner.inputs[1:]]
        if units is not None:
            script = self.script(is_img2img)
            width = script.args_to - script.args_from
            assert len(units) <= width, f"the panel has {width} units"
            values[script.args_from : script.args_from + len(units)] = list(units)
        return values

    def _run(self, p, args, prepare=None):
        from modules import processing

        shared = self.shared
        p.scripts = self.runner(hasattr(p, "init_images"))
        p.script_args = tuple(args)
        if prepare is not None:  # e.g. an xyz-grid axis applied to p before process_images
            prepare(p)
        shared.state.begin(job="standin")
        try:
            with closing(p):
                processed = p.scripts.run(p, *p.script_args)
                if processed is None:
                    processed = processing.process_images(p)
        finally:
            shared.state.end()
        return processed

    def img2img_batch(self, input_dir, units=None, **kwargs):
        """modules/img2img.py process_batch ("From directory"): ONE ``p`` for all files; per file
        ``images.read`` (Image.open + fix_image's exif_transpose) then ``ImageOps.exif_transpose`` again,
        ``p.init_images = [img] * batch_size``, then ``scripts.run`` or ``process_images(p)``."""
        from modules import processing
        from PIL import Image, ImageOps

        params = {**JOB_DEFAULTS, "denoising_strength": 0.75, **kwargs}
        p = processing.StableDiffusionProcessingImg2Img(sd_model=self.shared.sd_model, init_images=[None], **params)
        p.scripts = self.runner(True)
        args = tuple(self.ui_args(True, units))
        p.script_args = args
        processing.fix_seed(p)
        results = []
        self.shared.state.begin(job="standin-batch")
        try:
            with closing(p):
                files = sorted(os.path.join(input_dir, f) for f in os.listdir(input_dir))
                for path in files:
                    img = ImageOps.exif_transpose(Image.open(path))  # images.read -> fix_image
                    img = ImageOps.exif_transpose(img)
                    p.init_images = [img] * p.batch_size
                    result = p.scripts.run(p, *args)
                    if result is None:
                        result = processing.process_images(p)
                    results.append(result)
        finally:
            self.shared.state.end()
        return results

    def txt2img(self, units=None, *, script_args=None, prepare=None, **kwargs):
        from modules import processing

        params = {**JOB_DEFAULTS, **kwargs}
        # modules/txt2img.py: denoising_strength only with hires fix
        params.setdefault("denoising_strength", 0.7 if params.get("enable_hr") else None)
        p = processing.StableDiffusionProcessingTxt2Img(sd_model=self.shared.sd_model, **params)
        return self._run(p, script_args if script_args is not None else self.ui_args(False, units), prepare)

    def img2img(self, init_images, units=None, *, script_args=None, **kwargs):
        from modules import processing

        params = {**JOB_DEFAULTS, "denoising_strength": 0.75, **kwargs}
        p = processing.StableDiffusionProcessingImg2Img(
            sd_model=self.shared.sd_model, init_images=init_images, **params
        )
        return self._run(p, script_args if script_args is not None else self.ui_args(True, units))

    # -- API --------------------------------------------------------------------------------------------------------
    def client(self):
        """webui.py: the FastAPI app with the WebUI's API, then ``app_started`` callbacks (extension routes)."""
        if self.app is None:
            from threading import Lock

            from fastapi import FastAPI
            from modules.api.api import Api

            self.app = FastAPI()
            self.api = Api(self.app, Lock())
            self.script_callbacks.app_started_callback(None, self.app)
        from fastapi.testclient import TestClient

        return TestClient(self.app, raise_server_exceptions=False)


SD1_WIDTHS = (32, 64, 128, 128)  # t2i_ext.tiny_unet.TINY_SD1 channels per level (level 3 repeats level 2)
SDXL_WIDTHS = (32, 64, 128, 128)  # TINY_SDXL: 32, 64, 128 (+ the middle block at 128)


def _save(net: torch.nn.Module, path, seed: int) -> None:
    from safetensors.torch import save_file

    from t2i_ext.random_adapter import randomise  # the CLI's `random-adapter` draws its weights the same way

    torch.manual_seed(seed)
    randomise(net, seed)
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


def data_dir_env(path: Path) -> dict[str, str]:
    return {"T2I_STANDIN_DATA_DIR": str(path), "T2I_STANDIN_SCRIPT_PATH": str(STANDIN_DIR)}


@contextlib.contextmanager
def standin_session(data_dir: Path, families=("sd1", "sd2", "sdxl")):
    """The stand-in ``modules`` on ``sys.path`` (data in ``data_dir``) for the duration of the block; afterwards
    every module it brought (``modules.*``, the stand-in models, the scripts loaded by file) leaves
    ``sys.modules`` and ``sys.path``/the environment are restored."""
    saved_env = {k: os.environ.get(k) for k in data_dir_env(data_dir)}
    os.environ.update(data_dir_env(data_dir))
    saved_path = list(sys.path)
    sys.path.insert(0, str(STANDIN_DIR))
    before = set(sys.modules)
    from modules import sd_hijack_optimizations

    undo_attention = sd_hijack_optimizations.apply()
    try:
        adapters = write_adapters(Path(data_dir) / "models")
        ui = StandinWebUI(families)
        ui.adapters = adapters
        ui.data_dir = Path(data_dir)
        yield ui
    finally:
        undo_attention()
        for name in set(sys.modules) - before:
            if name.split(".")[0] in ("modules", "t2i_webui", "standin_models") or name.endswith(".py"):
                del sys.modules[name]
        sys.path[:] = saved_path
        torch.load = torch.serialization.load  # the stand-in's modules.safe replaced it, as the WebUI does
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def one_torch_thread():
    """One torch thread for the block: the tiny UNets gain nothing from two, and OpenMP spinning on a shared 2-core
    machine costs a lot."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def fresh_job_state(ui: StandinWebUI):
    """SD1 loaded, the options as they were, no interruption and no reported errors, before and after a test."""
    from modules import errors, shared

    ui.use("sd1")
    saved = dict(shared.opts.data)
    errors.reported.clear()
    shared.state.interrupted = False
    try:
        yield ui
    finally:
        shared.opts.data.clear()
        shared.opts.data.update(saved)
        ui.use("sd1")


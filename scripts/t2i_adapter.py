"""T2I-Adapter for AUTOMATIC1111 WebUI v1.10.1 and Forge: what the WebUI's script loader needs, handed to
``t2i_webui`` (which callback runs when, on which host: ``docs/webui_contract.md``)."""

from __future__ import annotations

from typing import Any

from modules import script_callbacks, scripts

from t2i_webui import TITLE, batch_folder, panel, routes, run, settings, startup, xyz

HOST = startup.start(scripts.basedir())  # A1111 or Forge, chosen once


class Script(scripts.Script):
    def title(self) -> str:
        return TITLE

    def show(self, is_img2img: bool) -> Any:
        return scripts.AlwaysVisible

    def ui(self, is_img2img: bool) -> list:
        return panel.build(self, is_img2img)

    def before_process(self, p: Any, *units: Any) -> None:
        run.release_all()  # a previous job's leftovers, if any

    def process(self, p: Any, *units: Any) -> None:
        run.start(p, units)

    def process_before_every_sampling(self, p: Any, *units: Any, **kwargs: Any) -> None:
        run.before_sampling(p, kwargs["x"], kwargs.get("c"))

    def post_sample(self, p: Any, ps: Any, *units: Any) -> None:
        run.finish(p)

    def postprocess_batch(self, p: Any, *units: Any, **kwargs: Any) -> None:
        run.finish(p)

    def postprocess(self, p: Any, processed: Any, *units: Any) -> None:
        run.finish(p)


script_callbacks.on_cfg_denoiser(run.on_cfg_denoiser, name="t2i_adapter_progress")
script_callbacks.on_before_reload(run.release_all, name="t2i_adapter_release")
script_callbacks.on_after_component(batch_folder.capture_input_dir, name="t2i_adapter_batch_input")
script_callbacks.on_ui_settings(settings.register, name="t2i_adapter_settings")
script_callbacks.on_app_started(routes.mount, name="t2i_adapter_api")
xyz.add_axes()

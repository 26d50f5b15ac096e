"""Mirrors modules/script_callbacks.py@v1.10.1: registrars ``on_*(callback, *, name=None)``, the parameter
classes and the dispatchers. As in the WebUI, every dispatcher calls each callback inside ``try/except`` and only
reports failures (``report_exception``); a callback is tagged with the file that registered it, which is what
``remove_current_script_callbacks`` matches on."""

from __future__ import annotations

import inspect
import os
from collections import namedtuple
from typing import Any

from modules import errors


class ImageSaveParams:
    def __init__(self, image, p, filename, pnginfo):
        self.image = image
        self.p = p
        self.filename = filename
        self.pnginfo = pnginfo


class CFGDenoiserParams:
    def __init__(
        self, x, image_cond, sigma, sampling_step, total_sampling_steps, text_cond, text_uncond, denoiser=None
    ):
        self.x = x  # the already-concatenated latent batch the UNet will see (cond rows, then uncond rows)
        self.image_cond = image_cond
        self.sigma = sigma
        self.sampling_step = sampling_step
        self.total_sampling_steps = total_sampling_steps
        self.text_cond = text_cond
        self.text_uncond = text_uncond
        self.denoiser = denoiser


class CFGDenoisedParams:
    def __init__(self, x, sampling_step, total_sampling_steps, inner_model):
        self.x = x
        self.sampling_step = sampling_step
        self.total_sampling_steps = total_sampling_steps
        self.inner_model = inner_model


class AfterCFGCallbackParams:
    def __init__(self, x, sampling_step, total_sampling_steps):
        self.x = x
        self.sampling_step = sampling_step
        self.total_sampling_steps = total_sampling_steps


class ExtraNoiseParams:
    def __init__(self, noise, x, xi):
        self.noise = noise
        self.x = x
        self.xi = xi


ScriptCallback = namedtuple("ScriptCallback", ["script", "callback", "name"])

_NAMES = (
    "app_started",
    "model_loaded",
    "ui_tabs",
    "ui_train_tabs",
    "ui_settings",
    "before_image_saved",
    "image_saved",
    "extra_noise",
    "cfg_denoiser",
    "cfg_denoised",
    "cfg_after_cfg",
    "before_component",
    "after_component",
    "image_grid",
    "infotext_pasted",
    "script_unloaded",
    "before_ui",
    "on_reload",
    "list_optimizers",
    "list_unets",
    "before_token_counter",
)
callback_map: dict[str, list[ScriptCallback]] = {f"callbacks_{n}": [] for n in _NAMES}


def clear_callbacks():
    for callback_list in callback_map.values():
        callback_list.clear()


def report_exception(c: ScriptCallback, job: str) -> None:
    errors.report(f"Error executing callback {job} for {c.script}", exc_info=True)


def _caller_file() -> str:
    stack = [x for x in inspect.stack() if x.filename != __file__]
    return stack[0].filename if stack else "unknown file"


def add_callback(callbacks, fun, *, name=None, category="unknown", filename=None):
    if filename is None:
        filename = _caller_file()
    callback_name = f"base/{os.path.basename(filename)}/{category}" + (f"/{name}" if name is not None else "")
    unique = callback_name
    for index in range(1000):
        if not any(x.name == unique for x in callbacks):
            break
        unique = f"{callback_name}-{index + 1}"
    callbacks.append(ScriptCallback(filename, fun, unique))


def remove_current_script_callbacks():
    filename = _caller_file()
    if filename == "unknown file":
        return
    for callback_list in callback_map.values():
        for cb in [cb for cb in callback_list if cb.script == filename]:
            callback_list.remove(cb)


def remove_callbacks_for_function(callback_func):
    for callback_list in callback_map.values():
        for cb in [cb for cb in callback_list if cb.callback == callback_func]:
            callback_list.remove(cb)


def _dispatch(kind: str, job: str, *args) -> list[Any]:
    results = []
    for c in list(callback_map[f"callbacks_{kind}"]):
        try:
            results.append(c.callback(*args))
        except Exception:
            report_exception(c, job)
    return results


def app_started_callback(demo, app):
    _dispatch("app_started", "app_started_callback", demo, app)


def model_loaded_callback(sd_model):
    _dispatch("model_loaded", "model_loaded_callback", sd_model)


def ui_tabs_callback():
    res = []
    for r in _dispatch("ui_tabs", "ui_tabs_callback"):
        res += r or []
    return res


def ui_settings_callback():
    _dispatch("ui_settings", "ui_settings_callback")


def before_image_saved_callback(params: ImageSaveParams):
    _dispatch("before_image_saved", "before_image_saved_callback", params)


def image_saved_callback(params: ImageSaveParams):
    _dispatch("image_saved", "image_saved_callback", params)


def extra_noise_callback(params: ExtraNoiseParams):
    _dispatch("extra_noise", "callbacks_extra_noise", params)


def cfg_denoiser_callback(params: CFGDenoiserParams):
    _dispatch("cfg_denoiser", "cfg_denoiser_callback", params)


def cfg_denoised_callback(params: CFGDenoisedParams):
    _dispatch("cfg_denoised", "cfg_denoised_callback", params)


def cfg_after_cfg_callback(params: AfterCFGCallbackParams):
    _dispatch("cfg_after_cfg", "cfg_after_cfg_callback", params)


def before_component_callback(component, **kwargs):
    for c in list(callback_map["callbacks_before_component"]):
        try:
            c.callback(component, **kwargs)
        except Exception:
            report_exception(c, "before_component_callback")


def after_component_callback(component, **kwargs):
    for c in list(callback_map["callbacks_after_component"]):
        try:
            c.callback(component, **kwargs)
        except Exception:
            report_exception(c, "after_component_callback")


def infotext_pasted_callback(infotext: str, params: dict[str, Any]):
    _dispatch("infotext_pasted", "infotext_pasted", infotext, params)


def script_unloaded_callback():
    _dispatch("script_unloaded", "script_unloaded")


def before_ui_callback():
    _dispatch("before_ui", "before_ui")


def list_optimizers_callback():
    res = []
    _dispatch("list_optimizers", "list_optimizers", res)
    return res


def list_unets_callback():
    res = []
    _dispatch("list_unets", "list_unets", res)
    return res


def before_token_counter_callback(params):
    _dispatch("before_token_counter", "before_token_counter", params)


def _registrar(kind: str):
    def register(callback, *, name=None):
        add_callback(callback_map[f"callbacks_{kind}"], callback, name=name, category=kind, filename=_caller_file())

    register.__name__ = f"on_{kind}"
    return register


on_app_started = _registrar("app_started")
on_model_loaded = _registrar("model_loaded")
on_ui_tabs = _registrar("ui_tabs")
on_ui_train_tabs = _registrar("ui_train_tabs")
on_ui_settings = _registrar("ui_settings")
on_before_image_saved = _registrar("before_image_saved")
on_image_saved = _registrar("image_saved")
on_extra_noise = _registrar("extra_noise")
on_cfg_denoiser = _registrar("cfg_denoiser")
on_cfg_denoised = _registrar("cfg_denoised")
on_cfg_after_cfg = _registrar("cfg_after_cfg")
on_before_component = _registrar("before_component")
on_after_component = _registrar("after_component")
on_image_grid = _registrar("image_grid")
on_infotext_pasted = _registrar("infotext_pasted")
on_script_unloaded = _registrar("script_unloaded")
on_before_ui = _registrar("before_ui")
on_before_reload = _registrar("on_reload")
on_list_optimizers = _registrar("list_optimizers")
on_list_unets = _registrar("list_unets")
on_before_token_counter = _registrar("before_token_counter")

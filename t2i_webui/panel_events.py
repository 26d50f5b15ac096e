"""What the unit panel's widgets do: the unit's state from its widgets, an annotator's parameter widgets, the
condition-map preview."""

from __future__ import annotations

from typing import Any

import gradio as gr
import numpy as np
import torch

import annotators
from t2i_host import control_types
from t2i_host.job import FeatureCache, Job, UnitPlan
from t2i_host.unit_args import UnitArgs

from . import annotator_info, models

#: the widgets whose values make a unit's state, in the order ``unit_dict`` takes them
STATE_WIDGETS = (
    "enabled",
    "upload",
    "canvas",
    "module",
    "res",
    "a",
    "b",
    "options",
    "model",
    "weight",
    "start",
    "end",
    "resize",
    "control",
    "pixel_perfect",
    "low_vram",
    "batch_folder",
    "control_type",
)

#: the image widgets, held server-side (``gr.State``) and sent by the browser only on their own events: gradio 4's
#: editor reads its whole canvas back from WebGL for every event that lists it as an input (minutes in a
#: software-rendered browser), and gradio 3 would send the uploaded picture again with every slider move
HELD = ("upload", "canvas")


def hold(value: Any) -> Any:
    """A widget's value that is the picture as it is (an upload, gradio 3's sketch), into its ``gr.State``."""
    return value


def _blank(image: Any) -> bool:
    return image is None or (isinstance(image, np.ndarray) and image.size and image.min() == image.max())


def unit_dict(*values: Any, **named: Any) -> dict:
    """The unit's state from its widgets (what ``process`` receives in the UI); the values of ``STATE_WIDGETS``."""
    w = dict(zip(STATE_WIDGETS, values), **named)
    canvas = w["canvas"]
    upload = w["upload"]
    image = upload if not _blank(upload) else (canvas if not _blank(canvas) else None)
    pres, pa, pb, bools = annotator_info.layout(w["module"])
    options = w["options"] or []
    return {
        "enabled": bool(w["enabled"]),
        "model": "" if w["model"] in (None, "None") else w["model"],
        "module": w["module"] or "none",
        "image": image,
        "weight": w["weight"],
        "guidance_start": w["start"],
        "guidance_end": w["end"],
        "resize_mode": w["resize"],
        "processor_res": int(w["res"]) if pres is not None else -1,
        "threshold_a": w["a"] if pa is not None else -1,
        "threshold_b": w["b"] if pb is not None else -1,
        "control_mode": w["control"],
        "pixel_perfect": bool(w["pixel_perfect"]),
        "low_vram": bool(w["low_vram"]),
        "annotator_params": {n: n in options for n in bools},
        "batch_folder": w["batch_folder"] or "",
        "control_type": w.get("control_type") or "All",
    }


def _slider_update(param: Any, current: Any, keep: bool) -> dict:
    if param is None:
        return gr.update(visible=False)
    in_range = isinstance(current, (int, float)) and param.minimum <= current <= param.maximum
    return gr.update(
        visible=True,
        minimum=param.minimum,
        maximum=param.maximum,
        step=param.step,
        label=param.label or param.name,
        value=current if keep and in_range else param.default,
    )


def configure_annotator(module: str, res: Any, a: Any, b: Any, options: Any, owner: str) -> list:
    """Show ``module``'s parameters. The sliders start at the annotator's own defaults (as the API's -1 does) when the
    user picks another annotator; they keep their values when they already belong to ``module`` (``owner``: the
    annotator they were last set for, which pasting an infotext sets together with the pasted values)."""
    pres, pa, pb, bools = annotator_info.layout(module)
    keep = owner == module
    defaults = [n for n in bools if annotators.get(module).defaults[n]]
    chosen = [n for n in (options or []) if n in bools] if keep else defaults
    return [
        _slider_update(pres, res, keep),
        _slider_update(pa, a, keep),
        _slider_update(pb, b, keep),
        gr.update(visible=bool(bools), choices=bools, value=chosen),
        module,
    ]


def pick_control_type(name: str, module: str, model: str) -> list:
    """A Control Type chosen (or pasted): the annotator and model lists narrowed to it. The annotator becomes the
    type's default unless it already is one of the type's; the model stays when it is listed, else the type's first
    (so pasting a unit's type, annotator and model together keeps all three). "All" lists all and changes nothing."""
    chosen = control_types.find(name or "All") or control_types.ALL
    module_list = control_types.modules(chosen, [(a.name, a.suits) for a in annotators.list_annotators()])
    model_list = models.choices(control_type=chosen.name)
    if module not in module_list[1:] and chosen is not control_types.ALL:
        module = control_types.default_module(chosen, module_list)
    if model not in model_list[1:]:
        model = control_types.default_model(chosen, model_list)
    return [gr.update(choices=module_list, value=module), gr.update(choices=model_list, value=model)]


def run_preview(*values: Any) -> Any:
    """The condition map the unit's annotator makes of its image."""
    args = UnitArgs.parse({**unit_dict(*values), "enabled": True}, None, annotator_info.known_modules())
    if not args.image:
        raise gr.Error("Upload or draw a condition image first.")
    if args.module == "none":
        return args.image[0]
    plan = UnitPlan(
        index=0,
        args=args,
        adapter=torch.nn.Identity(),
        model_hash="",
        images=list(args.image),
        annotator_params=annotator_info.param_types(args.module),
    )
    h, w = args.image[0].shape[:2]
    out = Job([plan], annotators.run, FeatureCache(0)).condition_maps(plan, list(args.image), w, h)[0]
    if not isinstance(out, np.ndarray) or out.ndim not in (2, 3):
        raise gr.Error(f"'{args.module}' produces tokens for the style adapter, not a picture.")
    return out

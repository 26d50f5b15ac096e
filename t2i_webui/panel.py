"""The T2I-Adapter panel in txt2img and img2img: one tab of widgets per unit, each unit's value one ``gr.State``.

``build`` never raises: the WebUI's API builds every script's UI at start (``init_default_script_args``), so a panel
that cannot be built still gives one state per unit and the API keeps working.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

import annotators
from t2i_host import control_types
from t2i_host.resize import ResizeMode
from t2i_host.unit_args import CONTROL_MODE_NAMES, UnitArgs

from . import LOG, TITLE, infotext, models, settings
from .canvas import Canvas, drawing_canvas
from .gradio_compat import image_upload
from .panel_events import HELD, STATE_WIDGETS, configure_annotator, hold, pick_control_type, run_preview, unit_dict

#: infotext field → the ``unit_ui`` widget it pastes into ("owner": the annotator the sliders were last set for)
PASTED = {
    "enabled": "enabled",
    "module": "module",
    "model": "model",
    "weight": "weight",
    "guidance_start": "start",
    "guidance_end": "end",
    "resize_mode": "resize",
    "control_mode": "control",
    "pixel_perfect": "pixel_perfect",
    "low_vram": "low_vram",
    "processor_res": "res",
    "threshold_a": "a",
    "threshold_b": "b",
    "annotator_params": "options",
    "owner": "owner",
    "control_type": "control_type",
}


def build(script: Any, is_img2img: bool) -> list:
    """``Script.ui``: the panel, or (when it cannot be built) one disabled state per unit and a note."""
    try:
        return build_ui(script, is_img2img)
    except Exception as e:
        LOG.exception("T2I-Adapter: the panel could not be built")
        gr.Markdown(f"T2I-Adapter: the panel could not be built ({e}); the API still accepts units.")
        return [gr.State(value=UnitArgs(enabled=False).to_dict()) for _ in range(settings.unit_count())]


def build_ui(script: Any, is_img2img: bool) -> list:
    tab = "img2img" if is_img2img else "txt2img"
    states, paste = [], []
    with gr.Group(elem_id=f"{tab}_t2i_adapter"):
        with gr.Accordion(TITLE, open=False, elem_id=f"{tab}_t2i_adapter_accordion"):
            with gr.Tabs():
                for i in range(settings.unit_count()):
                    with gr.Tab(f"Unit {i}"):
                        state, fields = unit_ui(script, i, is_img2img, tab)
                        states.append(state)
                        paste += fields
    script.infotext_fields = paste
    script.paste_field_names = []
    return states


def unit_ui(script: Any, i: int, is_img2img: bool, tab: str) -> tuple[Any, list]:
    """Unit ``i``'s widgets and events; returns its state and its infotext paste fields."""
    eid = f"{tab}_t2i_adapter_unit{i}"
    w: dict[str, Any] = {}
    state = gr.State(value=UnitArgs(enabled=False).to_dict())
    with gr.Row():
        w["enabled"] = gr.Checkbox(False, label="Enable", elem_id=f"{eid}_enabled")
        w["pixel_perfect"] = gr.Checkbox(False, label="Pixel Perfect", elem_id=f"{eid}_pixel_perfect")
        w["low_vram"] = gr.Checkbox(
            False, label="Low VRAM (offload the adapter after its pass)", elem_id=f"{eid}_low_vram"
        )
    with gr.Tabs():
        with gr.Tab("Image"):
            w["upload"] = image_upload(
                label="Condition image (a reference image for style units)"
                + (" — empty: the img2img input is used" if is_img2img else ""),
                elem_id=f"{eid}_image",
            )
        with gr.Tab("Draw"):
            drawing = drawing_canvas(
                f"{eid}_canvas", "Canvas (edge adapters want white lines on black; black lines: the 'invert' annotator)"
            )
    w["control_type"] = gr.Radio(
        control_types.names(), value="All", label="Control Type", elem_id=f"{eid}_control_type"
    )
    with gr.Row():
        w["module"] = gr.Dropdown(
            ["none", *annotators.names()], value="none", label="Annotator", elem_id=f"{eid}_module"
        )
        preview_button = gr.Button("Preview condition map", elem_id=f"{eid}_preview_button")
    w["res"] = gr.Slider(0, 2048, value=512, step=64, label="Annotator resolution", visible=False, elem_id=f"{eid}_res")
    w["a"] = gr.Slider(0, 255, value=0, label="Threshold A", visible=False, elem_id=f"{eid}_threshold_a")
    w["b"] = gr.Slider(0, 255, value=0, label="Threshold B", visible=False, elem_id=f"{eid}_threshold_b")
    w["options"] = gr.CheckboxGroup([], label="Annotator options", visible=False, elem_id=f"{eid}_options")
    preview = gr.Image(label="Condition map", interactive=False, type="numpy", elem_id=f"{eid}_preview")
    with gr.Row():
        w["model"] = gr.Dropdown(models.choices(), value="None", label="Adapter model", elem_id=f"{eid}_model")
        refresh = gr.Button("\U0001f504", elem_id=f"{eid}_refresh")
    model_info = gr.Markdown("")
    w["weight"] = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Weight", elem_id=f"{eid}_weight")
    with gr.Row():
        w["start"] = gr.Slider(0.0, 1.0, value=0.0, step=0.01, label="Guidance start", elem_id=f"{eid}_guidance_start")
        w["end"] = gr.Slider(0.0, 1.0, value=1.0, step=0.01, label="Guidance end", elem_id=f"{eid}_guidance_end")
    w["resize"] = gr.Radio(
        ResizeMode.choices(), value=ResizeMode.CROP_AND_RESIZE.value, label="Resize mode", elem_id=f"{eid}_resize_mode"
    )
    w["control"] = gr.Radio(
        list(CONTROL_MODE_NAMES.values()), value="Balanced", label="Control mode", elem_id=f"{eid}_control_mode"
    )
    w["batch_folder"] = gr.Textbox(
        "",
        label="Batch folder: condition images matched to the img2img batch by file name",
        visible=is_img2img,
        elem_id=f"{eid}_batch_folder",
    )
    w["owner"] = gr.State("none")  # the annotator the sliders were last set for (see configure_annotator)

    held = {name: gr.State(None) for name in HELD}
    widgets = [held.get(name, w.get(name)) for name in STATE_WIDGETS]  # what unit_dict takes, images as held
    pictures = {"upload": Canvas([w["upload"]], hold), "canvas": drawing}  # each held image: its widgets → picture
    for name in STATE_WIDGETS:
        if name not in held:
            for listen in _value_events(w[name]):
                listen(unit_dict, inputs=widgets, outputs=[state], queue=False)
            continue
        sources, picture = pictures[name]
        for listen in (event for source in sources for event in _value_events(source)):
            listen(picture, inputs=sources, outputs=[held[name]], queue=False).then(
                unit_dict, inputs=widgets, outputs=[state], queue=False
            )
    sliders = [w["res"], w["a"], w["b"], w["options"]]
    w["module"].change(
        configure_annotator, inputs=[w["module"], *sliders, w["owner"]], outputs=[*sliders, w["owner"]], queue=False
    )
    preview_button.click(run_preview, inputs=widgets, outputs=[preview])
    w["control_type"].change(
        pick_control_type,
        inputs=[w["control_type"], w["module"], w["model"]],
        outputs=[w["module"], w["model"]],
        queue=False,
    )
    refresh.click(
        lambda name: gr.update(choices=models.choices(refresh=True, control_type=name)),
        inputs=[w["control_type"]],
        outputs=[w["model"]],
        queue=False,
    )
    w["model"].change(models.describe, inputs=[w["model"]], outputs=[model_info], queue=False)
    return state, [(w[widget], infotext.pasted(i, field)) for field, widget in PASTED.items()]


def _value_events(widget: Any) -> list:
    """The events by which a widget's value changes (those of "change", "edit", "clear" it has)."""
    return [getattr(widget, event) for event in ("change", "edit", "clear") if hasattr(widget, event)]

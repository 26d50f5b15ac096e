"""The txt2img panel as a user drives it: the change events of unit 0's widgets rebuild its ``gr.State``, and the
Generate button sends that state (what ``modules/txt2img.py`` passes on as ``p.script_args``)."""

from __future__ import annotations

import numpy as np

from . import panel_checks
from .images import pixels, shapes


def test_enabling_a_unit_in_the_panel_guides_the_job(webui):
    script = webui.script()
    model_dropdown = next(
        b
        for b in webui.blocks["txt2img"].blocks.values()
        if getattr(b, "elem_id", "") == "txt2img_t2i_adapter_unit0_model"
    )
    title = next(
        c[0] if isinstance(c, tuple) else c
        for c in model_dropdown.choices
        if webui.adapters["canny"] in (c[0] if isinstance(c, tuple) else c)
    )
    state = panel_checks.unit_state_after_the_user_sets(
        webui, "txt2img", {"enabled": True, "image": shapes(), "model": title, "weight": 0.8}
    )
    assert state["enabled"] is True
    from_panel = webui.txt2img([state])
    from_api_dict = webui.txt2img(
        [{"enabled": True, "model": webui.adapters["canny"], "module": "none", "image": shapes(), "weight": 0.8}]
    )
    assert np.array_equal(pixels(from_panel), pixels(from_api_dict))
    assert script.args_to - script.args_from == 3


def test_only_an_image_widgets_own_events_read_it_from_the_browser(webui):
    panel_checks.only_an_image_widgets_own_event_reads_it(webui, "txt2img")
    panel_checks.only_an_image_widgets_own_event_reads_it(webui, "img2img")


def test_model_list_shows_only_adapters_for_the_loaded_family(webui):
    dropdown = next(
        b
        for b in webui.blocks["txt2img"].blocks.values()
        if getattr(b, "elem_id", "") == "txt2img_t2i_adapter_unit0_model"
    )
    names = " ".join(c[0] if isinstance(c, tuple) else c for c in dropdown.choices)
    assert webui.adapters["canny"] in names
    assert webui.adapters["xl_canny"] not in names  # the UI was built with an SD1 checkpoint loaded


def _handler(webui, tab: str, elem: str, fn_name: str):
    """The ``fn_name`` event handler whose trigger is unit 0's widget ``elem``, with its input and output blocks."""
    blocks = webui.blocks[tab]
    target = next(
        i for i, b in blocks.blocks.items() if getattr(b, "elem_id", None) == f"{tab}_t2i_adapter_unit0_{elem}"
    )
    event = next(
        e
        for e in panel_checks.events(blocks)
        if target in panel_checks.block_ids(blocks, e.triggers) and e.fn.__name__ == fn_name
    )
    return event.fn, event.inputs, event.outputs


def test_choosing_an_annotator_starts_its_sliders_at_its_own_defaults_like_the_api(webui):
    import annotators

    fn, inputs, _ = _handler(webui, "txt2img", "module", "configure_annotator")
    values = {c.elem_id.rsplit("unit0_", 1)[-1] if c.elem_id else "owner": c.value for c in inputs}
    assert values["res"] == 512 and values["owner"] == "none"  # the hidden slider's own start value
    res, a, b, options, owner = fn("canny", values["res"], values["threshold_a"], values["threshold_b"], [], "none")
    canny = annotators.get("canny").defaults
    assert (res["value"], a["value"], b["value"], owner) == (
        canny["resolution"],
        canny["low_threshold"],
        canny["high_threshold"],
        "canny",
    )
    # values already set for this annotator (the user's, or an infotext's pasted together with the owner) stay
    res, a, *_ = fn("canny", 256, 40, 90, [], "canny")
    assert (res["value"], a["value"]) == (256, 40)
    # switching to another annotator starts its sliders at its own defaults
    res, a, b, options, owner = fn("lineart_standard", 256, 40, 90, [], "canny")
    lineart = annotators.get("lineart_standard").defaults
    assert (res["value"], a["value"], b["value"], owner) == (
        lineart["resolution"],
        lineart["sigma"],
        lineart["intensity_threshold"],
        "lineart_standard",
    )


def test_pasting_an_infotext_shows_the_values_the_job_used(webui):
    from modules import infotext_utils

    import annotators

    api_defaults = webui.txt2img(
        [{"enabled": True, "model": webui.adapters["canny"], "module": "canny", "image": shapes()}]
    )
    params = infotext_utils.parse_generation_parameters(api_defaults.infotexts[0])
    fields = webui.script().infotext_fields
    unit0 = fields[: len(fields) // 3]  # each unit's paste fields, unit by unit (3 units)
    pasted = {(getattr(c, "elem_id", None) or "owner").rsplit("unit0_", 1)[-1]: t(params) for c, t in unit0}
    canny = annotators.get("canny").defaults
    assert pasted["res"] == canny["resolution"]  # the infotext's -1 → the annotator's default
    assert (pasted["threshold_a"], pasted["threshold_b"]) == (canny["low_threshold"], canny["high_threshold"])
    assert (pasted["module"], pasted["owner"], pasted["enabled"]) == ("canny", "canny", True)


def test_a_panel_that_cannot_be_built_still_gives_the_api_one_state_per_unit(webui, monkeypatch):
    """The WebUI's API builds every script's UI at start (init_default_script_args): our ui() must never raise."""
    import gradio as gr

    from t2i_webui import panel as module
    from t2i_webui import settings

    def broken(*args, **kwargs):
        raise ValueError("sources must a list")  # what gradio 4 said of gradio 3 arguments

    monkeypatch.setattr(module, "unit_ui", broken)
    with gr.Blocks():
        states = webui.script().ui(False)
    assert len(states) == settings.unit_count()
    assert all(type(s).__name__ == "State" and s.value["enabled"] is False for s in states)

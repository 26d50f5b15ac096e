"""The Control Type checks, run on the A1111 stand-in (tests/webui/test_control_type.py) and on the Forge stand-in
(tests/forge/test_forge_control_type.py, gradio 4 and pydantic 2 under .venv-forge)."""

from __future__ import annotations

import json

from .images import shapes
from .panel_checks import block_ids, events
from .test_api import JOB, b64


def _title(ui, key: str) -> str:
    from t2i_webui import models

    return next(t for t in models.store().models() if t.startswith(ui.adapters[key] + " ["))


def _radio_handler(ui, tab: str = "txt2img"):
    """The Control Type radio's change handler of unit 0."""
    blocks = ui.blocks[tab]
    elem = f"{tab}_t2i_adapter_unit0_control_type"
    radio = next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == elem)
    for event in events(blocks):
        if radio._id in block_ids(blocks, event.triggers) and event.fn.__name__ == "pick_control_type":
            return event.fn
    raise AssertionError(f"no pick_control_type handler on {elem}")


def route_lists_each_types_annotators_models_and_defaults(ui) -> None:
    r = ui.client().get("/t2i-adapter/control_types")
    assert r.status_code == 200, r.text
    types = r.json()["control_types"]
    assert list(types)[:3] == ["All", "Canny", "Sketch/Lineart"]
    canny, sketch, style, every = types["Canny"], types["Sketch/Lineart"], types["Style"], types["All"]
    assert (
        canny["default_option"] == "canny"
        and canny["module_list"][0] == "none"
        and "pidinet" not in canny["module_list"]
    )
    assert canny["model_list"][0] == "None"
    assert set(canny["model_list"][1:]) >= {
        _title(ui, "canny"),
        _title(ui, "xl_canny"),
    }  # every family, as /controlnet/
    assert canny["default_model"] == _title(ui, "canny")  # the one that fits the loaded SD1 checkpoint
    assert _title(ui, "sketch_rgb") not in canny["model_list"]
    assert _title(ui, "sketch_rgb") in sketch["model_list"] and _title(ui, "canny") not in sketch["model_list"]
    assert sketch["default_option"] == "pidinet"
    assert style["module_list"] == ["none", "clip_vision"]  # the full adapters here are not style adapters
    assert not {_title(ui, k) for k in ("canny", "sketch_rgb", "xl_canny")} & set(style["model_list"])
    assert (every["default_option"], every["default_model"]) == ("none", "None")
    assert {_title(ui, k) for k in ("canny", "sketch_rgb", "xl_canny")} <= set(every["model_list"])


def radio_narrows_both_dropdowns_and_picks_the_types_annotator_and_model(ui) -> None:
    pick = _radio_handler(ui)
    module, model = pick("Canny", "none", "None")
    assert module["value"] == "canny" and "pidinet" not in module["choices"] and "invert" in module["choices"]
    assert _title(ui, "canny") in model["choices"] and _title(ui, "sketch_rgb") not in model["choices"]
    assert _title(ui, "xl_canny") not in model["choices"]  # an SD1 checkpoint is loaded
    assert model["value"] == _title(ui, "canny")
    module, model = pick("Sketch/Lineart", "canny", _title(ui, "canny"))
    assert module["value"] == "pidinet" and model["value"] == _title(ui, "sketch_rgb")
    module, model = pick("Sketch/Lineart", "invert", _title(ui, "sketch_rgb"))  # pasted together: all three stay
    assert (module["value"], model["value"]) == ("invert", _title(ui, "sketch_rgb"))
    module, model = pick("All", "invert", _title(ui, "sketch_rgb"))
    assert (module["value"], model["value"]) == ("invert", _title(ui, "sketch_rgb"))
    assert {_title(ui, "canny"), _title(ui, "sketch_rgb")} <= set(model["choices"]) and "shuffle" in module["choices"]


def api_unit_remembers_its_control_type_in_the_infotext_and_pastes_it_back(ui) -> None:
    from modules import infotext_utils

    client = ui.client()
    unit = {"model": ui.adapters["canny"], "module": "none", "image": b64(shapes())}
    payload = {**JOB, "alwayson_scripts": {"t2i-adapter": {"args": [{**unit, "control_type": "Canny"}]}}}
    r = client.post("/sdapi/v1/txt2img", json=payload)
    assert r.status_code == 200, r.text
    infotext = json.loads(r.json()["info"])["infotexts"][0]
    assert "control_type: Canny" in infotext
    params = infotext_utils.parse_generation_parameters(infotext)
    pasted = {c.elem_id: fn(params) for c, fn in ui.script().infotext_fields}
    assert pasted["txt2img_t2i_adapter_unit0_control_type"] == "Canny"
    # an unknown name is accepted and ignored (sd-webui-controlnet ignores the key); a number is not a name
    payload["alwayson_scripts"]["t2i-adapter"]["args"] = [{**unit, "control_type": "Recolor"}]
    r = client.post("/sdapi/v1/txt2img", json=payload)
    assert r.status_code == 200 and "control_type" not in json.loads(r.json()["info"])["infotexts"][0]
    payload["alwayson_scripts"]["t2i-adapter"]["args"] = [{**unit, "control_type": 5}]
    r = client.post("/sdapi/v1/txt2img", json=payload)
    assert r.status_code == 422 and "control_type" in r.text

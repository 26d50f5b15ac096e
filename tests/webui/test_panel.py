"""The txt2img panel as a user drives it: the change events of unit 0's widgets rebuild its ``gr.State``, and the
Generate button sends that state (what ``modules/txt2img.py`` passes on as ``p.script_args``)."""

from __future__ import annotations

import numpy as np

from .images import pixels, shapes


def _state_after_user_edits(webui, tab: str, values_by_elem: dict):
    """Run the change handler of ``<tab>_t2i_adapter_unit0_enabled`` with the widgets set to ``values_by_elem``
    (others at their defaults); returns the new value of the unit's state."""
    blocks = webui.blocks[tab]
    target = next(
        i for i, b in blocks.blocks.items() if getattr(b, "elem_id", None) == f"{tab}_t2i_adapter_unit0_enabled"
    )
    index, dep = next(
        (k, d) for k, d in enumerate(blocks.dependencies) if target in d["targets"] and d["trigger"] == "change"
    )
    inputs = [blocks.blocks[i] for i in dep["inputs"]]
    args = [values_by_elem.get(c.elem_id.rsplit("unit0_", 1)[-1], c.value) for c in inputs]
    (state,) = [blocks.blocks[o] for o in dep["outputs"]]
    out = blocks.fns[index].fn(*args)
    assert type(state).__name__ == "State"
    return out


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
    state = _state_after_user_edits(
        webui, "txt2img", {"enabled": True, "image": shapes(), "model": title, "weight": 0.8}
    )
    assert state["enabled"] is True
    from_panel = webui.txt2img([state])
    from_api_dict = webui.txt2img(
        [{"enabled": True, "model": webui.adapters["canny"], "module": "none", "image": shapes(), "weight": 0.8}]
    )
    assert np.array_equal(pixels(from_panel), pixels(from_api_dict))
    assert script.args_to - script.args_from == 3


def test_model_list_shows_only_adapters_for_the_loaded_family(webui):
    dropdown = next(
        b
        for b in webui.blocks["txt2img"].blocks.values()
        if getattr(b, "elem_id", "") == "txt2img_t2i_adapter_unit0_model"
    )
    names = " ".join(c[0] if isinstance(c, tuple) else c for c in dropdown.choices)
    assert webui.adapters["canny"] in names
    assert webui.adapters["xl_canny"] not in names  # the UI was built with an SD1 checkpoint loaded

"""Checks of the unit panel's events, run on the A1111 stand-in (gradio 3.41, tests/webui/test_panel.py) and on the
Forge stand-in (gradio 4, tests/forge/test_forge_panel.py)."""

from __future__ import annotations

from typing import Any, NamedTuple


class Event(NamedTuple):
    triggers: list  # the blocks whose event runs it (empty for a ``.then`` step)
    inputs: list
    outputs: list
    fn: Any


def events(blocks: Any) -> list[Event]:
    """Every event of ``blocks``: gradio 3 keeps them in ``dependencies`` (block ids), gradio 4 on each function."""
    if isinstance(blocks.fns, dict):  # gradio 4
        return [
            Event([t[0] if isinstance(t, tuple) else t for t in f.targets], f.inputs, f.outputs, f.fn)
            for f in blocks.fns.values()
        ]
    return [
        Event(
            [blocks.blocks[t[0] if isinstance(t, (tuple, list)) else t] for t in d["targets"]],
            [blocks.blocks[i] for i in d["inputs"]],
            [blocks.blocks[o] for o in d["outputs"]],
            f.fn,
        )
        for d, f in zip(blocks.dependencies, blocks.fns)
    ]


def block_ids(blocks: Any, items: list) -> set:
    """Block ids, whether gradio gave blocks or ids."""
    return {i if isinstance(i, int) else i._id for i in items if i is not None}  # a ``.then`` step has no trigger


#: the components whose value is a picture the browser must read back (gradio's image and editor, Forge's canvas)
IMAGE_KINDS = {"Image", "Sketchpad", "ImageEditor", "LogicalImage"}


def only_an_image_widgets_own_event_reads_it(ui, tab: str = "txt2img") -> None:
    """An image widget is read from the browser only by its own events: gradio 4's editor reads every pixel of its
    canvas back from WebGL for each event that lists it as an input — a Control Type click froze a real Forge page
    for minutes in headless Chromium while each slider and dropdown event read the canvas."""
    blocks = ui.blocks[tab]
    image_ids = {i for i, b in blocks.blocks.items() if type(b).__name__ in IMAGE_KINDS}
    prefix = f"{tab}_t2i_adapter_unit0_"
    unit0 = {i for i, b in blocks.blocks.items() if str(getattr(b, "elem_id", "")).startswith(prefix)}
    checked = 0
    for event in events(blocks):
        triggers = block_ids(blocks, event.triggers)
        checked += bool(triggers & unit0)
        read = block_ids(blocks, event.inputs) & image_ids
        assert not read or triggers <= image_ids, f"{event.fn.__name__} on {triggers} reads the image widgets {read}"
    assert checked > 15  # every widget of the unit has its events


def unit_state_after_the_user_sets(ui, tab: str, values_by_elem: dict) -> dict:
    """What the unit's state holds after the user sets unit 0's widgets (by elem_id suffix; "image" the upload) and
    then ticks Enable: the image widgets' own events store them, Enable's event rebuilds the state."""
    blocks = ui.blocks[tab]
    elem = {i: str(getattr(b, "elem_id", "")).rsplit("unit0_", 1)[-1] for i, b in blocks.blocks.items()}
    held: dict[int, Any] = {}
    all_events = events(blocks)
    for event in all_events:
        (trigger, *_) = block_ids(blocks, event.triggers) or {None}
        if event.fn.__name__ == "hold" and elem.get(trigger) in values_by_elem:
            (store,) = block_ids(blocks, event.outputs)
            held[store] = values_by_elem[elem[trigger]]
    enabled = next(i for i, e in elem.items() if e == "enabled")
    rebuild = next(e for e in all_events if enabled in block_ids(blocks, e.triggers) and e.fn.__name__ == "unit_dict")
    args = []
    for block in rebuild.inputs:
        i = block if isinstance(block, int) else block._id
        args.append(held[i] if i in held else values_by_elem.get(elem[i], blocks.blocks[i].value))
    return rebuild.fn(*args)

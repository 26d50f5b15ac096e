"""Stand-in for Forge's modules_forge/forge_canvas/canvas.py (dfdcbab6): ``ForgeCanvas`` is an HTML block and two
hidden ``LogicalImage`` textboxes, ``background`` (the picture) and ``foreground`` (the strokes), whose values are
PNG data URLs, read as RGBA numpy arrays (``numpy=True``) or None."""

from __future__ import annotations

import base64
import io

import gradio as gr
import gradio.component_meta
import numpy as np
from PIL import Image

_write_stub = gradio.component_meta.create_or_modify_pyi


def _no_stub_for_logical_image(component_class, class_name, events):
    """As Forge does: gradio 4 would write a ``.pyi`` beside this file for the Textbox subclass."""
    if component_class.__name__ != "LogicalImage":
        return _write_stub(component_class, class_name, events)


gradio.component_meta.create_or_modify_pyi = _no_stub_for_logical_image


class LogicalImage(gr.Textbox):
    def __init__(self, *args, numpy: bool = True, **kwargs):
        self.numpy = numpy
        super().__init__(*args, **kwargs)

    def preprocess(self, payload):
        if not isinstance(payload, str) or not payload.startswith("data:image/png;base64,"):
            return None
        image = Image.open(io.BytesIO(base64.b64decode(payload.split(",", 1)[1]))).convert("RGBA")
        return np.array(image) if self.numpy else image

    def postprocess(self, value):
        if value is None:
            return None
        buffer = io.BytesIO()
        (Image.fromarray(value) if self.numpy else value).convert("RGBA").save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class ForgeCanvas:
    def __init__(self, no_upload=False, no_scribbles=False, contrast_scribbles=False, height=512,
                 scribble_color="#000000", scribble_width=4, numpy=False, elem_id=None, elem_classes=None, **kwargs):
        self.block = gr.HTML("<div class='forge-canvas'></div>", elem_id=elem_id, elem_classes=elem_classes)
        self.foreground = LogicalImage(visible=False, label="foreground", numpy=numpy)
        self.background = LogicalImage(visible=False, label="background", numpy=numpy)

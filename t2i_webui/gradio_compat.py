"""gradio 3.41 (A1111 v1.10.1) and gradio 4.40 (Forge) name the image sources and the drawing tool differently;
every difference the panel meets is here."""

from __future__ import annotations

from typing import Any

import gradio as gr

GRADIO_4 = int(gr.__version__.split(".")[0]) >= 4


def image_upload(**kwargs: Any) -> Any:
    if GRADIO_4:
        return gr.Image(sources=["upload"], type="numpy", **kwargs)
    return gr.Image(source="upload", type="numpy", **kwargs)


def drawing_canvas(**kwargs: Any) -> Any:
    if GRADIO_4:  # an editor whose value is {"background", "layers", "composite"}
        return gr.Sketchpad(type="numpy", image_mode="RGB", **kwargs)
    return gr.Image(source="canvas", type="numpy", tool="sketch", image_mode="RGB", **kwargs)


def drawn(canvas: Any) -> Any:
    """The picture a canvas holds: gradio 4's editor value is its composite; gradio 3's sketch value passes on."""
    if isinstance(canvas, dict) and "composite" in canvas:
        return canvas["composite"]
    return canvas

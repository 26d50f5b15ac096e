"""gradio 3.41 (A1111 v1.10.1) and gradio 4.40 (Forge) name the image sources differently; the differences the panel
meets are here (the drawing canvas, which differs by WebUI, is in ``canvas``)."""

from __future__ import annotations

from typing import Any

import gradio as gr

GRADIO_4 = int(gr.__version__.split(".")[0]) >= 4


def image_upload(**kwargs: Any) -> Any:
    if GRADIO_4:
        return gr.Image(sources=["upload"], type="numpy", **kwargs)
    return gr.Image(source="upload", type="numpy", **kwargs)

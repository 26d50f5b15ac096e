"""The unit's drawing canvas, as each WebUI draws: gradio 3's sketch image on A1111; on Forge, Forge's own
``ForgeCanvas`` (the canvas of its img2img sketch and its ControlNet units).

Not gradio 4's ``ImageEditor`` (``gr.Sketchpad``): each one runs a WebGL render loop for as long as the page is open,
six of them (three units, two tabs) kept a software-rendered browser's GPU process at a full core, and reading one
back for an event took minutes there (see ``panel_events.HELD``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import gradio as gr
import numpy as np

from .gradio_compat import GRADIO_4
from .panel_events import hold

#: a new canvas: black, as edge and sketch adapters want their background (the brush is white)
NEW_CANVAS_SIZE = 512


class Canvas(NamedTuple):
    sources: list  # the widgets whose values make the drawing
    picture: Callable[..., Any]  # their values → the drawing (RGB uint8 (H, W, 3)) or None


def drawing_canvas(elem_id: str, label: str) -> Canvas:
    if not GRADIO_4:
        sketch = gr.Image(source="canvas", type="numpy", tool="sketch", image_mode="RGB", label=label, elem_id=elem_id)
        return Canvas([sketch], hold)
    try:
        from modules_forge.forge_canvas.canvas import ForgeCanvas
    except ImportError:  # a gradio-4 WebUI without Forge's canvas: gradio's own editor, with its cost
        editor = gr.Sketchpad(type="numpy", image_mode="RGB", label=label, elem_id=elem_id)
        return Canvas([editor], _composite_of_editor)
    gr.Markdown(label)
    # the thinnest brush (its width is 20 screen pixels a step): sketches want thin lines; the toolbar widens it
    canvas = ForgeCanvas(elem_id=elem_id, height=384, numpy=True, scribble_color="#FFFFFF", scribble_width=1)
    new = gr.Button("New black canvas to draw on", elem_id=f"{elem_id}_new")
    new.click(
        lambda: np.zeros((NEW_CANVAS_SIZE, NEW_CANVAS_SIZE, 3), np.uint8), outputs=[canvas.background], queue=False
    )
    return Canvas([canvas.background, canvas.foreground], over)


def _composite_of_editor(value: Any) -> Any:
    """gradio 4's editor value is {"background", "layers", "composite"}."""
    return value.get("composite") if isinstance(value, dict) else value


def over(background: Any, foreground: Any) -> np.ndarray | None:
    """Forge's canvas: the strokes (RGBA) over the picture (RGB or RGBA; black when only strokes exist)."""
    if background is None and foreground is None:
        return None
    if background is None:
        background = np.zeros((*foreground.shape[:2], 3), np.uint8)
    base = np.asarray(background)[..., :3].astype(np.float32)
    if foreground is None:
        return base.astype(np.uint8)
    fg = np.asarray(foreground)
    if fg.shape[:2] != base.shape[:2]:  # strokes are kept at the picture's size; a stale layer is not guessed at
        return base.astype(np.uint8)
    alpha = fg[..., 3:4].astype(np.float32) / 255.0 if fg.shape[-1] == 4 else np.ones((*fg.shape[:2], 1), np.float32)
    return np.clip(base * (1 - alpha) + fg[..., :3].astype(np.float32) * alpha + 0.5, 0, 255).astype(np.uint8)

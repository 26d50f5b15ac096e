"""Mirrors modules/processing_scripts/refiner.py@v1.10.1: a built-in always-on script with three UI values
(enable, checkpoint, switch at) whose ``setup`` copies them to ``p``. It is here so the extension's arguments do
not start at index 1 of ``script_args``, as in the real WebUI where built-in always-on scripts come first."""

import gradio as gr
from modules import scripts


class ScriptRefiner(scripts.Script):
    section = "accordions"
    create_group = False

    def title(self):
        return "Refiner"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        enable_refiner = gr.Checkbox(False, label="Refiner", elem_id=self.elem_id("enable"))
        refiner_checkpoint = gr.Dropdown(["None"], value="None", label="Checkpoint", elem_id=self.elem_id("checkpoint"))
        refiner_switch_at = gr.Slider(
            0.01, 1.0, value=0.8, step=0.01, label="Switch at", elem_id=self.elem_id("switch_at")
        )
        return enable_refiner, refiner_checkpoint, refiner_switch_at

    def setup(self, p, enable_refiner, refiner_checkpoint, refiner_switch_at):
        if not enable_refiner or refiner_checkpoint in (None, "", "None"):
            p.refiner_checkpoint = None
            p.refiner_switch_at = None
        else:
            p.refiner_checkpoint = refiner_checkpoint
            p.refiner_switch_at = refiner_switch_at

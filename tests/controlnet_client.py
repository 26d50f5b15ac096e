"""A unit as sd-webui-controlnet API clients send it (the ``webuiapi`` package's ``ControlNetUnit.to_dict()``:
ControlNet field names, ``mask: None``, ``hr_option``, ``save_detected_map``); such dicts must port unchanged."""

from __future__ import annotations

from typing import Any


def controlnet_unit(image: Any, model: str) -> dict:
    return {
        "image": image,
        "mask": None,
        "module": "none",
        "model": model,
        "weight": 1.0,
        "resize_mode": "Resize and Fill",
        "low_vram": False,
        "processor_res": 512,
        "threshold_a": 64,
        "threshold_b": 64,
        "guidance_start": 0.0,
        "guidance_end": 1.0,
        "control_mode": "ControlNet is more important",
        "pixel_perfect": False,
        "hr_option": "Both",
        "enabled": True,
        "save_detected_map": True,
    }

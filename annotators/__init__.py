"""Condition-map annotators for T2I-Adapters (independent of the WebUI and of the adapter core).

    import annotators
    edges = annotators.run("canny", pil_or_numpy_image, low_threshold=100, high_threshold=200)
    annotators.names()              # registered annotator names
    annotators.get("canny").params  # parameters with defaults and ranges

See `annotators.registry` for the conventions and for how to register a new annotator, and
`python -m annotators --help` for the command line.
"""

from __future__ import annotations

import importlib

from annotators.image import to_rgb_uint8
from annotators.registry import (
    LOG,
    RESOLUTION,
    Annotator,
    AnnotatorOutputError,
    Param,
    UnknownAnnotatorError,
    for_adapter,
    get,
    list_annotators,
    names,
    register,
    run,
    unregister,
)

# Modules that register annotators when imported. Add new detector modules here (one line each).
_MODULES = (
    "canny",
    "xdog",
    "lineart_standard",
    "color_palette",
    "invert",
    "threshold",
    "shuffle",
    "pose_mediapipe",
    # Model-based annotators (weights looked up / downloaded through annotators.weights on first use).
    "pidinet",
    "lineart",
    "openpose",
    "depth_midas",
    "segmentation",
    "clip_vision",
)

for _module in _MODULES:
    importlib.import_module(f"annotators.{_module}")

__all__ = [
    "LOG",
    "RESOLUTION",
    "Annotator",
    "AnnotatorOutputError",
    "Param",
    "UnknownAnnotatorError",
    "for_adapter",
    "get",
    "list_annotators",
    "names",
    "register",
    "run",
    "to_rgb_uint8",
    "unregister",
]

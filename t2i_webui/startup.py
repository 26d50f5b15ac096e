"""What the entry script runs once at load: the host of this WebUI chosen, the stores pointed at its folders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from modules import paths

import annotators.weights

from . import LOG, host, models
from .host_a1111 import A1111Host
from .host_forge import ForgeHost


def start(extension_root: str | Path) -> host.Host:
    """Choose the host (Forge when its own package ``modules_forge`` is importable, else A1111) and configure."""
    chosen = host.use(ForgeHost() if importlib.util.find_spec("modules_forge") is not None else A1111Host())
    models.configure(Path(extension_root))
    try:  # annotator weights live beside the WebUI's other models
        annotators.weights.set_models_dir(Path(paths.models_path) / "annotators")
    except Exception as e:  # never block the WebUI from starting
        LOG.warning("T2I-Adapter: annotator models folder not set: %s", e)
    return chosen

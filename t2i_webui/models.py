"""The adapter files the WebUI sees: the folders, the store, the model lists, and resolving a unit's model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modules import paths, shared

import annotators
from t2i_host import control_types, families
from t2i_host.families import SD1, checkpoint_family
from t2i_host.model_store import ModelInfo, ModelStore
from t2i_host.unit_args import UnitArgsError

from . import LOG, settings

STORE = ModelStore()
_root: list[Path] = []  # the extension's folder, as the WebUI's script loader names it (set at start-up)


def configure(extension_root: Path) -> None:
    _root[:] = [Path(extension_root)]
    STORE.folders = model_folders()


def model_folders() -> list[tuple[Path, bool]]:
    """``(folder, mixed)``: the extension's ``models/``, ``<models>/T2I-Adapter`` (created), the ControlNet folder
    (mixed: ControlNets are told apart by their tensors) and the setting's extra folders."""
    models = Path(paths.models_path)
    own = models / "T2I-Adapter"
    try:
        own.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        LOG.warning("T2I-Adapter: cannot create %s (%s)", own, e)
    folders = [(root / "models", False) for root in _root] + [(own, False), (models / "ControlNet", True)]
    return folders + [(p, False) for p in settings.extra_model_dirs()]


def store() -> ModelStore:
    STORE.folders = model_folders()  # the setting may have changed
    return STORE


def resolve(name: str, unit: int) -> ModelInfo:
    if not name:
        raise UnitArgsError(
            "no adapter model chosen: pick one in the unit's Model list (GET /t2i-adapter/models)", "model", unit
        )
    info = store().find(name, unit)
    if info is None and (reason := store().why_unusable(name)):  # a file that is there but broken or hostile
        raise UnitArgsError(f"adapter model '{name}' cannot be used: {reason}", "model", unit)
    if info is None:
        titles = ", ".join(store().models()) or f"none (put adapter files in {paths.models_path}/T2I-Adapter)"
        raise UnitArgsError(f"no adapter model '{name}'; available: {titles}", "model", unit)
    return info


def check_family(adapter: Any, family: str, name: str, unit: int) -> None:
    allow = settings.allow_sd1_on_sd2()
    if families.check_family(getattr(adapter, "base", SD1), getattr(adapter, "kind", ""), family, name, unit, allow):
        LOG.warning(
            "T2I-Adapter unit %d: %s was trained for SD1.x; on this SD2 checkpoint it may guide weakly", unit, name
        )


def choices(refresh: bool = False, control_type: str = "All") -> list[str]:
    """The panel's model list: "None", then every adapter of ``control_type`` that fits the loaded checkpoint."""
    models = store().refresh() if refresh else store().models()
    sd_model = getattr(shared, "sd_model", None)
    family = checkpoint_family(sd_model) if sd_model is not None else None
    fits = [
        (t, m.stem, m.kind)
        for t, m in models.items()
        if family is None or families.adapter_fits(m.base, m.kind, family)
    ]
    return control_types.models(control_types.find(control_type) or control_types.ALL, fits)


def describe(title: str) -> str:
    info = store().models().get(title)
    if info is None:
        return ""
    return f"{info.base} · {info.kind} · {info.folder}"


def api_control_types() -> dict:
    """``GET /t2i-adapter/control_types``: like ``/controlnet/control_types``, the models of every family."""
    listed = [(t, m.stem, m.kind) for t, m in store().models().items()]
    fits = set(choices())
    return control_types.describe([(a.name, a.suits) for a in annotators.list_annotators()], listed, fits)


def api_list(refresh: bool) -> list[dict]:
    """``GET /t2i-adapter/models``."""
    models = store().refresh() if refresh else store().models()
    return [
        {
            "title": t,
            "name": m.stem,
            "hash": STORE.short_hash(m.path),
            "kind": m.kind,
            "base": m.base,
            "path": str(m.path),
        }
        for t, m in models.items()
    ]

"""Axes for the built-in X/Y/Z plot: ``[T2I-Adapter] <field>`` changes the first enabled unit, ``[T2I-Adapter] Unit
<i> <field>`` unit i (e.g. two units' weights on X and Y). An axis writes ``p.t2i_adapter_overrides``
(``{unit index or None: {field: value}}``), which the job applies to the parsed units."""

from __future__ import annotations

from typing import Any

from modules import scripts

import annotators
from t2i_host.unit_args import UnitArgs

from . import LOG, models, settings

OVERRIDES_ATTR = "t2i_adapter_overrides"
FIELDS = (
    ("Weight", "weight", float),
    ("Guidance start", "guidance_start", float),
    ("Guidance end", "guidance_end", float),
    ("Model", "model", str),
    ("Annotator", "module", str),
)


def add_axes() -> None:
    """At load: extend the xyz-grid script's axis options (once; the grid is optional, loading never breaks)."""
    try:
        _add_axes()
    except Exception as e:
        LOG.warning("T2I-Adapter: xyz-grid axes not added: %s", e)


def _add_axes() -> None:
    xyz = next(
        (d.module for d in scripts.scripts_data if d.script_class.__module__ in ("xyz_grid.py", "xyz_grid")), None
    )
    if xyz is None or any(getattr(o, "label", "").startswith("[T2I-Adapter]") for o in xyz.axis_options):
        return

    def setter(unit: int | None, field: str):
        def apply(p, value, _choices=None):
            overrides = {k: dict(v) for k, v in (getattr(p, OVERRIDES_ATTR, None) or {}).items()}
            overrides.setdefault(unit, {})[field] = value
            setattr(p, OVERRIDES_ATTR, overrides)

        return apply

    choices = {"model": lambda: models.choices()[1:], "module": lambda: ["none", *annotators.names()]}
    targets = [(None, "")] + [(i, f"Unit {i} ") for i in range(settings.unit_count())]
    xyz.axis_options.extend(
        xyz.AxisOption(
            f"[T2I-Adapter] {prefix}{label if not prefix else label.lower()}",
            kind,
            setter(unit, field),
            choices=choices.get(field),
        )
        for unit, prefix in targets
        for label, field, kind in FIELDS
    )


def apply_overrides(parsed: list[UnitArgs], p: Any, known_modules: set[str]) -> list[UnitArgs]:
    """``parsed`` with the overrides the axes wrote on ``p``."""
    for target, fields in (getattr(p, OVERRIDES_ATTR, None) or {}).items():
        index = next((i for i, u in enumerate(parsed) if u.enabled), None) if target is None else target
        if index is not None and 0 <= index < len(parsed):
            parsed[index] = UnitArgs.parse({**parsed[index].to_dict(), **fields}, index, known_modules)
    return parsed

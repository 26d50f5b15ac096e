"""API units before the WebUI runs them (called by the ``AlwaysonArgsGuard`` middleware of ``t2i_host/api_guard.py``):
units restored from a request's ``infotext``, and every unit checked (422 naming unit and field)."""

from __future__ import annotations

from typing import Any

from modules import infotext_utils, sd_models, shared

import annotators
import t2i_host.unit_args
from t2i_host.api_units import ApiRules, validate_units
from t2i_host.families import checkpoint_family
from t2i_host.unit_args import UnitArgsError

from . import TITLE, annotator_info, caches, infotext, models, settings


def swap_pending(sd_model: Any) -> bool:
    """True when the loaded model is not the selected checkpoint, which the next job loads first: after a job with a
    refiner the WebUI keeps the refiner loaded and swaps back in ``process_images``. The family check then waits for
    ``process``, after that reload."""
    loaded = getattr(sd_model, "sd_checkpoint_info", None)
    selected_name = getattr(shared.opts, "sd_model_checkpoint", None) if hasattr(shared, "opts") else None
    selected = getattr(sd_models, "checkpoint_aliases", {}).get(selected_name)
    if loaded is None or selected is None:
        return False  # unknown: check against the loaded model
    return getattr(selected, "filename", None) != getattr(loaded, "filename", None)


def validate_api_units(units: list, request: dict | None = None) -> None:
    """What the API argument guard checks before the WebUI runs a request (raises ``UnitArgsError``: 422)."""
    overrides = (request or {}).get("override_settings") or {}
    switches_checkpoint = isinstance(overrides, dict) and "sd_model_checkpoint" in overrides
    sd_model = getattr(shared, "sd_model", None)
    family_known = sd_model is not None and not switches_checkpoint and not swap_pending(sd_model)
    rules = ApiRules(
        unit_count=settings.unit_count(),
        parse=caches.PARSED.parse,
        known_modules=annotator_info.known_modules(),
        find_model=models.resolve,
        title=models.STORE.title,
        family=checkpoint_family(sd_model) if family_known else None,
        allow_sd1_on_sd2=settings.allow_sd1_on_sd2(),
        annotator_params=annotator_info.param_types,
        validate_annotator=lambda module, params: annotators.get(module).validate(params),
    )
    validate_units(units, request, rules)


def complete_api_units(request: dict) -> dict | None:
    """An API request with the units its ``infotext`` records, completed field by field by its own
    ``alwayson_scripts`` units (``t2i_host.unit_args.units_with_infotext``); None when there is nothing to add. The
    WebUI restores from an API ``infotext`` only what its widgets map; ours are one ``gr.State`` per unit."""
    text = request.get("infotext")
    if not isinstance(text, str) or infotext.KEY.format("") not in text:
        return None
    recorded = infotext.recorded(infotext_utils.parse_generation_parameters(text), settings.unit_count())
    scripts_args = request.get("alwayson_scripts")
    scripts_args = dict(scripts_args) if isinstance(scripts_args, dict) else {}
    key = next((k for k in scripts_args if isinstance(k, str) and k.lower() == TITLE.lower()), TITLE)
    entry = scripts_args.get(key, {})
    if not isinstance(entry, dict) or not isinstance(entry.get("args", []), list):
        return None  # the validator names what is wrong
    try:
        units = t2i_host.unit_args.units_with_infotext(entry.get("args", []), recorded, settings.unit_count())
    except UnitArgsError as e:
        raise UnitArgsError(f"it records an invalid unit: {e}", "infotext", e.unit) from None
    if units is None:
        return None
    scripts_args[key] = {**entry, "args": units}
    return {**request, "alwayson_scripts": scripts_args}

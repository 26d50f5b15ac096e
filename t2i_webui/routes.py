"""``on_app_started``: the ``/t2i-adapter/*`` routes (``t2i_host/http_api.py``) and the API argument guard."""

from __future__ import annotations

from typing import Any

from modules import shared

import annotators
from t2i_host import http_api

from . import TITLE, api_checks, models


def mount(demo: Any, app: Any) -> None:
    http_api.mount(
        app,
        http_api.Services(
            models=models.api_list,
            annotators=annotators.list_annotators,
            annotate=annotators.run,
            validate_units=api_checks.validate_api_units,
            unusable=models.STORE.unusable_items,
            control_types=models.api_control_types,
        ),
    )
    # with --api-auth the guard must not answer before authentication (its messages list model names): bad units are
    # then refused after it, when sampling starts (same message, same 422); units from an infotext work either way
    validate = None if getattr(shared.cmd_opts, "api_auth", None) else api_checks.validate_api_units
    http_api.install_guard(app, validate, title=TITLE, complete=api_checks.complete_api_units)

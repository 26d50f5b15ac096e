"""Control Type on the Forge stand-in (gradio 4, pydantic 2 under .venv-forge): the same checks as on A1111."""

from __future__ import annotations

import pytest

from tests.webui import control_type_checks as checks

pytest.importorskip("fastapi", reason="the route needs fastapi")
pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")


def test_the_route_lists_each_types_annotators_models_and_defaults(forge):
    checks.route_lists_each_types_annotators_models_and_defaults(forge)


def test_the_radio_narrows_both_dropdowns_and_picks_the_types_annotator_and_model(forge):
    checks.radio_narrows_both_dropdowns_and_picks_the_types_annotator_and_model(forge)


def test_an_api_unit_remembers_its_control_type_in_the_infotext_and_pastes_it_back(forge):
    checks.api_unit_remembers_its_control_type_in_the_infotext_and_pastes_it_back(forge)

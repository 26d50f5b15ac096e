"""Control Type on the A1111 stand-in (gradio 3): the route, the panel's radio, the API unit and the infotext."""

from __future__ import annotations

import pytest

from . import control_type_checks as checks

pytest.importorskip("fastapi", reason="the route needs fastapi")
pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")


def test_the_route_lists_each_types_annotators_models_and_defaults(webui):
    checks.route_lists_each_types_annotators_models_and_defaults(webui)


def test_the_radio_narrows_both_dropdowns_and_picks_the_types_annotator_and_model(webui):
    checks.radio_narrows_both_dropdowns_and_picks_the_types_annotator_and_model(webui)


def test_an_api_unit_remembers_its_control_type_in_the_infotext_and_pastes_it_back(webui):
    checks.api_unit_remembers_its_control_type_in_the_infotext_and_pastes_it_back(webui)

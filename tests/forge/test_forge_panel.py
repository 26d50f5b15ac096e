"""The unit panel under gradio 4 (the Forge stand-in, .venv-forge): the same checks as on A1111."""

from __future__ import annotations

import numpy as np

from tests.webui import panel_checks
from tests.webui.images import shapes


def test_only_an_image_widgets_own_events_read_it_from_the_browser(forge):
    panel_checks.only_an_image_widgets_own_event_reads_it(forge, "txt2img")
    panel_checks.only_an_image_widgets_own_event_reads_it(forge, "img2img")


def test_an_uploaded_image_reaches_the_units_state_through_its_own_event(forge):
    image = shapes()
    state = panel_checks.unit_state_after_the_user_sets(forge, "txt2img", {"enabled": True, "image": image})
    assert state["enabled"] is True and np.array_equal(state["image"], image)

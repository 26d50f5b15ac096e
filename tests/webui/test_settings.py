"""Our options are read through one validated reader (t2i_webui/settings.py): a stored value of the wrong type
reads as the option's default, with one warning per option, whatever the option's type."""

from __future__ import annotations

import logging

import pytest


@pytest.mark.parametrize(
    ("name", "stored", "read"),
    [
        ("t2i_adapter_extra_models_dirs", ["/a", "/b"], []),  # not text: no folder named "['/a', '/b']"
        ("t2i_adapter_allow_sd1_on_sd2", "no", True),  # not true/false: the default, not bool("no")
        ("t2i_adapter_unit_count", "7", 7),  # a number as text is still a number
        ("t2i_adapter_unit_count", 99, 10),  # clamped to the slider's range
    ],
)
def test_a_stored_value_of_the_wrong_type_reads_as_the_default_with_one_warning(
    webui, monkeypatch, caplog, name, stored, read
):
    from t2i_host import settings_values
    from t2i_webui import settings

    reader = {
        "t2i_adapter_extra_models_dirs": settings.extra_model_dirs,
        "t2i_adapter_allow_sd1_on_sd2": settings.allow_sd1_on_sd2,
        "t2i_adapter_unit_count": settings.unit_count,
    }[name]
    monkeypatch.setattr(webui.shared.opts, name, stored, raising=False)
    monkeypatch.setattr(settings_values, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="t2i_adapter"):
        assert reader() == read and reader() == read
    warnings = [r for r in caplog.records if name in r.getMessage()]
    assert len(warnings) == (0 if isinstance(stored, int) or stored == "7" else 1)

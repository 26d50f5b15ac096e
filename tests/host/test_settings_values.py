"""Issue 15: a stored setting is read through one validator; any stored JSON value gives a usable value or the
default with one logged line, never an exception in every job."""

from __future__ import annotations

import pytest

from t2i_host import settings_values
from t2i_host.settings_values import read_setting, setting_value


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(settings_values, "_warned", set())


@pytest.mark.parametrize("stored", [10**400, -(10**400), float("inf"), float("nan"), "abc", None, [3], {}, True])
def test_a_stored_count_that_is_no_finite_number_gives_the_default_with_one_line(stored):
    lines = []
    for _ in range(3):  # every job reads it; one line says so
        assert read_setting("t2i_adapter_unit_count", stored, 3, 1, 10, warn=lines.append) == 3
    assert len(lines) == 1 and "t2i_adapter_unit_count" in lines[0] and "using 3" in lines[0]


def test_a_stored_number_is_clamped_to_the_slider_and_made_whole():
    assert [setting_value(v, 2, 1, 10) for v in (5, 5.9, "7", 0, 10**300 // 10**299, 1e300)] == [5, 5, 7, 1, 10, 10]


def test_booleans_and_text_keep_their_type():
    assert setting_value(False, True) is False and setting_value(1, True) is True
    with pytest.raises(ValueError):
        setting_value("yes", True)
    assert setting_value(None, "") == "" and setting_value("a;b", "") == "a;b"
    with pytest.raises(ValueError):
        setting_value(10**400, "")


def test_an_integer_too_long_to_print_is_reported_without_failing():
    import sys

    limit = sys.get_int_max_str_digits()
    lines = []
    assert read_setting("t2i_adapter_model_cache_size", 10 ** (limit + 10), 2, 1, 10, warn=lines.append) == 2
    assert "thousands of digits" in lines[0]

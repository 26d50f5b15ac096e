"""Stored settings read back safely: the one validator between a stored value and the code that uses it.

The WebUI's ``/sdapi/v1/options`` stores any JSON value (a string, ``null``, a list, an integer of 400 digits) and
config.json can be edited by hand. :func:`read_setting` gives a value of the setting's own type, within its range,
or the setting's default with one logged line per setting, so no stored value can break a job or the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .unit_args import finite_number

_warned: set[str] = set()


def setting_value(value: Any, default: Any, minimum: int | None = None, maximum: int | None = None) -> Any:
    """``value`` as the type of ``default`` (bool, str, or a whole number clamped to ``[minimum, maximum]``);
    ValueError saying what it should be otherwise."""
    if isinstance(default, bool):
        if isinstance(value, bool) or type(value) is int and value in (0, 1):
            return bool(value)
        raise ValueError("true or false")
    if isinstance(default, str):
        if value is None or isinstance(value, str):
            return value or ""
        raise ValueError("text")
    try:
        number = finite_number(value)
    except ValueError:
        raise ValueError("a finite number") from None
    whole = int(number)
    if minimum is not None:
        whole = max(minimum, whole)
    if maximum is not None:
        whole = min(maximum, whole)
    return whole


def read_setting(
    name: str,
    value: Any,
    default: Any,
    minimum: int | None = None,
    maximum: int | None = None,
    warn: Callable[[str], None] = print,
) -> Any:
    """:func:`setting_value`, or ``default`` when the stored ``value`` is not one, said once per setting by ``warn``."""
    try:
        return setting_value(value, default, minimum, maximum)
    except ValueError as e:
        if name not in _warned:
            _warned.add(name)
            warn(f"T2I-Adapter: setting {name} is {_shown(value)}, not {e}; using {default!r} (change it in Settings)")
        return default


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's 4300-digit conversion limit
        return "an integer of thousands of digits"
    return text if len(text) <= 60 else text[:57] + "..."

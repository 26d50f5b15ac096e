"""Our options in the WebUI's Settings page: one table, registered from it and read through one validated reader.

``/sdapi/v1/options`` stores any JSON value and config.json can be edited by hand: a stored value of the wrong type
gives the option's default (logged once per option; ``t2i_host/settings_values.py``), never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from modules import shared

from t2i_host.settings_values import read_setting

from . import LOG, TITLE


@dataclass(frozen=True)
class Option:
    default: Any
    label: str
    minimum: int | None = None  # whole-number options: a slider's range, and what a read is clamped to
    maximum: int | None = None
    needs_reload_ui: bool = False


UNIT_COUNT = "t2i_adapter_unit_count"
CACHE_SIZE = "t2i_adapter_model_cache_size"
EXTRA_DIRS = "t2i_adapter_extra_models_dirs"
SD1_ON_SD2 = "t2i_adapter_allow_sd1_on_sd2"

OPTIONS = {
    UNIT_COUNT: Option(3, "Number of adapter units (also the most the API accepts)", 1, 10, needs_reload_ui=True),
    CACHE_SIZE: Option(2, "Adapters kept loaded (LRU)", 1, 10),
    EXTRA_DIRS: Option("", "Extra folders with adapter models (separate with ;)"),
    SD1_ON_SD2: Option(True, "Allow SD1 adapters on SD2 checkpoints (with a warning)"),
}


def read(name: str) -> Any:
    """The value of our option ``name``, of the option's type; its default when the stored value is not one."""
    option = OPTIONS[name]
    value = getattr(shared.opts, name, option.default) if hasattr(shared, "opts") else option.default
    return read_setting(name, value, option.default, option.minimum, option.maximum, warn=LOG.warning)


def unit_count() -> int:
    return read(UNIT_COUNT)


def cache_size() -> int:
    return read(CACHE_SIZE)


def extra_model_dirs() -> list[Path]:
    return [Path(p.strip()) for p in read(EXTRA_DIRS).split(";") if p.strip()]


def allow_sd1_on_sd2() -> bool:
    return read(SD1_ON_SD2)


def register() -> None:
    """``on_ui_settings``: the section "T2I-Adapter" with every option of the table."""
    for name, option in OPTIONS.items():
        slider = option.minimum is not None
        info = shared.OptionInfo(
            option.default,
            option.label,
            gr.Slider if slider else None,
            {"minimum": option.minimum, "maximum": option.maximum, "step": 1} if slider else None,
            section=("t2i_adapter", TITLE),
        )
        shared.opts.add_option(name, info.needs_reload_ui() if option.needs_reload_ui else info)

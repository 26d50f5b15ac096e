"""The settings of one adapter unit, as the WebUI panel, the HTTP API and the infotext give them.

One validated model for every entry point (the adetailer pattern, without a pydantic dependency):
``UnitArgs.parse(value)`` takes a dict from the API or the panel's state, fills defaults for omitted fields,
and rejects unknown or ill-typed fields with :class:`UnitArgsError`, whose message names the field and says what
to send instead. ``to_infotext()``/``from_infotext()`` write and read the compact form stored in image
parameters. Field names follow sd-webui-controlnet's API so users' scripts port with few changes.

``processor_res``, ``threshold_a`` and ``threshold_b`` (ControlNet's generic annotator knobs; -1 = the annotator's
default) are mapped onto the annotator's own parameters by :func:`annotator_values`: ``processor_res`` sets a
parameter named ``resolution``; ``threshold_a``/``threshold_b`` set the first and second *numeric* parameter
other than ``resolution``, in the order the annotator declares them (canny: low/high threshold). Any parameter,
booleans included, can also be set by name in ``annotator_params``, which wins over the generic knobs.

Images are decoded at parse time by :func:`t2i_host.images.decode_image` (base64 with or without a
``data:image/*`` prefix, ``{"image": ..., "mask": ...}`` dicts as the WebUI's gradio image sends them, numpy
arrays, PIL images), so a bad image is reported before any generation work starts, naming the field. The mask of
such a dict is not used.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any

import numpy as np

from t2i_ext.units import ControlMode

from . import control_types
from .images import decode_image
from .resize import ResizeMode


class UnitArgsError(ValueError):
    """A unit setting is missing, unknown or ill-typed. ``field`` names it; the message says what to send.

    ``status_code``/``detail`` are instance attributes because the WebUI's API error handler reads them from
    ``vars(exception)``: an error raised during an API request becomes a 422 response with this message.
    """

    def __init__(self, message: str, field_name: str = "", unit: int | None = None) -> None:
        where = f"T2I-Adapter unit {unit}: " if unit is not None else "T2I-Adapter: "
        text = f"{where}field '{field_name}': {message}" if field_name else where + message
        super().__init__(text)
        self.field = field_name
        self.unit = unit
        self.status_code = 422
        self.detail = text


CONTROL_MODE_NAMES = {
    ControlMode.BALANCED: "Balanced",
    ControlMode.PROMPT: "My prompt is more important",
    ControlMode.ADAPTER: "Adapter is more important",
}
_CONTROL_MODE_ALIASES = {
    **{name.lower(): mode for mode, name in CONTROL_MODE_NAMES.items()},
    **{mode.value: mode for mode in ControlMode},
    "controlnet is more important": ControlMode.ADAPTER,  # ControlNet's wording, for ported scripts
}

#: sd-webui-controlnet preprocessor names → our annotator names, so ported API calls work unchanged.
MODULE_ALIASES = {
    "t2ia_color_grid": "color_palette",
    "color": "color_palette",
    "t2ia_sketch_pidi": "pidinet",
    "pidinet_sketch": "pidinet",
    "t2ia_style_clipvision": "clip_vision",
    "depth": "depth_midas",
    "seg_ofade20k": "segmentation_ade20k",
    "segmentation": "segmentation_ade20k",
    "scribble_xdog": "sketch_xdog",
    "lineart": "lineart_realistic",
    "openpose_full": "openpose",
}

#: older ControlNet field names accepted for the same field
FIELD_ALIASES = {"input_image": "image", "lowvram": "low_vram", "processor_resolution": "processor_res"}

#: ControlNet fields that ported clients send (webuiapi's ``ControlNetUnit.to_dict()``) and that mean nothing for an
#: adapter: accepted when well-typed, then dropped
IGNORED_FIELDS = {"mask": "image", "mask_image": "image", "save_detected_map": "bool"}

HR_OPTIONS = ("Both", "Low res only", "High res only")

WEIGHT_RANGE = (0.0, 2.0)
PROCESSOR_RES_RANGE = (0, 2048)


class ImageList(tuple):
    """Decoded condition images (uint8 ``H×W×3`` RGB, or ``H×W×4`` RGBA: alpha is kept for each purpose to
    composite its own way, see ``images.py``), one shared or one per image of the batch."""


@dataclass
class UnitArgs:
    """One unit. Defaults are what an API caller gets for omitted fields (``enabled`` defaults to true there)."""

    enabled: bool = True
    model: str = ""
    module: str = "none"
    image: ImageList = field(default_factory=ImageList)
    weight: float = 1.0
    guidance_start: float = 0.0
    guidance_end: float = 1.0
    resize_mode: ResizeMode = ResizeMode.CROP_AND_RESIZE
    processor_res: int = -1
    threshold_a: float = -1.0
    threshold_b: float = -1.0
    control_mode: ControlMode = ControlMode.BALANCED
    pixel_perfect: bool = False
    low_vram: bool = False
    annotator_params: dict = field(default_factory=dict)
    batch_folder: str = ""
    hr_option: str = "Both"  # which hires-fix passes the unit guides
    inpaint_crop_input_image: bool = True  # "only masked" inpainting: crop the condition like the image
    control_type: str = "All"  # the panel's Control Type (t2i_host/control_types.py): narrows its lists, nothing else

    # -- parsing ---------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, value: Any, unit: int | None = None, known_modules: set[str] | None = None) -> UnitArgs:
        """Validate what the API or the panel sent for one unit. ``None`` gives a disabled default unit.

        ``known_modules``, when given, are the valid annotator names (``module`` is checked against them).
        """
        if isinstance(value, UnitArgs):
            return value
        if value is None:
            return cls(enabled=False)
        if not isinstance(value, dict):
            raise UnitArgsError(
                f"each unit must be a JSON object (dict) of settings, got {_kind(value)}; "
                f'e.g. {{"model": "t2iadapter_canny_sd15v2", "image": "<base64>"}}',
                unit=unit,
            )
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for raw_key, raw in value.items():
            key = FIELD_ALIASES.get(raw_key, raw_key)
            if key in IGNORED_FIELDS:
                try:
                    _parse_image(raw) if IGNORED_FIELDS[key] == "image" else _parse_bool(raw)
                except ValueError as e:
                    raise UnitArgsError(f"{e} (this ControlNet field is accepted and ignored)", key, unit) from None
                continue
            if key not in names:
                close = difflib.get_close_matches(str(raw_key), sorted(names), n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                shown = str(raw_key) if str(raw_key).strip() else json.dumps(str(raw_key))  # '' still names a field
                raise UnitArgsError(f"unknown field; {hint}valid fields are: {', '.join(sorted(names))}", shown, unit)
            if key in values:
                raise UnitArgsError(f"given twice (also as '{raw_key}')", key, unit)
            try:
                values[key] = _PARSERS[key](raw)
            except UnitArgsError:
                raise
            except (ValueError, TypeError) as e:
                raise UnitArgsError(str(e), key, unit) from None
        args = cls(**values)
        args.check(unit, known_modules)
        return args

    def check(self, unit: int | None = None, known_modules: set[str] | None = None) -> None:
        """Checks that involve several fields or outside knowledge."""
        if self.guidance_start > self.guidance_end:
            raise UnitArgsError(
                f"guidance_start ({self.guidance_start}) is after guidance_end ({self.guidance_end}); "
                "send guidance_start ≤ guidance_end",
                "guidance_start",
                unit,
            )
        if known_modules is not None and self.module != "none" and self.module not in known_modules:
            close = difflib.get_close_matches(self.module, sorted(known_modules), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UnitArgsError(
                f"unknown annotator '{self.module}'; {hint}use \"none\" or one of: {', '.join(sorted(known_modules))}",
                "module",
                unit,
            )

    # -- writing -----------------------------------------------------------------------------------------------
    def to_dict(self, with_image: bool = True) -> dict[str, Any]:
        """Plain JSON-able values (enums as their display names); images as decoded arrays unless left out."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "image":
                if with_image:
                    out["image"] = list(v)
                continue
            if f.name == "control_mode":
                v = CONTROL_MODE_NAMES[v]
            elif isinstance(v, Enum):
                v = v.value
            elif isinstance(v, dict):
                v = dict(v)
            out[f.name] = v
        return out

    def to_infotext(self) -> str:
        """``"module: canny, model: name [hash], weight: 0.8, ..."`` — values with ``,``/``:``/quotes JSON-quoted."""
        items = self.to_dict(with_image=False)
        items.pop("enabled")
        if not items["batch_folder"]:
            items.pop("batch_folder")
        if not items["annotator_params"]:
            items.pop("annotator_params")
        if items["hr_option"] == "Both":
            items.pop("hr_option")
        if items["inpaint_crop_input_image"]:
            items.pop("inpaint_crop_input_image")
        if items["control_type"] == "All":
            items.pop("control_type")
        parts = []
        for key, value in items.items():
            if isinstance(value, dict):
                text = json.dumps(value, sort_keys=True)
            elif isinstance(value, float):
                text = _format_float(value)
            else:
                text = str(value)
            parts.append(f"{key}: {_quote(text)}")
        return ", ".join(parts)

    @classmethod
    def from_infotext(cls, text: str, unit: int | None = None, known_modules: set[str] | None = None) -> UnitArgs:
        """Inverse of :meth:`to_infotext` (the unit comes back enabled and without an image)."""
        values: dict[str, Any] = {}
        for key, raw in _split_pairs(text, unit):
            if key == "annotator_params":
                try:
                    values[key] = json.loads(raw)
                except (json.JSONDecodeError, RecursionError):  # a pasted infotext is anybody's text
                    raise UnitArgsError(f"not valid JSON: {raw[:80]!r}", key, unit) from None
            else:
                values[key] = raw
        return cls.parse(values, unit, known_modules)

    def with_changes(self, **changes: Any) -> UnitArgs:
        return replace(self, **changes)


def units_with_infotext(args: list, infotext_units: dict[int, str], count: int) -> list | None:
    """An API request's units completed from its infotext, field by field, as the WebUI lets fields a request sets
    win over its ``infotext``: ``infotext_units`` (``{unit index: "model: ..., weight: ..."}``, up to ``count``)
    gives each recorded unit's settings, enabled; the request's unit at the same position (a dict) overrides the
    fields it names, e.g. just ``{"image": ...}``. Infotexts hold no images (img2img falls back to its input image).
    None when the infotext records no unit."""
    recorded = {i: t for i, t in infotext_units.items() if 0 <= i < count}
    if not recorded:
        return None
    out = list(args) + [None] * (max(recorded) + 1 - len(args))
    for i, text in recorded.items():
        restored = UnitArgs.from_infotext(text, i).to_dict(with_image=False)
        given = out[i]
        out[i] = {**restored, **given} if isinstance(given, dict) else restored if given is None else given
    return out


# -- field parsers --------------------------------------------------------------------------------------------------
def _kind(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r}"[:80]


def _parse_bool(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError(f"must be true or false, got {_kind(value)}")


def finite_number(value: Any) -> float:
    """``value`` as a finite float, or a ValueError saying what was sent: the one number check of every unit field,
    route field and annotator parameter. JSON integers have no size limit (``1`` and 400 zeros is valid JSON): one
    beyond a float's range is refused here, not left to overflow later."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise ValueError(f"must be a number, got {_kind(value)}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"must be a number, got {_kind(value)}") from None
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"must be a number, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int of hundreds of digits
        raise ValueError("must be a finite number, got an integer beyond a float's range (±1.8e308)") from None
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number, got {value!r}")
    return number


def _ranged(lo: float, hi: float, minus_one: bool = False, integer: bool = False):
    def parse(value: Any) -> float | int:
        number = finite_number(value)
        default_ok = minus_one and number == -1
        if not default_ok and not lo <= number <= hi:
            extra = " or -1 (the annotator's default)" if minus_one else ""
            raise ValueError(f"{number:g} is out of range; send a number in [{lo:g}, {hi:g}]{extra}")
        if integer:
            if number != int(number):
                raise ValueError(f"must be a whole number, got {value!r}")
            return int(number)
        return number

    return parse


def _parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_kind(value)}")
    return value.strip()


def _parse_model(value: Any) -> str:
    if value is None:
        return ""
    text = _parse_str(value)
    return "" if text.lower() == "none" else text


def _parse_module(value: Any) -> str:
    if value is None:
        return "none"
    text = _parse_str(value).lower()
    if text in ("", "none"):
        return "none"
    return MODULE_ALIASES.get(text, text)


def _parse_control_mode(value: Any) -> ControlMode:
    if isinstance(value, ControlMode):
        return value
    choices = f"one of {list(CONTROL_MODE_NAMES.values())} or 0/1/2"
    if isinstance(value, bool):
        raise ValueError(f"must be {choices}, got the boolean {value!r}")
    if isinstance(value, (int, np.integer)):
        modes = list(CONTROL_MODE_NAMES)
        if 0 <= value < len(modes):
            return modes[int(value)]
    elif isinstance(value, str) and value.strip().lower() in _CONTROL_MODE_ALIASES:
        return _CONTROL_MODE_ALIASES[value.strip().lower()]
    raise ValueError(f"must be {choices}, got {_kind(value)}")


def _parse_resize_mode(value: Any) -> ResizeMode:
    try:
        return ResizeMode.parse(value)
    except ValueError as e:
        raise ValueError(str(e).replace("expected", "must be", 1)) from None


def _parse_annotator_params(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f'must be an object of annotator parameters, e.g. {{"low_threshold": 50}}, got {_kind(value)}')
    out = {}
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, (bool, int, float, str)) or isinstance(v, str) and len(v) > 100:
            raise ValueError(f"parameter {k!r} must be a number or true/false, got {_kind(v)}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            try:
                finite_number(v)
            except ValueError as e:
                raise ValueError(f"parameter {k!r} {e}") from None
        out[k] = v
    return out


def _parse_image(value: Any) -> ImageList:
    if value is None or (isinstance(value, str) and not value.strip()):
        return ImageList()
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    images = []
    for i, item in enumerate(items):
        where = f"item {i}: " if len(items) > 1 else ""
        try:
            decoded = decode_image(item)
        except ValueError as e:
            raise ValueError(where + str(e)) from None
        if decoded is not None:
            images.append(decoded)
    return ImageList(images)


def _parse_hr_option(value: Any) -> str:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and 0 <= value < len(HR_OPTIONS):
        return HR_OPTIONS[int(value)]
    if isinstance(value, str):
        for option in HR_OPTIONS:
            if value.strip().lower() == option.lower():
                return option
    raise ValueError(f"must be one of {list(HR_OPTIONS)} or 0/1/2, got {_kind(value)}")


_PARSERS = {
    "control_type": control_types.parse_name,
    "enabled": _parse_bool,
    "model": _parse_model,
    "module": _parse_module,
    "image": _parse_image,
    "weight": _ranged(*WEIGHT_RANGE),
    "guidance_start": _ranged(0.0, 1.0),
    "guidance_end": _ranged(0.0, 1.0),
    "resize_mode": _parse_resize_mode,
    "processor_res": _ranged(*PROCESSOR_RES_RANGE, minus_one=True, integer=True),
    "threshold_a": lambda v: finite_number(v),
    "threshold_b": lambda v: finite_number(v),
    "control_mode": _parse_control_mode,
    "pixel_perfect": _parse_bool,
    "low_vram": _parse_bool,
    "annotator_params": _parse_annotator_params,
    "batch_folder": lambda v: "" if v is None else _parse_str(v),
    "hr_option": _parse_hr_option,
    "inpaint_crop_input_image": _parse_bool,
}


# -- annotator parameter mapping ---------------------------------------------------------------------------------------
def annotator_values(
    args: UnitArgs, params: list[tuple[str, type]], resolution: int | None = None, unit: int | None = None
) -> dict[str, Any]:
    """The annotator keyword arguments for ``args``: ``params`` are the annotator's declared ``(name, type)``.

    ``resolution`` (e.g. from pixel perfect) overrides ``processor_res``. Values are checked by the annotator
    itself; here only unknown names in ``annotator_params`` are reported (naming the field).
    """
    names = [n for n, _ in params]
    out: dict[str, Any] = {}
    res = resolution if resolution is not None else args.processor_res
    if "resolution" in names and res != -1:
        out["resolution"] = int(res)
    numeric = [n for n, t in params if n != "resolution" and t in (int, float)]
    for knob, value in (("threshold_a", args.threshold_a), ("threshold_b", args.threshold_b)):
        index = 0 if knob == "threshold_a" else 1
        if value != -1 and index < len(numeric):
            typ = dict(params)[numeric[index]]
            out[numeric[index]] = int(value) if typ is int and value == int(value) else value
    for name, value in args.annotator_params.items():
        if name not in names:
            raise UnitArgsError(
                f"annotator '{args.module}' has no parameter '{name}'; "
                f"its parameters are: {', '.join(names) or 'none'}",
                "annotator_params",
                unit,
            )
        out[name] = value
    return out


def threshold_names(params: list[tuple[str, type]]) -> tuple[str | None, str | None]:
    """Which annotator parameters ``threshold_a`` and ``threshold_b`` set (for labels and documentation)."""
    numeric = [n for n, t in params if n != "resolution" and t in (int, float)]
    return (numeric[0] if numeric else None, numeric[1] if len(numeric) > 1 else None)


# -- infotext helpers ------------------------------------------------------------------------------------------------
def _format_float(value: float) -> str:
    return f"{value:.4g}" if value != int(value) else str(int(value)) if abs(value) < 1e15 else repr(value)


def _quote(text: str) -> str:
    if any(c in text for c in ',:"') or text != text.strip():
        return json.dumps(text, ensure_ascii=False)
    return text


def _split_pairs(text: str, unit: int | None) -> list[tuple[str, str]]:
    """``key: value, key: "quoted, value"`` → pairs; the inverse of the quoting in :meth:`UnitArgs.to_infotext`."""
    if not isinstance(text, str):
        raise UnitArgsError(f"infotext must be a string, got {_kind(text)}", unit=unit)
    pairs = []
    i, n = 0, len(text)
    decoder = json.JSONDecoder()
    while i < n:
        while i < n and text[i] in " ,":
            i += 1
        if i >= n:
            break
        colon = text.find(":", i)
        if colon < 0:
            raise UnitArgsError(f"cannot read {text[i:]!r}: expected 'key: value'", unit=unit)
        key = text[i:colon].strip()
        i = colon + 1
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == '"':
            try:
                value, i = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                raise UnitArgsError(f"unterminated quoted value after '{key}:'", key, unit) from None
        else:
            comma = text.find(",", i)
            comma = n if comma < 0 else comma
            value, i = text[i:comma].strip(), comma
        pairs.append((key, value))
    return pairs

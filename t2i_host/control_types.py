"""Control Type: one choice per unit that narrows the annotator and model lists to one condition (Canny, Depth…),
as sd-webui-controlnet's and Forge's ControlNet panels do (their ``GET /controlnet/control_types`` has the shape
of :func:`describe`).

A model belongs to a type by its detected kind (t2i_ext's registry: full, light, style, fuser) and by its file name,
the way users name files (``t2iadapter_canny_sd15v2``, ``t2iadapter_sketch-fp16``, ``coadapter-depth-sd15v1``,
``t2i-adapter_diffusers_xl_lineart``): a condition word in the name, case-insensitive. Style and colour adapters are
told by their kind alone (only they are ``style`` and ``light``), so a renamed one still shows. An annotator
belongs to a type when its ``suits`` (the annotator registry's condition words) name the type's condition.

WebUI-free and annotator-free: the glue passes the annotators' ``(name, suits)`` and the models' ``(title, stem,
kind)``. A unit's ``control_type`` only narrows the panel's lists: it never changes what a job does, and an
unknown name is accepted and ignored (read as "All"), as sd-webui-controlnet ignores the key.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass

KINDS = ("full", "light", "style", "fuser")


@dataclass(frozen=True)
class ControlType:
    name: str
    words: tuple[str, ...]  # the condition's words: in file names, in annotators' `suits`, and accepted as names
    default_module: str  # the annotator picked with the type (when registered)
    kinds: tuple[str, ...] = ("full",)  # the adapter kinds of this condition
    by_kind: bool = False  # the kind alone tells the condition
    aliases: tuple[str, ...] = ()  # other names it is known by (sd-webui-controlnet's)

    def has_annotator(self, suits: Iterable[str]) -> bool:
        return not self.words or any(word in s.lower() for s in suits for word in self.words)

    def has_model(self, stem: str, kind: str) -> bool:
        if not self.words:
            return True
        if kind in KINDS and kind not in self.kinds:
            return False
        return (self.by_kind and kind in self.kinds) or any(word in stem.lower() for word in self.words)


ALL = ControlType("All", (), "none", KINDS)
TYPES = (
    ALL,
    ControlType("Canny", ("canny",), "canny"),
    ControlType("Sketch/Lineart", ("sketch", "lineart", "scribble", "softedge"), "pidinet"),
    ControlType("Depth", ("depth",), "depth_midas"),
    ControlType("Pose", ("pose",), "openpose", aliases=("openpose", "keypose")),
    ControlType("Segmentation", ("seg",), "segmentation_ade20k"),
    ControlType("Colour", ("color", "colour"), "color_palette", kinds=("light",), by_kind=True),
    ControlType("Style", ("style",), "clip_vision", kinds=("style",), by_kind=True),
)


def names() -> list[str]:
    return [t.name for t in TYPES]


def find(name: str) -> ControlType | None:
    """The type called ``name`` or one of its words (``"OpenPose"`` → Pose, ``"lineart"`` → Sketch/Lineart)."""
    key = name.strip().lower()
    return next((t for t in TYPES if key == t.name.lower() or key in t.words or key in t.aliases), None)


def parse_name(value: object) -> str:
    """A unit's ``control_type``: the type's name; an unknown name is ignored ("All"), a non-text value refused."""
    if not isinstance(value, str):
        raise ValueError(f"must be a control type name such as 'Canny' (one of {', '.join(names())})")
    found = find(value)
    return found.name if found else ALL.name


def modules(control_type: ControlType, annotators: Iterable[tuple[str, Sequence[str]]]) -> list[str]:
    """``"none"`` and the annotators of ``control_type``, in the order given."""
    return ["none", *(name for name, suits in annotators if control_type.has_annotator(suits))]


def models(control_type: ControlType, listed: Iterable[tuple[str, str, str]]) -> list[str]:
    """``"None"`` and the titles of the ``(title, stem, kind)`` models of ``control_type``, in the order given."""
    return ["None", *(title for title, stem, kind in listed if control_type.has_model(stem, kind))]


def default_module(control_type: ControlType, module_list: Sequence[str]) -> str:
    if control_type.default_module in module_list:
        return control_type.default_module
    return module_list[1] if len(module_list) > 1 and control_type is not ALL else "none"


def default_model(control_type: ControlType, model_list: Sequence[str], fits: Container[str] = ()) -> str:
    """The model a choice of ``control_type`` sets: its first that fits the loaded checkpoint (``fits``), else its
    first; "None" for "All"."""
    if control_type is ALL or len(model_list) < 2:
        return "None"
    return next((title for title in model_list[1:] if title in fits), model_list[1])


def describe(
    annotators: Sequence[tuple[str, Sequence[str]]], listed: Sequence[tuple[str, str, str]], fits: Container[str] = ()
) -> dict:
    """``GET /t2i-adapter/control_types``: per type its annotators, its models (``listed``: every family, as
    ``/controlnet/control_types`` lists them) and the defaults a choice sets (``fits``: the titles that fit the
    loaded checkpoint, preferred as the default model)."""
    out = {}
    for t in TYPES:
        module_list, model_list = modules(t, annotators), models(t, listed)
        out[t.name] = {
            "module_list": module_list,
            "model_list": model_list,
            "default_option": default_module(t, module_list),
            "default_model": default_model(t, model_list, fits),
        }
    return {"control_types": out}

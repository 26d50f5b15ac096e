"""The annotator registry: one table of every condition-map detector, its parameters and what it suits.

An *annotator* turns an image into the condition map an adapter was trained on (Canny edges, a pose skeleton,
a colour palette, ...). The WebUI panel, the HTTP API's `/detect` route and the CLI (`python -m annotators`)
all go through `run()`, so every caller gets the same input handling, parameter validation and output checks.

Conventions every annotator follows
-----------------------------------
- Its function receives the image already normalised by `annotators.image.to_rgb_uint8`: a C-contiguous
  ``uint8`` array of shape ``(H, W, 3)`` in **RGB** order, plus its parameters as keyword arguments (already
  validated, converted to the declared type, defaults filled in).
- It returns, at the **input size** ``(H, W)`` (work at a detect resolution internally if useful, then resize
  back; see `annotators.image.short_side_resize`):
    * ``output="edge"``: ``uint8`` ``(H, W)``, white (255) lines on black (0);
    * ``output="rgb"``: ``uint8`` ``(H, W, 3)``, RGB order;
    * ``output="tokens"``: any array (e.g. CLIP tokens ``(257, 1024)`` float32); not checked for size.
  `run()` checks this contract and raises `AnnotatorOutputError` if an annotator breaks it.
- Nothing found (no person, ...) is not an error: return an empty (black) map and log a warning on the
  ``"annotators"`` logger (`LOG`). That is the one message mechanism of the package.
- Heavy libraries (mediapipe, torch) are imported inside the function, so ``import annotators`` needs only
  numpy, OpenCV and Pillow.

How to register an annotator
----------------------------
Put it in its own module under ``annotators/`` and add that module to ``_MODULES`` in
``annotators/__init__.py`` (importing the module registers it)::

    from annotators.registry import Param, register, RESOLUTION

    @register(
        output="edge",
        params=(RESOLUTION, Param("threshold", 0.5, 0.0, 1.0, 0.01, "Edge threshold")),
        weights=("my_model.pth",),             # files it needs; () for offline annotators
        suits=("sketch", "t2iadapter_sketch"), # adapter kinds / adapter-file substrings it suits
    )
    def my_edges(image: np.ndarray, *, resolution: int, threshold: float) -> np.ndarray:
        '''One line for --list and the UI: what the map shows.

        Anything after the first paragraph is for readers of the code only.'''

The function's name is the annotator's name and the docstring's first paragraph its description, so neither is
written twice; pass them (``register("name", description=...)``) where the function is built for several names.
`register(Annotator(...))` (a plain call with a ready `Annotator`) works too. Names are unique: registering a
name twice raises `ValueError` (use ``replace=True`` on purpose, e.g. in tests).
"""

from __future__ import annotations

import inspect
import logging
import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotators.image import to_rgb_uint8

LOG = logging.getLogger("annotators")

OUTPUT_KINDS = ("edge", "rgb", "tokens")

Number = int | float
AnnotatorFn = Callable[..., np.ndarray]


class UnknownAnnotatorError(KeyError, ValueError):
    """An annotator name that is not registered. Both a KeyError (lookup) and a ValueError (bad input)."""

    def __str__(self) -> str:  # KeyError would otherwise print the message in quotes
        return str(self.args[0]) if self.args else ""


class AnnotatorOutputError(RuntimeError):
    """An annotator returned a map that breaks the output contract (a bug in the annotator, not the input)."""


@dataclass(frozen=True)
class Param:
    """One numeric or boolean parameter of an annotator.

    The type is the type of `default` (int, float or bool). `step` is a UI hint (slider step); `run()` checks
    the type and the range [minimum, maximum] only.
    """

    name: str
    default: Number | bool
    minimum: Number = 0
    maximum: Number = 1
    step: Number = 1
    label: str = ""

    @property
    def type(self) -> type:
        return type(self.default)

    def describe(self) -> str:
        if self.type is bool:
            return f"{self.name}={self.default} (true/false)"
        return f"{self.name}={self.default} [{self.minimum}..{self.maximum}, step {self.step}]"

    def coerce(self, value: Any, annotator: str) -> Number | bool:
        """Convert `value` (number, bool, or a string from the CLI/API) to this parameter's type; check its range."""
        where = f"annotator {annotator!r}: parameter {self.name!r}"
        if self.type is bool:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
            if isinstance(value, (int, np.integer)) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in (
                "true",
                "1",
                "yes",
                "on",
                "false",
                "0",
                "no",
                "off",
            ):
                return value.strip().lower() in ("true", "1", "yes", "on")
            raise ValueError(f"{where} must be true or false, got {value!r}")
        if isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{where} must be a number in [{self.minimum}, {self.maximum}], got the boolean {value!r}")
        number: float
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise ValueError(
                    f"{where} must be a number in [{self.minimum}, {self.maximum}], got {value!r}"
                ) from None
        elif isinstance(value, (int, float, np.integer, np.floating)):
            number = float(value)
        else:
            raise ValueError(
                f"{where} must be a number in [{self.minimum}, {self.maximum}], got {type(value).__name__}"
            )
        if not math.isfinite(number):
            raise ValueError(f"{where} must be a finite number in [{self.minimum}, {self.maximum}], got {value!r}")
        if self.type is int and number != int(number):
            raise ValueError(f"{where} must be a whole number in [{self.minimum}, {self.maximum}], got {value!r}")
        if not self.minimum <= number <= self.maximum:
            raise ValueError(f"{where} = {value!r} is out of range; allowed range is [{self.minimum}, {self.maximum}]")
        return int(number) if self.type is int else number


# Shared parameter: the short side the image is resized to before detection (0 keeps the input size).
RESOLUTION = Param("resolution", 512, 0, 2048, 64, "Detect resolution (short side; 0 = input size)")


@dataclass(frozen=True)
class Annotator:
    """A registered annotator: what it produces, its parameters, the weight files it needs, what it suits."""

    name: str
    fn: AnnotatorFn
    output: str
    params: tuple[Param, ...] = ()
    weights: tuple[str, ...] = ()
    suits: tuple[str, ...] = ()
    description: str = ""
    #: the weight files a call with these (validated) parameters needs, when not all of `weights` (lineart: one
    #: of its two models, chosen by a parameter)
    weights_for: Callable[[dict[str, Any]], tuple[str, ...]] | None = None
    _by_name: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").isalnum() or self.name != self.name.lower():
            raise ValueError(f"annotator name {self.name!r} must be lower-case letters, digits and '_'")
        if self.output not in OUTPUT_KINDS:
            raise ValueError(f"annotator {self.name!r}: output must be one of {OUTPUT_KINDS}, got {self.output!r}")
        if not callable(self.fn):
            raise ValueError(f"annotator {self.name!r}: fn must be callable")
        for p in self.params:
            if p.name in self._by_name:
                raise ValueError(f"annotator {self.name!r}: parameter {p.name!r} declared twice")
            if p.type is not bool:
                # The default must satisfy its own range, or every default call would fail validation.
                p.coerce(p.default, self.name)
            self._by_name[p.name] = p

    @property
    def needs_weights(self) -> bool:
        return bool(self.weights)

    def needed_weights(self, params: dict[str, Any] | None = None) -> tuple[str, ...]:
        """The weight files a call with `params` (validated, defaults filled in) needs."""
        if self.weights_for is None:
            return self.weights
        return tuple(self.weights_for(self.validate(params or {})))

    @property
    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def param(self, name: str) -> Param:
        try:
            return self._by_name[name]
        except KeyError:
            valid = ", ".join(self._by_name) or "none"
            raise ValueError(
                f"annotator {self.name!r} has no parameter {name!r}; its parameters are: {valid}"
            ) from None

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Return a full parameter dict: defaults, overridden by `params` after type and range checks."""
        out = self.defaults
        for key, value in params.items():
            name = key.replace("-", "_")  # CLI spelling "low-threshold" == "low_threshold"
            out[name] = self.param(name).coerce(value, self.name)
        return out

    def suits_adapter(self, adapter: str) -> bool:
        """True when any `suits` entry occurs in `adapter` (an adapter kind or file name), case-insensitive."""
        a = adapter.lower()
        return any(s.lower() in a for s in self.suits)

    def __call__(self, image: Any, **params: Any) -> np.ndarray:
        return run(self.name, image, **params)


_REGISTRY: dict[str, Annotator] = {}
_LOCK = threading.Lock()


def register(
    name_or_annotator: str | Annotator | None = None,
    *,
    output: str = "edge",
    params: Iterable[Param] = (),
    weights: Iterable[str] = (),
    suits: Iterable[str] = (),
    description: str = "",
    replace: bool = False,
    weights_for: Callable[[dict[str, Any]], tuple[str, ...]] | None = None,
) -> Any:
    """Register an annotator. `register(Annotator(...))` registers and returns it; `register(...)` returns a
    decorator that registers the decorated function (named as the function unless a name is given, described by
    its docstring's first paragraph unless `description` is given) and returns the function unchanged."""
    if isinstance(name_or_annotator, Annotator):
        _add(name_or_annotator, replace)
        return name_or_annotator

    def decorator(fn: AnnotatorFn) -> AnnotatorFn:
        if name_or_annotator is None and fn.__name__ == "<lambda>":
            raise ValueError("an annotator made from a lambda needs a name: register('my_name', ...)(lambda ...)")
        _add(
            Annotator(
                name=name_or_annotator or fn.__name__,
                fn=fn,
                output=output,
                params=tuple(params),
                weights=tuple(weights),
                suits=tuple(suits),
                description=description or _first_paragraph(fn),
                weights_for=weights_for,
            ),
            replace,
        )
        return fn

    return decorator


def _first_paragraph(fn: AnnotatorFn) -> str:
    """The docstring's first paragraph on one line ("" without a docstring)."""
    return " ".join((inspect.getdoc(fn) or "").split("\n\n")[0].split())


def _add(annotator: Annotator, replace: bool) -> None:
    with _LOCK:
        if annotator.name in _REGISTRY and not replace:
            raise ValueError(f"annotator {annotator.name!r} is already registered (pass replace=True to override)")
        _REGISTRY[annotator.name] = annotator


def unregister(name: str) -> None:
    """Remove an annotator (for tests and plugins); unknown names are ignored."""
    with _LOCK:
        _REGISTRY.pop(name, None)


def names() -> list[str]:
    """Registered annotator names, sorted."""
    return sorted(_REGISTRY)


def list_annotators() -> list[Annotator]:
    """Registered annotators, sorted by name."""
    return [_REGISTRY[n] for n in names()]


def get(name: str) -> Annotator:
    """The annotator called `name`; `UnknownAnnotatorError` (a KeyError and ValueError) lists the valid names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownAnnotatorError(
            f"unknown annotator {name!r}; valid names are: {', '.join(names()) or '(none registered)'}"
        ) from None


def for_adapter(adapter: str) -> list[Annotator]:
    """Annotators that suit `adapter` (a kind such as "canny" or a file name such as "t2iadapter_canny_sd15v2.pth")."""
    return [a for a in list_annotators() if a.suits_adapter(adapter)]


def run(name: str, image: Any, **params: Any) -> np.ndarray:
    """Annotate `image` with annotator `name`.

    `image`: numpy array (HxW, HxWx1, HxWx3 RGB, HxWx4 RGBA; uint8, uint16, bool, or float in [0, 1]) or a PIL
    image of any mode; see `annotators.image.to_rgb_uint8`. `params`: the annotator's parameters (unknown names
    or out-of-range values raise ValueError naming the parameter and its range; missing ones take defaults).
    Returns the map at the input size: uint8 (H, W) for "edge", uint8 (H, W, 3) RGB for "rgb", an array for
    "tokens". Warnings (e.g. no person found) go to the "annotators" logger.
    """
    annotator = get(name)
    values = annotator.validate(params)  # validate before touching the image: cheap errors first
    rgb = to_rgb_uint8(image)
    out = annotator.fn(rgb, **values)
    return _check_output(annotator, out, rgb.shape[:2])


def _check_output(annotator: Annotator, out: Any, size: tuple[int, int]) -> np.ndarray:
    if annotator.output == "tokens":
        return out
    expected = size if annotator.output == "edge" else (*size, 3)
    if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != expected:
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise AnnotatorOutputError(
            f"annotator {annotator.name!r} returned {got}; its contract is uint8 {expected} ({annotator.output} map)"
        )
    return out

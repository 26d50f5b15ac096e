"""What an API request's units must satisfy before a WebUI runs it (the argument guard answers 422 otherwise).

The same rules the job applies, checked up front so a bad unit costs no sampling: at most the configured number of
units; each enabled unit parses, names a listed model that fits the checkpoint family the job will run on, has a
condition image (or img2img's input, or a batch folder; the CoAdapter fuser needs none), an image count that fits
the batch, and annotator settings the annotator accepts. The glue says what the host knows (:class:`ApiRules`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .annotate import check_annotator
from .batch_images import check_count
from .families import UNKNOWN, check_family
from .model_store import ModelInfo
from .unit_args import UnitArgs, UnitArgsError, annotator_values


@dataclass
class ApiRules:
    """What the host knows when a request arrives."""

    unit_count: int
    parse: Callable[[Any, int, set[str]], UnitArgs]  # e.g. a ParsedUnits cache's parse
    known_modules: set[str]
    find_model: Callable[[str, int], ModelInfo]  # raises UnitArgsError naming "model"
    title: Callable[[ModelInfo], str]
    family: str | None  # the family the job will run on; None while unknown (a checkpoint switch is pending)
    allow_sd1_on_sd2: bool
    annotator_params: Callable[[str], list[tuple[str, type]]]  # (name, type) of an annotator's parameters
    validate_annotator: Callable[[str, dict[str, Any]], None]  # raises ValueError for a bad parameter


def validate_units(units: list, request: dict | None, rules: ApiRules) -> None:
    """Raise :class:`UnitArgsError` for the first unit of ``units`` (the request's ``args``) a job would refuse."""
    request = request or {}
    if len(units) > rules.unit_count:
        raise UnitArgsError(
            f"{len(units)} units sent but {rules.unit_count} are configured (Settings → T2I-Adapter → number of "
            "units); send at most that many",
            "args",
        )
    batch = request.get("batch_size", 1) if isinstance(request.get("batch_size", 1), int) else 1
    n_iter = request.get("n_iter", 1) if isinstance(request.get("n_iter", 1), int) else 1
    for i, raw in enumerate(units):
        args = rules.parse(raw, i, rules.known_modules)
        if not args.enabled:
            continue
        info = rules.find_model(args.model, i)
        if info.base != UNKNOWN and rules.family is not None:
            check_family(info.base, info.kind, rules.family, rules.title(info), i, rules.allow_sd1_on_sd2)
        if not args.image and info.kind != "fuser" and not args.batch_folder and "init_images" not in request:
            raise UnitArgsError("no condition image: send the image base64-encoded", "image", i)
        if args.image:
            check_count(len(args.image), batch, n_iter, i)
        if args.module != "none":
            params = annotator_values(args, rules.annotator_params(args.module), None, i)
            check_annotator(lambda kw, m=args.module: rules.validate_annotator(m, kw), args.module, params, i)

"""What the glue asks of the annotator registry: names, parameter types, which widgets a module's parameters fill."""

from __future__ import annotations

from typing import Any

import annotators
from t2i_host.unit_args import threshold_names


def known_modules() -> set[str]:
    return set(annotators.names())


def param_types(module: str) -> list[tuple[str, type]]:
    if module == "none":
        return []
    return [(p.name, p.type) for p in annotators.get(module).params]


def layout(module: str) -> tuple[Any, Any, Any, list[str]]:
    """(resolution param, threshold_a param, threshold_b param, bool param names) of an annotator."""
    if module == "none" or module not in annotators.names():
        return None, None, None, []
    params = annotators.get(module).params
    by_name = {p.name: p for p in params}
    a, b = threshold_names([(p.name, p.type) for p in params])
    bools = [p.name for p in params if p.type is bool]
    return by_name.get("resolution"), by_name.get(a), by_name.get(b), bools

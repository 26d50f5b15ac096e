"""The boundary where the host layer calls an annotator: what it raises becomes a :class:`UnitArgsError`.

The glue hands the host an ``annotate(name, image, **params)`` function (the annotators package's ``run``); the
host layer does not import the annotators, so it recognises their errors by the standard types they derive from:

- ``ValueError``: a parameter out of range (the message names the annotator parameter; the unit fields that feed it
  are ``threshold_a``/``threshold_b``/``processor_res``/``annotator_params``);
- ``OSError``: a weight file that is not on disk and could not be downloaded, or one that is not the published
  file (``annotators.weights``' ``WeightsError`` family; its message says which file and where to put it) — the
  user's to fix, so a 422, not a server error.

Both name the field ``module``: the annotator the unit chose is what needs the parameter or the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .unit_args import UnitArgsError

#: annotate(name, image, **params) -> map (uint8 H×W or H×W×3) or tokens; the annotators package's ``run``
Annotate = Callable[..., Any]


def run_annotator(annotate: Annotate, module: str, image: Any, params: dict[str, Any], unit: int | None) -> Any:
    """``annotate(module, image, **params)``, its user-facing errors raised as :class:`UnitArgsError`."""
    return _user_errors(lambda: annotate(module, image, **params), module, unit)


def check_annotator(validate: Callable[[dict[str, Any]], None], module: str, params: dict[str, Any], unit: int | None):
    """``validate(params)`` (an annotator's own parameter check) with the same errors as :func:`run_annotator`, so
    the API guard refuses a unit exactly as its job would."""
    _user_errors(lambda: validate(params), module, unit)


def _user_errors(call: Callable[[], Any], module: str, unit: int | None) -> Any:
    try:
        return call()
    except UnitArgsError:
        raise
    except OSError as e:
        raise UnitArgsError(f"{e} (needed by annotator '{module}')", "module", unit) from None
    except (ValueError, ArithmeticError) as e:  # an overflow is a parameter out of range too
        raise UnitArgsError(
            f"{e} (set through threshold_a/threshold_b/processor_res/annotator_params)", "module", unit
        ) from None

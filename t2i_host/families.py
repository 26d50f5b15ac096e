"""Which adapters fit which checkpoint: the one place that knows the model-family rules.

- SD1 adapters fit SD1.x checkpoints, and SD2.x ones with a warning (the shapes fit; they were trained on SD1),
  unless the user switched that off;
- SDXL adapters fit SDXL checkpoints only;
- style adapters and the CoAdapter fuser need SD1's 768-wide text context;
- families without UNet input blocks (SD3, Flux and whatever a host loads next) take no T2I-Adapter.

The checkpoint's family is read from the flags both WebUIs set on their model object (``is_sdxl``, ``is_sd2``,
``is_sd3``; Forge adds ``is_sd1`` and sets none of them for Flux).
"""

from __future__ import annotations

from typing import Any

from t2i_ext.nets.base import SD1, SDXL

from .model_store import UNKNOWN  # an adapter whose family only the load can tell
from .unit_args import UnitArgsError

SD2 = "SD2"  # a checkpoint family only: SD1 adapters serve it


def checkpoint_family(sd_model: Any) -> str:
    """SD1, SD2, SDXL, or the name of a family that takes no T2I-Adapter (SD3, or the model's class on Forge)."""
    if getattr(sd_model, "is_sd3", False):
        return "SD3"
    if getattr(sd_model, "is_sdxl", False):
        return SDXL
    if getattr(sd_model, "is_sd2", False):
        return SD2
    if getattr(sd_model, "is_sd1", None) is False:  # Forge: a model of another family (Flux, …)
        return type(sd_model).__name__
    return SD1


def adapter_fits(base: str, kind: str, family: str) -> bool:
    """Whether an adapter of ``base``/``kind`` may guide a checkpoint of ``family`` (for the model lists): the job's
    own check, so a listed model is never refused for its family."""
    if base == UNKNOWN:
        return True  # only the load can tell: list it, the job checks
    try:
        check_family(base, kind, family, "", 0)
    except UnitArgsError:
        return False
    return True


def check_family(base: str, kind: str, family: str, name: str, unit: int, allow_sd1_on_sd2: bool = True) -> bool:
    """Raise :class:`UnitArgsError` (field ``model``) when adapter ``name`` cannot guide a ``family`` checkpoint.

    Returns True when it may, but only with a caveat the caller should log (an SD1 adapter on SD2).
    """
    if family not in (SD1, SD2, SDXL):
        raise UnitArgsError(
            f"the loaded checkpoint is {family}, which has no UNet input blocks for T2I-Adapters: load an SD1.x, "
            "SD2.x or SDXL checkpoint, or disable this unit",
            "model",
            unit,
        )
    if kind in ("style", "fuser") and family != SD1:
        raise UnitArgsError(
            f"'{name}' is a {kind} adapter for SD1 checkpoints (768-wide text); the loaded checkpoint "
            f"is {family}: load an SD1.x checkpoint or disable this unit",
            "model",
            unit,
        )
    want = SDXL if family == SDXL else SD1
    if base != want:
        raise UnitArgsError(
            f"'{name}' is an {base} adapter but the loaded checkpoint is {family}: choose an "
            f"{'SDXL' if family == SDXL else 'SD1.x'} adapter (the model list shows only matching ones)",
            "model",
            unit,
        )
    if family == SD2:
        if not allow_sd1_on_sd2:
            raise UnitArgsError(
                f"'{name}' was trained for SD1.x; SD1 adapters on SD2 checkpoints are switched off in "
                "Settings → T2I-Adapter",
                "model",
                unit,
            )
        return True
    return False

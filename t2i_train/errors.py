"""Errors the trainer raises before any work starts, each with what to do about it."""

from __future__ import annotations


class TrainError(Exception):
    """Base class: a problem with the training setup."""


class BaseModelError(TrainError):
    """The base model is unknown, unsupported or incomplete (names the file and what to do)."""


class DatasetError(TrainError):
    """The training folder has problems; ``problems`` lists every one, ``str()`` is the full report."""

    def __init__(self, folder: str, problems: list[str]) -> None:
        self.folder = folder
        self.problems = list(problems)
        lines = [f"the training folder {folder} has {len(problems)} problem(s):"] + [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


class ConfigError(TrainError):
    """An invalid training option."""


class NonFiniteLossError(TrainError):
    """The loss became NaN or infinite: the run stopped at once; no adapter was written."""

    def __init__(self, step: int, loss: float, checkpoint: object, learning_rate: float) -> None:
        self.step = step
        kept = f"the last good checkpoint is {checkpoint}" if checkpoint else "no checkpoint was written before it"
        super().__init__(
            f"the loss became {loss} at step {step}; training stopped and no adapter was written ({kept}). "
            f"Lower --learning-rate (now {learning_rate:g}), or use --mixed-precision no, then run again"
            + (" with --resume latest." if checkpoint else ".")
        )

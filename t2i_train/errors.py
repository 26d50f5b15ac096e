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

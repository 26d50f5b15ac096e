"""Mirrors modules/generation_parameters_copypaste.py@v1.10.1: a backwards-compatible alias of infotext_utils."""

from modules.infotext_utils import *  # noqa: F401,F403
from modules.infotext_utils import parse_generation_parameters, quote, unquote  # noqa: F401

"""Mirrors modules/errors.py@v1.10.1: ``report`` prints a message and the traceback and never raises.

The WebUI wraps every script hook in ``try/except Exception: errors.report(...)`` (modules/scripts.py), so an
exception inside an extension's hook is logged and generation carries on. The stand-in also keeps the reports in
``reported`` so tests can see them."""

import sys
import traceback

reported: list[tuple[str, BaseException | None]] = []


def report(message: str, *, exc_info: bool = False) -> None:
    exc = sys.exc_info()[1] if exc_info else None
    reported.append((message, exc))
    print("***", message, file=sys.stderr)
    if exc_info:
        traceback.print_exc(file=sys.stderr)


def display(e: BaseException, task: str, *, full_traceback: bool = False) -> None:
    report(f"{task}: {type(e).__name__}: {e}", exc_info=True)


def print_error_explanation(message: str) -> None:
    print(message, file=sys.stderr)

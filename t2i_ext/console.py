"""The command lines' boundary with other libraries: their start-up noise is silenced, ours is shown.

Libraries print on their own ("No module 'xformers'. Proceeding without it.", "making attention of type
'vanilla'…", "Working with z of shape…"), log, warn, and MediaPipe/TF Lite write to file descriptor 2 from C.
Inside :func:`quiet_libraries` all of that goes to ``/dev/null``; the command's own lines go to the streams it
yields, which reach the terminal (or a test's capture). ``verbose=True`` changes nothing, so everything shows.
Standard library only (the core's dependency rule).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterator
from typing import TextIO

#: loggers whose records are ours (shown); every other library's are dropped unless verbose
OUR_LOGGERS = ("annotators", "t2i_ext", "t2i_train", "t2i_host")


class _Ours(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name.split(".")[0] in OUR_LOGGERS


def _fd_of(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):  # a test's capture, a StringIO
        return None


@contextlib.contextmanager
def quiet_libraries(verbose: bool = False) -> Iterator[tuple[TextIO, TextIO]]:
    """Yield ``(out, err)``: streams for the command's own lines, while other libraries' output is silenced."""
    out, err = sys.stdout, sys.stderr
    if verbose:  # everything shows; log records of every library too
        handler = logging.StreamHandler(err)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            yield out, err
        finally:
            root.removeHandler(handler)
            root.setLevel(old_level)
        return
    saved: list[tuple[int, int]] = []
    devnull = open(os.devnull, "w")  # noqa: SIM115 — closed in finally
    mine = {id(out): out, id(err): err}
    try:
        for fd, stream in ((1, out), (2, err)):
            try:
                os.fstat(fd)
            except OSError:  # not open: nothing to silence
                continue
            stream.flush()
            if _fd_of(stream) == fd:  # our lines keep a copy of the real descriptor
                mine[id(stream)] = open(os.dup(fd), "w", buffering=1, errors="replace",  # noqa: SIM115
                                        encoding=getattr(stream, "encoding", None) or "utf-8")
            saved.append((fd, os.dup(fd)))
            os.dup2(devnull.fileno(), fd)  # what C libraries write to 1 and 2 goes nowhere
        mine_out, mine_err = mine[id(out)], mine[id(err)]
        handler = logging.StreamHandler(mine_err)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler.addFilter(_Ours())
        root = logging.getLogger()
        old_level = root.level
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
        sys.stdout, sys.stderr = devnull, devnull
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield mine_out, mine_err
        finally:
            sys.stdout, sys.stderr = out, err
            root.removeHandler(handler)
            root.setLevel(old_level)
    finally:
        copies = [s for s in mine.values() if s is not out and s is not err]
        for stream in copies:
            with contextlib.suppress(OSError):
                stream.flush()
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        for stream in copies:
            with contextlib.suppress(OSError):
                stream.close()
        devnull.close()


def refuse(error: BaseException | str, stream: TextIO, status: int = 1) -> int:
    """Print the one line a command answers a refusal with (``error: …``, never a traceback); return ``status``,
    its exit status."""
    print(f"error: {error}", file=stream)
    return status


def write_failure(error: BaseException) -> str | None:
    """``"PATH: reason"`` when ``error`` is a failed write (an ``OSError``, or safetensors' own error wrapping
    one: a full disk, a read-only folder); ``None`` for anything else."""
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}"
    if type(error).__name__ == "SafetensorError":  # its message carries the OS error: "… Os { code: 28, … }"
        match = re.search(r"code: (\d+)", str(error))
        return os.strerror(int(match.group(1))) if match else str(error).splitlines()[0]
    return None

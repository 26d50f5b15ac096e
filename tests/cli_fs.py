"""Folders that refuse writes, for the command-line tests: a full filesystem and a read-only one.

Root ignores permission bits, so as root both are small tmpfs mounts (the read-only one remounted ``ro``); as
another user the read-only folder is a ``chmod 555`` folder and the full one needs root (skipped without it).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(path: Path, *options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)], capture_output=True)
    if ok.returncode != 0:
        return False
    for opt in options:
        subprocess.run(["mount", "-o", f"remount,{opt}", str(path)], check=True, capture_output=True)
    return True


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def full_folder(path: Path) -> Iterator[Path]:
    """A folder on a 64 KiB filesystem that is already full: every write of a byte fails with ENOSPC."""
    if not _mount(path):
        pytest.skip("a full filesystem needs root (a tmpfs mount)")
    try:
        fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
        os.close(fd)
        yield path
    finally:
        _umount(path)


@contextlib.contextmanager
def readonly_folder(path: Path) -> Iterator[Path]:
    """A folder nobody can write to (an existing, empty one)."""
    if os.geteuid() != 0:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    if not _mount(path, "ro"):
        pytest.skip("a read-only folder as root needs a tmpfs mount")
    try:
        yield path
    finally:
        _umount(path)

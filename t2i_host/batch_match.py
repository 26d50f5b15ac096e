"""img2img batch: which condition image belongs to the input image being processed (matched by file stem).

The WebUI's batch tab (``modules/img2img.py process_batch``) reads each input file and hands scripts only the
decoded picture (``images.read`` → ``ImageOps.exif_transpose`` returns a copy, which drops ``Image.filename``),
reusing ONE ``p`` for all files, in ``shared.walk_files`` order (folders and names in natural sort order). The
input's name is therefore recovered from whatever the WebUI leaves, most exact first (see the glue):
the picture's ``filename``; ``p.override_settings["samples_filename_pattern"]`` (the stem, set when an output
folder is given); the input folder (captured from the UI) indexed by ``state.job`` ("3 out of 10") or by content;
and, last, the count of jobs run on the same ``p``, which picks the k-th condition image in the same order —
right when the condition folder holds one image per input file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from .images import image_digest, open_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")


def _decode(path: Path) -> np.ndarray:
    """The file's picture as the batch tab hands it to scripts (EXIF rotation applied), RGB without alpha."""
    from PIL import Image

    with Image.open(path) as im:
        return open_image(im, exif_transpose=True)[..., :3]


class InputFolderIndex:
    """Content hash → file, for the images of an input folder (recursively, as the WebUI walks it)."""

    def __init__(self) -> None:
        self._digests: dict[tuple, str] = {}

    def find(self, folder: str | Path, image: np.ndarray) -> Path | None:
        """The file in ``folder`` whose decoded RGB pixels equal ``image`` (uint8 H×W×3), or None."""
        folder = Path(folder)
        if not folder.is_dir():
            return None
        want = image_digest([image[..., :3]])
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
            st = path.stat()
            key = (str(path), st.st_size, st.st_mtime_ns)
            if key not in self._digests:
                try:
                    self._digests[key] = image_digest([_decode(path)])
                except (OSError, ValueError):
                    self._digests[key] = ""
            if self._digests[key] == want:
                return path
        return None


def find_by_stem(folder: str | Path, stem: str) -> Path | None:
    """The image in ``folder`` named ``<stem>.<image suffix>`` (case-insensitive suffix), or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    matches = sorted(
        p for p in folder.iterdir() if p.is_file() and p.stem == stem and p.suffix.lower() in IMAGE_SUFFIXES
    )
    return matches[0] if matches else None


def natural_sort_key(text: str) -> list:
    """The WebUI's ``modules.util.natural_sort_key``: digits compare as numbers, the rest case-insensitively."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def walk_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` in the order the batch tab processes them (``shared.walk_files``)."""
    if not Path(folder).is_dir():
        return []
    out = []
    for root, _, files in sorted(os.walk(folder, followlinks=True), key=lambda item: natural_sort_key(item[0])):
        for name in sorted(files, key=natural_sort_key):
            if name.lower().endswith(IMAGE_SUFFIXES):
                out.append(Path(root) / name)
    return out


def stem_from_pattern(pattern: str | None) -> str | None:
    """The input stem from the batch tab's ``samples_filename_pattern`` (``<stem>[-[generation_number]]``)."""
    if not pattern:
        return None
    stem = pattern[: -len("-[generation_number]")] if pattern.endswith("-[generation_number]") else pattern
    return None if "[" in stem else stem


def job_index(job: str | None) -> int | None:
    """0-based file index from the batch tab's ``state.job`` (``"3 out of 10"`` → 2)."""
    m = re.fullmatch(r"\s*(\d+) out of (\d+)\s*", job or "")
    return int(m.group(1)) - 1 if m else None

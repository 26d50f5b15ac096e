"""img2img batch: which condition image belongs to the input image being processed (matched by file stem).

The WebUI's batch tab reads each input file and hands scripts only the decoded picture (``images.read`` →
``ImageOps.exif_transpose`` returns a copy, which drops ``Image.filename``). So the input's name is recovered by
content: the input folder's images are decoded the same way once, hashed, and cached by path + size + mtime;
the processed picture's hash then gives its file name, and the unit's batch folder is searched for that stem.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")


def pixel_digest(image: np.ndarray) -> str:
    arr = np.ascontiguousarray(image)
    return hashlib.blake2b(f"{arr.shape}{arr.dtype}".encode() + arr.tobytes(), digest_size=16).hexdigest()


def _decode(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


class InputFolderIndex:
    """Content hash → file, for the images of an input folder (recursively, as the WebUI walks it)."""

    def __init__(self) -> None:
        self._digests: dict[tuple, str] = {}

    def find(self, folder: str | Path, image: np.ndarray) -> Path | None:
        """The file in ``folder`` whose decoded RGB pixels equal ``image`` (uint8 H×W×3), or None."""
        folder = Path(folder)
        if not folder.is_dir():
            return None
        want = pixel_digest(np.ascontiguousarray(image[..., :3]))
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()):
            st = path.stat()
            key = (str(path), st.st_size, st.st_mtime_ns)
            if key not in self._digests:
                try:
                    self._digests[key] = pixel_digest(_decode(path))
                except OSError:
                    self._digests[key] = ""
            if self._digests[key] == want:
                return path
        return None


def find_by_stem(folder: str | Path, stem: str) -> Path | None:
    """The image in ``folder`` named ``<stem>.<image suffix>`` (case-insensitive suffix), or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    matches = sorted(p for p in folder.iterdir() if p.is_file() and p.stem == stem and p.suffix.lower() in IMAGE_SUFFIXES)
    return matches[0] if matches else None

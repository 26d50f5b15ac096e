"""Training folders: scan and validate (one report for every problem), annotate (cached), crop or bucket.

Layout::

    folder/images/NAME.png|jpg|jpeg|webp   (captions: folder/images/NAME.txt, optional; empty caption otherwise)
    folder/conditions/NAME.png             (same stem; not needed when an annotator makes the maps)

A flat folder of images works too when an annotator makes the maps. Maps made by an annotator are cached as PNGs
under ``cache/annotator-<name>-<params hash>/`` and reused while the image is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DatasetError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass(frozen=True)
class Sample:
    """One training pair as found on disk."""

    stem: str
    image: Path
    condition: Path | None  # None until an annotator made it
    caption: str
    size: tuple[int, int]  # (height, width) of the image


@dataclass(frozen=True)
class Placement:
    """How a sample is cut to its training size: resize to ``resized`` (h, w), then crop ``target`` at ``top, left``."""

    resized: tuple[int, int]
    top: int
    left: int
    target: tuple[int, int]


def _images(folder: Path, what: str, problems: list[str]) -> dict[str, Path]:
    """The images of ``folder`` by stem. Two files that would be one sample — the same stem with another extension
    (``000.png``, ``000.jpg``), or names that differ only in case (one file on Windows and macOS) — are a problem
    naming both, never a silent pick."""
    found: dict[str, Path] = {}
    by_key: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() not in IMAGE_EXTS or not p.is_file():
            continue
        key = p.stem.casefold()
        if key in by_key:
            problems.append(
                f"{what} {by_key[key].name} and {p.name} would be the same sample {p.stem!r} (names are compared "
                "without extension and case): rename or remove one"
            )
            continue
        by_key[key] = found[p.stem] = p
    return found


def _readable(path: Path) -> tuple[int, int] | str:
    """(height, width), or why not: through the one checked image reader (pixel and aspect budget before any
    decoding, so a tiny file claiming 65535×65535 pixels is refused from its header)."""
    from t2i_host.images import read_image_file

    try:
        im = read_image_file(path, exif_transpose=False)
    except ValueError as e:
        return str(e).removeprefix(f"{path.name}: ")
    return im.height, im.width


def _caption(txt: Path) -> str | None:
    """The caption beside an image ("" when there is none); None when it is not a readable UTF-8 text file (a
    Latin-1 file from another tool, a folder or a FIFO named like one, something huge)."""
    if not os.path.lexists(txt):
        return ""
    try:
        if not txt.is_file() or txt.stat().st_size > 1 << 20:
            return None
        return txt.read_text(encoding="utf-8-sig").strip()  # -sig: Windows editors' byte-order mark
    except (OSError, UnicodeDecodeError):
        return None


def scan_folder(folder: str | os.PathLike, min_size: int, with_annotator: bool = False) -> list[Sample]:
    """All pairs of ``folder``, validated; raises :class:`DatasetError` listing every problem at once:
    unpaired files by name, unreadable images or maps, images smaller than ``min_size`` on their short side, and
    maps whose size differs from their image's."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(str(folder), ["the folder does not exist"])
    image_dir = folder / "images" if (folder / "images").is_dir() else folder
    problems: list[str] = []
    images = _images(image_dir, "images", problems)
    cond_dir = folder / "conditions"
    conds = _images(cond_dir, "condition maps", problems) if cond_dir.is_dir() else {}
    if not images:
        problems.append(f"no images in {image_dir} ({', '.join(IMAGE_EXTS)})")
    if not with_annotator:
        if not cond_dir.is_dir():
            problems.append(f"no conditions/ folder: put same-stem condition maps in {cond_dir}, or pass an annotator")
        for stem in sorted(set(images) - set(conds)):
            problems.append(f"image {images[stem].name} has no condition map (expected conditions/{stem}.png)")
        for stem in sorted(set(conds) - set(images)):
            problems.append(f"condition map {conds[stem].name} has no image (expected images/{stem}.png or .jpg)")
    samples = []
    for stem, path in images.items():
        size = _readable(path)
        if isinstance(size, str):
            problems.append(f"image {path.name} is unreadable ({size})")
            continue
        if min(size) < min_size:
            problems.append(f"image {path.name} is {size[1]}×{size[0]}, smaller than {min_size} on its short side")
        cond = None if with_annotator else conds.get(stem)
        if cond is not None:
            csize = _readable(cond)
            if isinstance(csize, str):
                problems.append(f"condition map {cond.name} is unreadable ({csize})")
                continue
            if csize != size:
                problems.append(
                    f"condition map {cond.name} is {csize[1]}×{csize[0]} but its image is {size[1]}×{size[0]}"
                )
        elif not with_annotator:
            continue
        caption = _caption(path.with_suffix(".txt"))
        if caption is None:
            problems.append(
                f"caption {path.with_suffix('.txt').name} is not a UTF-8 text file under 1 MB: save it as UTF-8 text"
            )
            continue
        samples.append(Sample(stem, path, cond, caption, size))
    if problems:
        raise DatasetError(str(folder), problems)
    return samples


def annotate(
    samples: list[Sample], annotator: str, params: dict | None, cache: str | os.PathLike
) -> list[Sample]:
    """Make each image's condition map with ``annotators.run(annotator, image, **params)``, cached on disk (keyed
    by the annotator, its parameters and the image's bytes)."""
    import annotators  # lazy: only this data path needs the annotators

    params = dict(params or {})
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    folder = Path(cache) / f"annotator-{annotator}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    annotators.get(annotator)  # unknown names fail here, before any work, with the valid names listed
    out = []
    for s in samples:
        digest = hashlib.sha1(s.image.read_bytes()).hexdigest()[:16]
        path = folder / f"{s.stem}-{digest}.png"
        if not path.exists():
            from t2i_host.images import read_image_file

            m = annotators.run(annotator, read_image_file(s.image, exif_transpose=False).convert("RGB"), **params)
            tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.png")  # a name no other process uses
            Image.fromarray(np.asarray(m)).save(tmp)
            os.replace(tmp, path)
        out.append(Sample(s.stem, s.image, path, s.caption, s.size))
    return out


def bucket_sizes(resolution: int, multiple: int, max_ratio: float = 2.0) -> list[tuple[int, int]]:
    """(h, w) buckets of about ``resolution²`` pixels, sides multiples of ``multiple``, aspect up to ``max_ratio``."""
    area = resolution * resolution
    sizes = set()
    w = multiple
    while w <= resolution * max_ratio:
        h = int(area / w) // multiple * multiple
        if h >= multiple and max(h, w) / min(h, w) <= max_ratio:
            sizes.add((h, w))
        w += multiple
    return sorted(sizes)


def place(size: tuple[int, int], resolution: int, multiple: int, buckets: bool) -> Placement:
    """Centre crop to ``resolution²`` (shorter side resized to it), or to the bucket nearest the image's aspect."""
    h, w = size
    if buckets:
        aspect = w / h
        th, tw = min(bucket_sizes(resolution, multiple), key=lambda b: abs(np.log(b[1] / b[0]) - np.log(aspect)))
    else:
        th = tw = resolution
    scale = max(th / h, tw / w)
    rh, rw = max(th, round(h * scale)), max(tw, round(w * scale))
    return Placement((rh, rw), (rh - th) // 2, (rw - tw) // 2, (th, tw))


def load_pair(sample: Sample, placement: Placement, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The image ``[3, H, W]`` float32 in [-1, 1] and its map ``[channels, H, W]`` in [0, 1], cut identically."""
    import t2i_ext
    from t2i_host.images import read_image_file

    def cut(path: Path, mode: str) -> Image.Image:
        im = read_image_file(path, exif_transpose=False)  # the one checked reader, as scan_folder read it
        im = im.convert(mode).resize(placement.resized[::-1], Image.BICUBIC if mode == "RGB" else Image.BILINEAR)
        t, left = placement.top, placement.left
        return im.crop((left, t, left + placement.target[1], t + placement.target[0]))

    image = np.asarray(cut(sample.image, "RGB"), dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    cond_im = cut(sample.condition, "RGB")
    cond = t2i_ext.condition_tensor(cond_im, channels=channels, multiple=1)[0].numpy()
    return image, cond

"""Command line: annotate an image or a folder of images into PNG condition maps.

    python -m annotators INPUT --annotator NAME [--PARAM VALUE ...] [--param NAME=VALUE ...] --out DIR
    python -m annotators --list

Parameters are given either as their own flag (`--low-threshold 50`, `--low_threshold=50`) or generically
(`--param low_threshold=50`); `--list` shows each annotator's parameters with defaults and ranges. INPUT is an
image file or a folder (its images, not recursive, in name order, with a progress bar). Output files are
`DIR/<input stem>.png` (`<stem>_<ext>.png` when two inputs share a stem). An unreadable image is reported and
skipped; the exit code is 1 if any image failed, 2 for usage errors (unknown annotator or parameter, bad value,
missing INPUT).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m annotators",
        description="Turn images into T2I-Adapter condition maps (PNG).",
        allow_abbrev=False,  # "--lo" must stay an annotator parameter, not an abbreviation of --list
        epilog=(
            "Annotator parameters: pass them as flags, e.g. --low-threshold 50 (or --low_threshold=50), or as "
            "--param NAME=VALUE. See --list for every annotator's parameters, defaults and ranges. "
            "Exit status: 0 all written, 1 some images failed, 2 usage error."
        ),
    )
    p.add_argument("input", nargs="?", type=Path, help="an image file or a folder of images")
    p.add_argument("-a", "--annotator", help="annotator name (see --list)")
    p.add_argument("-o", "--out", type=Path, help="output folder (created if missing)")
    p.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="annotator parameter (repeatable)"
    )
    p.add_argument("--list", action="store_true", help="list the annotators and exit")
    return p


def _parse_extra(extra: Sequence[str], generic: Sequence[str]) -> dict[str, str]:
    """Turn leftover `--name value` / `--name=value` flags and `--param name=value` items into a dict."""
    params: dict[str, str] = {}
    for item in generic:
        if "=" not in item:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        params[name.strip().replace("-", "_")] = value
    i = 0
    while i < len(extra):
        token = extra[i]
        if not token.startswith("--") or token == "--":
            raise ValueError(f"unexpected argument {token!r}; parameters are given as --NAME VALUE")
        name = token[2:]
        if "=" in name:
            name, value = name.split("=", 1)
            i += 1
        elif i + 1 < len(extra):
            value = extra[i + 1]
            i += 2
        else:
            raise ValueError(f"parameter {token} has no value")
        params[name.replace("-", "_")] = value
    return params


def _format_list() -> str:
    import annotators

    lines = []
    for a in annotators.list_annotators():
        lines.append(f"{a.name}  [{a.output}]  {a.description}")
        for prm in a.params:
            label = f"  -- {prm.label}" if prm.label else ""
            lines.append(f"    --{prm.name.replace('_', '-')}: {prm.describe()}{label}")
        lines.append(f"    weights: {', '.join(a.weights) if a.weights else 'none (offline)'}")
        lines.append(f"    suits: {', '.join(a.suits) if a.suits else '-'}")
    return "\n".join(lines)


def _inputs(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return [path]


def _load(path: Path) -> object:
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img.load()  # read now: a truncated file fails here, not later
        # Phone photos store their rotation in EXIF; the map must match the image as people see it.
        return ImageOps.exif_transpose(img)


def _save(path: Path, out: np.ndarray) -> None:
    from PIL import Image

    if out.dtype != np.uint8 or out.ndim not in (2, 3):
        raise ValueError(f"this annotator produces {out.dtype} {out.shape}, not an image; the CLI writes images only")
    Image.fromarray(out).save(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")

    import annotators

    if args.list:
        try:
            print(_format_list(), flush=True)
        except BrokenPipeError:  # `--list | head`: the reader left; not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if args.input is None or args.annotator is None or args.out is None:
        parser.error("INPUT, --annotator and --out are required (or use --list)")
    try:
        annotator = annotators.get(args.annotator)
        params = annotator.validate(_parse_extra(extra, args.param))
    except ValueError as exc:  # UnknownAnnotatorError is a ValueError too
        parser.error(str(exc))
    if not args.input.exists():
        parser.error(f"input {str(args.input)!r} does not exist")
    if not args.input.is_dir() and not args.input.is_file():  # reading a FIFO or a device would wait forever
        parser.error(f"input {str(args.input)!r} is not an image file or a folder (a FIFO or a device?)")
    if annotator.output == "tokens":
        parser.error(f"annotator {annotator.name!r} produces tokens, not an image; the CLI writes images only")

    files = _inputs(args.input)
    if not files:
        print(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {args.input}", file=sys.stderr)
        return 1
    try:  # an existing file, or a folder that cannot be created: a usage error in one line, not a traceback
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = "is a file, not a folder" if args.out.exists() else f"cannot be created ({exc.strerror or exc})"
        print(f"{parser.prog}: error: --out {str(args.out)!r} {what}; give a folder for the maps", file=sys.stderr)
        return 2

    from tqdm import tqdm

    stems = [p.stem for p in files]
    failed: list[tuple[Path, str]] = []
    bar = tqdm(files, unit="img", disable=len(files) == 1, file=sys.stderr)
    for path in bar:
        bar.set_postfix_str(path.name, refresh=False)
        try:
            result = annotators.run(annotator.name, _load(path), **params)
            # a.png and a.jpg in one folder must not overwrite each other's map.
            name = path.stem if stems.count(path.stem) == 1 else f"{path.stem}_{path.suffix.lstrip('.').lower()}"
            _save(args.out / f"{name}.png", result)
        except Exception as exc:  # one bad image must not stop the batch; it is reported below
            failed.append((path, f"{type(exc).__name__}: {exc}"))
            tqdm.write(f"error: {path}: {type(exc).__name__}: {exc}", file=sys.stderr)
    done = len(files) - len(failed)
    print(f"{done} of {len(files)} image(s) written to {args.out}", file=sys.stderr)
    if failed:
        print(f"{len(failed)} failed: {', '.join(str(p) for p, _ in failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

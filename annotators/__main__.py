"""Command line: annotate an image or a folder of images into PNG condition maps.

    python -m annotators INPUT --annotator NAME [--PARAM VALUE ...] [--param NAME=VALUE ...] --out DIR
    python -m annotators --list

Parameters are given either as their own flag (`--low-threshold 50`, `--low_threshold=50`) or generically
(`--param low_threshold=50`); `--list` shows each annotator's parameters with defaults and ranges. INPUT is an
image file or a folder (its images, not recursive, in name order, with a progress bar). Output files are
`DIR/<input stem>.png` (`<stem>_<ext>.png` when two inputs share a stem); an output that would overwrite one of the
inputs is refused before anything is written. Images are read through the one checked reader
(`t2i_host.images.read_image_file`: pixel and aspect budget before decoding). The weight files an annotator needs are
found (or downloaded) once, up front. Each map is written through a temporary file and one rename, so a full disk,
a read-only folder or Ctrl-C leaves no partial map and no damaged older one. An unreadable image is reported and
skipped; the exit code is 1 if any image failed or a map could not be written, 2 for usage errors (unknown
annotator or parameter, bad value, missing INPUT, an output over an input), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from t2i_ext.console import quiet_libraries, write_failure

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")


EXAMPLES = """\
examples:
  python -m annotators --list
  python -m annotators photo.png --annotator canny --low-threshold 50 --out maps
  python -m annotators photos --annotator invert --out maps
"""


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each option; the examples kept as written."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m annotators",
        description="Turn images into T2I-Adapter condition maps (PNG).",
        allow_abbrev=False,  # "--lo" must stay an annotator parameter, not an abbreviation of --list
        formatter_class=_Help,
        epilog=(
            "Annotator parameters: pass them as flags, e.g. --low-threshold 50 (or --low_threshold=50), or as\n"
            "--param NAME=VALUE. See --list for every annotator's parameters, defaults and ranges.\n"
            "Exit status: 0 all written, 1 some images failed or a map could not be written, 2 usage error,\n"
            "130 interrupted.\n\n" + EXAMPLES
        ),
    )
    p.add_argument("input", nargs="?", type=Path, help="an image file or a folder of images")
    p.add_argument("-a", "--annotator", help="annotator name (see --list)")
    p.add_argument("-o", "--out", type=Path, help="output folder (created if missing; never the input's own files)")
    p.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="annotator parameter (repeatable)"
    )
    p.add_argument("--list", action="store_true", help="list the annotators and exit")
    p.add_argument("--verbose", action="store_true", help="show other libraries' messages too")
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
    """The one checked image reader: pixel and aspect budget before decoding, EXIF rotation applied (phone photos
    store it there; the map must match the image as people see it)."""
    from t2i_host.images import read_image_file

    return read_image_file(path, exif_transpose=True)


def _save(path: Path, out: np.ndarray) -> None:
    """Write ``path`` through a temporary sibling and one rename: a full disk, a read-only folder or a Ctrl-C
    leaves neither a partial map nor a damaged older one."""
    from PIL import Image

    if out.dtype != np.uint8 or out.ndim not in (2, 3):
        raise ValueError(f"this annotator produces {out.dtype} {out.shape}, not an image; the CLI writes images only")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".png.tmp", dir=path.parent)
    except OSError as e:  # named by the map the user asked for, not by our temporary name
        raise OSError(e.errno, e.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(out).save(f, format="PNG")
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


def _outputs(files: list[Path], out: Path) -> list[Path]:
    """The map each input is written to: ``<stem>.png``, ``<stem>_<ext>.png`` when two inputs share a stem."""
    stems = [p.stem for p in files]
    return [
        out / (f"{p.stem}.png" if stems.count(p.stem) == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}.png")
        for p in files
    ]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    with quiet_libraries(args.verbose) as (out, err):
        return _main(parser, args, extra, out, err)


def _main(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str], out: TextIO,
          err: TextIO) -> int:
    import annotators
    from annotators.weights import check_weights

    def usage(message: str, show_usage: bool = True) -> int:
        if show_usage:
            parser.print_usage(err)
        print(f"{parser.prog}: error: {message}", file=err)
        return 2

    if args.list:
        try:
            print(_format_list(), file=out, flush=True)
        except BrokenPipeError:  # `--list | head`: the reader left; not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    if args.input is None or args.annotator is None or args.out is None:
        return usage("INPUT, --annotator and --out are required (or use --list)")
    try:
        annotator = annotators.get(args.annotator)
        params = annotator.validate(_parse_extra(extra, args.param))
    except ValueError as exc:  # UnknownAnnotatorError is a ValueError too
        return usage(str(exc))
    if not args.input.exists():
        return usage(f"input {str(args.input)!r} does not exist")
    if not args.input.is_dir() and not args.input.is_file():  # reading a FIFO or a device would wait forever
        return usage(f"input {str(args.input)!r} is not an image file or a folder (a FIFO or a device?)")
    if annotator.output == "tokens":
        return usage(f"annotator {annotator.name!r} produces tokens, not an image; the CLI writes images only")

    files = _inputs(args.input)
    if not files:
        print(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {args.input}", file=err)
        return 1
    targets = _outputs(files, args.out)
    for src in files:  # outputs never destroy inputs: checked for every file before anything is written
        clash = next((t for t in targets if _same_file(t, src)), None)
        if clash is not None:
            return usage(f"--out {str(args.out)!r} would overwrite the input {str(src)!r} with its map; give "
                         "another output folder", show_usage=False)
    try:  # weights once, up front (found, or downloaded now), not a failure per image
        check_weights(annotator, params, progress=True)
    except OSError as exc:
        print(f"error: {exc}", file=err)
        return 1
    try:  # an existing file, or a folder that cannot be created: a usage error in one line, not a traceback
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = "is a file, not a folder" if args.out.exists() else f"cannot be created ({exc.strerror or exc})"
        return usage(f"--out {str(args.out)!r} {what}; give a folder for the maps", show_usage=False)

    from tqdm import tqdm

    failed: list[tuple[Path, str]] = []
    written = 0
    bar = tqdm(files, unit="img", disable=len(files) == 1, file=err)
    try:
        for path, target in zip(bar, targets):
            bar.set_postfix_str(path.name, refresh=False)
            try:
                result = annotators.run(annotator.name, _load(path), **params)
            except Exception as exc:  # one bad image must not stop the batch; it is reported below
                reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                failed.append((path, reason))
                tqdm.write(f"error: {path}: {reason}", file=err)
                continue
            try:
                _save(target, result)
            except ValueError as exc:
                failed.append((path, str(exc)))
                tqdm.write(f"error: {path}: {exc}", file=err)
                continue
            written += 1
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted: {written} of {len(files)} map(s) written to {args.out}, each complete; no partial file "
              "was left.", file=err)
        return 130
    except Exception as exc:  # a full disk, a read-only folder: every next map would fail the same way
        failure = write_failure(exc)
        if failure is None:
            raise
        bar.close()
        print(f"error: could not write {failure}; stopped with {written} of {len(files)} map(s) written to "
              f"{args.out} (no partial file was left).", file=err)
        return 1
    bar.close()
    print(f"{written} of {len(files)} image(s) written to {args.out}", file=err)
    if failed:
        print(f"{len(failed)} failed: {', '.join(str(p) for p, _ in failed)}", file=err)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())

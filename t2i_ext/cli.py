"""Command line: ``python -m t2i_ext {inspect,convert,random-adapter,selftest}``.

Exit codes: 0 done, 1 bad input or a failed write (a message on one line), 2 usage (argparse's message),
130 interrupted (nothing half-written is left).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TextIO

from .console import quiet_libraries, refuse, write_failure
from .errors import AdapterError

EXAMPLES = """\
examples:
  python -m t2i_ext random-adapter --arch light --in-channels 1 -o sketch-random.safetensors
  python -m t2i_ext inspect sketch-random.safetensors
  python -m t2i_ext convert sketch-random.safetensors --to diffusers --half --out sketch-random-diffusers
  python -m t2i_ext selftest --size 64 --steps 2 --repeats 1
"""

#: selftest bounds: sizes the tiny UNet takes (multiples of 64) at a cost a CPU finishes in minutes
SELFTEST_SIZES = (64, 1024)
SELFTEST_MAX_STEPS = 200
SELFTEST_MAX_REPEATS = 50


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each option; the examples kept as written."""


def _inspect(args: argparse.Namespace, out: TextIO) -> int:
    from .architectures import build_adapter
    from .formats import read_weights

    raw = read_weights(args.file)
    model = build_adapter(raw.state_dict, raw.config)
    info = {
        "file": str(args.file),
        "kind": model.kind,
        "base": model.base,
        "input_channels": model.in_channels if model.is_spatial else None,
        "size_multiple": model.pixel_multiple if model.is_spatial else None,
        "parameters": model.num_parameters,
        "format": raw.format,
        "stored_dtype": sorted({str(v.dtype).removeprefix("torch.") for v in raw.state_dict.values()}),
    }
    if args.json:
        print(json.dumps(info, indent=2), file=out)
    else:
        print(f"{args.file}: {model.describe()}", file=out)
        for key, value in info.items():
            if key != "file" and value is not None:
                print(f"  {key:15}: {', '.join(value) if isinstance(value, list) else value}", file=out)
    return 0


def _convert(args: argparse.Namespace, out: TextIO) -> int:
    from .architectures import build_adapter
    from .convert import save_diffusers, save_safetensors
    from .formats import read_weights

    src = Path(args.file)
    if args.out is not None and _same(src, args.out):
        raise AdapterError(f"--out {args.out} is the input itself; give another output path.")
    raw = read_weights(args.file)
    model = build_adapter(raw.state_dict, raw.config).float()
    stem = src.stem if src.is_file() else src.name
    suffix = "-fp16" if args.half else ""
    if args.to == "safetensors":
        path = save_safetensors(model, args.out or src.with_name(f"{stem}{suffix}.safetensors"), args.half)
    else:
        path = save_diffusers(model, args.out or src.with_name(f"{stem}{suffix}-diffusers"), args.half)
    print(f"wrote {path} ({model.describe()}, {'fp16' if args.half else 'fp32'})", file=out)
    return 0


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _random_adapter(args: argparse.Namespace, out: TextIO) -> int:
    from .loading import load_adapter
    from .random_adapter import write_random_adapter

    path = write_random_adapter(args.out, args.arch, args.in_channels or 3, seed=args.seed, half=args.half)
    print(f"wrote {path}: {load_adapter(path).describe()}, random weights (seed {args.seed})", file=out)
    return 0


def _selftest(args: argparse.Namespace, out: TextIO) -> int:
    from .selftest import format_result, run_selftest

    result = run_selftest(args.size, args.steps, args.repeats)
    print(format_result(result, args.size, args.steps), file=out)
    return 0 if result.ok else 1


def _bounded(low: int, high: int, multiple: int = 1):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
        if not low <= value <= high or value % multiple:
            every = f", a multiple of {multiple}" if multiple > 1 else ""
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}{every}, not {value}")
        return value

    parse.__name__ = "number"
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m t2i_ext", description="T2I-Adapter tools (no WebUI needed).",
                                     formatter_class=_Help, epilog=EXAMPLES, allow_abbrev=False)
    parser.add_argument("--verbose", action="store_true", help="show other libraries' messages too")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, run, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, formatter_class=_Help, epilog=EXAMPLES,
                           allow_abbrev=False)
        p.set_defaults(run=run)
        p.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="show other libraries' messages too")
        return p

    p = command("inspect", _inspect, "say what an adapter file or diffusers folder is")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = command("convert", _convert, "write an adapter as safetensors (original key names) or a diffusers folder")
    p.add_argument("file", type=Path)
    p.add_argument("--to", choices=("safetensors", "diffusers"), required=True)
    p.add_argument("--half", action="store_true", help="store fp16 weights (half the size)")
    p.add_argument("--out", type=Path, help="output path (default: beside the input; never over a file)")
    from .random_adapter import ARCHITECTURES

    p = command("random-adapter", _random_adapter,
                "write an adapter with random weights, published key names and shapes (try a host without a "
                "download)")
    p.add_argument("--arch", choices=ARCHITECTURES, required=True,
                   help="full/light (SD1.5), xl (SDXL), style (CLIP-vision tokens), fuser (CoAdapter)")
    p.add_argument("--in-channels", type=int, choices=(1, 3),
                   help="condition channels of full/light/xl (3 when not given; style and fuser take none)")
    p.add_argument("--seed", type=_bounded(0, 2**63 - 1), default=0)
    p.add_argument("--half", action="store_true", help="store fp16 weights (half the size)")
    p.add_argument("-o", "--out", type=Path, required=True, help="the .safetensors file to write (must be new)")
    p = command("selftest", _selftest, "tiny random UNet + adapter: effect, cost, clean removal (no download)")
    p.add_argument("--size", type=_bounded(*SELFTEST_SIZES, multiple=64), default=256, help="image side in pixels")
    p.add_argument("--steps", type=_bounded(1, SELFTEST_MAX_STEPS), default=8, help="Euler steps")
    p.add_argument("--repeats", type=_bounded(1, SELFTEST_MAX_REPEATS), default=3,
                   help="timed runs of each variant (median reported)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # a usage error: argparse prints the usage and exits with 2
    if getattr(args, "arch", None) in ("style", "fuser") and args.in_channels is not None:
        parser.error(f"--in-channels: a {args.arch} adapter takes no condition image; leave the option out")
    with quiet_libraries(args.verbose) as (out, err):
        try:
            return args.run(args, out)
        except (AdapterError, ValueError) as e:  # bad input: one line, never a traceback
            return refuse(e, err)
        except KeyboardInterrupt:
            print("interrupted: nothing half-written was left.", file=err)
            return 130
        except Exception as e:  # ours ("already exists; …"), the OS's (--out inside a file, no space, read-only)
            failure = write_failure(e)
            if failure is None:
                raise
            written = isinstance(e, OSError) and e.errno is None  # ours: "already exists; …"
            print(f"error: {failure}" if written else f"error: could not write {failure}; nothing half-written was "
                  "left.", file=err)
            return 1

"""Command line: ``python -m t2i_ext {inspect,convert,selftest}``.

Exit codes: 0 done, 1 bad input (a message on one line), 2 usage (argparse's message).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .architectures import build_adapter
from .convert import save_diffusers, save_safetensors
from .errors import AdapterError
from .formats import read_weights


def _inspect(args: argparse.Namespace) -> int:
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
        print(json.dumps(info, indent=2))
    else:
        print(f"{args.file}: {model.describe()}")
        for key, value in info.items():
            if key != "file" and value is not None:
                print(f"  {key:15}: {', '.join(value) if isinstance(value, list) else value}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    raw = read_weights(args.file)
    model = build_adapter(raw.state_dict, raw.config).float()
    src = Path(args.file)
    stem = src.stem if src.is_file() else src.name
    suffix = "-fp16" if args.half else ""
    if args.to == "safetensors":
        out = save_safetensors(model, args.out or src.with_name(f"{stem}{suffix}.safetensors"), args.half)
    else:
        out = save_diffusers(model, args.out or src.with_name(f"{stem}{suffix}-diffusers"), args.half)
    print(f"wrote {out} ({model.describe()}, {'fp16' if args.half else 'fp32'})")
    return 0


def _selftest(args: argparse.Namespace) -> int:
    from .selftest import format_result, run_selftest

    result = run_selftest(args.size, args.steps, args.repeats)
    print(format_result(result, args.size, args.steps))
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m t2i_ext", description="T2I-Adapter tools (no WebUI needed).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="say what an adapter file or diffusers folder is")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=_inspect)
    p = sub.add_parser("convert", help="write an adapter as safetensors (original key names) or a diffusers folder")
    p.add_argument("file", type=Path)
    p.add_argument("--to", choices=("safetensors", "diffusers"), required=True)
    p.add_argument("--half", action="store_true", help="store fp16 weights (half the size)")
    p.add_argument("--out", type=Path, help="output path (default: beside the input)")
    p.set_defaults(run=_convert)
    p = sub.add_parser("selftest", help="tiny random UNet + adapter: effect, cost, clean removal (no download)")
    p.add_argument("--size", type=int, default=256, help="image size in pixels (multiple of 64)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each variant (median reported)")
    p.set_defaults(run=_selftest)
    args = parser.parse_args(argv)  # a usage error: argparse prints the usage and exits with 2
    try:
        return args.run(args)
    except AdapterError as e:  # bad input: one line, never a traceback
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # ours ("already exists; …") has no errno; the OS's: --out inside a file, no permission
        message = str(e) if e.errno is None else f"{e.filename or getattr(args, 'out', '')}: {e.strerror}"
        print(f"error: {message}", file=sys.stderr)
        return 1

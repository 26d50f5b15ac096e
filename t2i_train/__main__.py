"""``python -m t2i_train {train,demo-data}`` — see ``--help``.

Exit codes: 0 done, 1 the run failed (a file could not be written, the loss diverged), 2 a usage or input error
(one line saying what to change), 130 interrupted (one line saying what was kept and how to resume).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from t2i_ext.console import quiet_libraries, refuse, write_failure

from .config import TrainConfig
from .errors import ConfigError

EXAMPLES = """\
examples:
  python -m t2i_train demo-data demo
  python -m t2i_train train demo/tiny-sd1.safetensors demo/pairs --resolution 64 --in-channels 1 --steps 60 --lr 3e-4 -o demo/run
  python -m t2i_train train demo/tiny-sd1.safetensors demo/pairs --resolution 64 --in-channels 1 --steps 120 --lr 3e-4 -o demo/run --resume latest
  python -m t2i_train train demo/tiny-sd1.safetensors demo/pairs --annotator canny --annotator-params '{"low_threshold": 50}' --in-channels 1 --resolution 64 -o demo/canny --dry-run
  python -m annotators --list
"""  # noqa: E501 — commands as a user types them, one a line


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option; the examples kept as written."""


def _annotator_params(text: str) -> dict:
    value = json.loads(text)  # argparse turns a ValueError into "invalid _annotator_params value"
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f'must be a JSON object such as \'{{"low_threshold": 100}}\', not {text}')
    return value


_annotator_params.__name__ = "JSON object"  # argparse names the type in its message


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m t2i_train", description="Train a T2I-Adapter (no WebUI needed).",
                                formatter_class=_Help, epilog=EXAMPLES, allow_abbrev=False)
    sub = p.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo-data", formatter_class=_Help, epilog=EXAMPLES, allow_abbrev=False,
                          help="write a tiny base model and a tiny pairs folder to try training on (no download)")
    demo.add_argument("folder", type=Path, help="where to write tiny-sd1.safetensors and pairs/ (must be new)")
    demo.add_argument("--pairs", type=int, default=8, help="how many (image, condition map) pairs")
    demo.add_argument("--verbose", action="store_true", help="show other libraries' messages too")
    t = sub.add_parser("train", formatter_class=_Help, epilog=EXAMPLES, allow_abbrev=False,
                       help="train an adapter on a folder of (image, condition map) pairs")
    t.add_argument("base_model", help="A1111 single file (.safetensors/.ckpt: SD1, SD2, SDXL) or a diffusers folder")
    t.add_argument("data", help="folder with images/ and conditions/ (same stems), captions images/NAME.txt")
    t.add_argument("--output", "-o", default="t2i_train_output", help="folder for the adapter, checkpoints, plots")
    t.add_argument("--dry-run", action="store_true", help="validate everything and print the plan; train nothing")
    d = TrainConfig()
    t.add_argument("--architecture", choices=["full", "light"], default=d.architecture, help="adapter network")
    t.add_argument("--in-channels", type=int, choices=[1, 3], default=d.in_channels,
                   help="condition map channels: 1 (sketch, canny) or 3 (depth, pose, colour)")
    t.add_argument("--init-adapter", help="adapter file to fine-tune")
    t.add_argument("--annotator", help="make condition maps with this annotator (see python -m annotators --list)")
    t.add_argument("--annotator-params", type=_annotator_params, default={},
                   help='that annotator\'s parameters as JSON, e.g. \'{"low_threshold": 100}\'')
    t.add_argument("--resolution", type=int, default=d.resolution, help="training side in pixels")
    t.add_argument("--buckets", action="store_true", help="aspect-ratio buckets instead of a centre crop")
    t.add_argument("--min-size", type=int, help="smallest short side accepted (default: the resolution, half with "
                   "--buckets)")
    t.add_argument("--prediction-type", choices=["auto", "epsilon", "v"], default=d.prediction_type)
    t.add_argument("--tokenizer", help="folder with CLIP vocab.json + merges.txt (default: found or built offline)")
    t.add_argument("--steps", type=int, default=d.steps, help="optimizer steps")
    t.add_argument("--batch-size", type=int, default=d.batch_size, help="per process and micro-step")
    t.add_argument("--grad-accumulation", type=int, default=d.grad_accumulation)
    t.add_argument("--learning-rate", "--lr", type=float, default=d.learning_rate)
    t.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default=d.mixed_precision)
    t.add_argument("--gradient-checkpointing", action="store_true")
    t.add_argument("--seed", type=int, default=d.seed, help=f"0 to {2**32 - 1}")
    t.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every, help="steps; 0: none")
    t.add_argument("--resume", help="checkpoint folder, or 'latest' (in OUTPUT/checkpoints)")
    t.add_argument("--sample-every", type=int, default=d.sample_every, help="steps between sample grids; 0: none")
    t.add_argument("--sample-count", type=int, default=d.sample_count)
    t.add_argument("--sample-steps", type=int, default=d.sample_steps)
    t.add_argument("--save-diffusers", action="store_true", help="also write a diffusers T2IAdapter folder")
    t.add_argument("--half", action="store_true", help="export fp16 weights")
    t.add_argument("--cache", help="latent/text cache folder (default OUTPUT/cache)")
    t.add_argument("--cpu", action="store_true", help="train on the CPU even with a GPU")
    t.add_argument("--verbose", action="store_true", help="show other libraries' messages too")
    return p


def config_from_args(a: argparse.Namespace) -> TrainConfig:
    skip = {"command", "dry_run", "verbose"}
    return TrainConfig(**{k: v for k, v in vars(a).items() if k not in skip})


class ProgressBar:
    """The training bar. It starts after the first step it is told of, with that step as its start, so its rate
    counts real steps only (a bar made and advanced at once would show thousands of steps a second)."""

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self.bar = None

    def __call__(self, p) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=p.total, initial=p.step, unit="step", dynamic_ncols=True, file=self.file)
        else:
            self.bar.update(p.step - self.bar.n)
        self.bar.set_postfix(loss=f"{p.loss:.4f}")
        if p.sample_grid:
            self.bar.write(f"samples: {p.sample_grid}", file=self.file)
        if p.checkpoint:
            self.bar.write(f"checkpoint: {p.checkpoint}", file=self.file)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _kept(config: TrainConfig) -> str:
    """What an interrupted run left, and how to go on."""
    from .loop import find_checkpoint_in

    ckpt = find_checkpoint_in(config.output_dir / "checkpoints")
    if ckpt is not None:
        return f"checkpoint {ckpt} is kept; run the same command with --resume latest to go on from it"
    return "no checkpoint yet (the caches are kept); run the same command again to start over"


def _demo_data(args: argparse.Namespace, out: TextIO) -> int:
    from .tiny import write_tiny_checkpoint
    from .toy import write_demo_pairs

    folder: Path = args.folder
    if not 1 <= args.pairs <= 1000:
        raise ConfigError(f"--pairs must be from 1 to 1000, not {args.pairs}.")
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(f"{folder} exists and is not an empty folder: give a new folder.")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".tiny-sd1.safetensors.tmp"
    write_tiny_checkpoint(tmp, "sd1")
    tmp.replace(folder / "tiny-sd1.safetensors")
    write_demo_pairs(folder / "pairs", args.pairs)
    print(f"wrote {folder / 'tiny-sd1.safetensors'} (a tiny random SD1-layout model) and {args.pairs} pairs in "
          f"{folder / 'pairs'}; train on them (about a minute on a CPU):", file=out)
    print(f"  python -m t2i_train train {folder / 'tiny-sd1.safetensors'} {folder / 'pairs'} --resolution 64 "
          f"--in-channels 1 --steps 60 --lr 3e-4 -o {folder / 'run'}", file=out)
    return 0


def _train(args: argparse.Namespace, config: TrainConfig, out: TextIO, err: TextIO) -> int:
    import matplotlib  # imported now: a Ctrl-C inside its first import (at the first loss plot) breaks it for good

    from . import prepare, train

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401

    if args.dry_run:
        print(prepare(config).describe(), file=out)
        print("dry run: options, data, model and output are valid; nothing was trained.", file=out)
        return 0
    bar = ProgressBar(err)
    try:
        result = train(config, progress_callback=bar, log=lambda line: print(line, file=out))
    finally:
        bar.close()
    if result.interrupted:
        print(f"interrupted at step {result.step}: {_kept(config)}.", file=err)
        return 130
    for path in result.outputs:
        print(f"wrote {path}", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .errors import NonFiniteLossError, TrainError

    config = config_from_args(args) if args.command == "train" else None
    with quiet_libraries(args.verbose) as (out, err):
        try:
            if args.command == "demo-data":
                return _demo_data(args, out)
            return _train(args, config, out, err)
        except NonFiniteLossError as e:
            return refuse(e, err)
        except TrainError as e:
            return refuse(e, err, 2)
        except Exception as e:  # a full disk, a folder made read-only during the run: nothing half-written stays
            failure = write_failure(e)
            if failure is None:
                raise
            kept = f"; {_kept(config)}" if config is not None else ""
            if not isinstance(e, OSError) or not e.filename:  # the OS did not say which file: say where
                failure = f"{config.output_dir if config is not None else args.folder}: {failure}"
            print(f"error: could not write {failure} (no partial file was left){kept}.", file=err)
            return 1
        except KeyboardInterrupt:
            kept = _kept(config) if config is not None else "nothing was kept"
            print(f"interrupted: {kept}.", file=err)
            return 130


if __name__ == "__main__":
    sys.exit(main())

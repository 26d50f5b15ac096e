"""``python -m t2i_train train BASE DATA [options]`` — see ``--help``."""

from __future__ import annotations

import argparse
import json
import sys

from .config import TrainConfig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m t2i_train", description="Train a T2I-Adapter (no WebUI needed).")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an adapter on a folder of (image, condition map) pairs")
    t.add_argument("base_model", help="A1111 single file (.safetensors/.ckpt: SD1, SD2, SDXL) or a diffusers folder")
    t.add_argument("data", help="folder with images/ and conditions/ (same stems), captions images/NAME.txt")
    t.add_argument("--output", "-o", default="t2i_train_output")
    t.add_argument("--dry-run", action="store_true", help="validate data and model, print the plan, train nothing")
    d = TrainConfig()
    t.add_argument("--architecture", choices=["full", "light"], default=d.architecture)
    t.add_argument("--in-channels", type=int, choices=[1, 3], default=d.in_channels)
    t.add_argument("--init-adapter", help="adapter file to fine-tune")
    t.add_argument("--annotator", help="make condition maps with this annotator (python -m annotators list)")
    t.add_argument("--annotator-params", type=json.loads, default={}, help='JSON, e.g. \'{"low": 100}\'')
    t.add_argument("--resolution", type=int, default=d.resolution)
    t.add_argument("--buckets", action="store_true", help="aspect-ratio buckets instead of a centre crop")
    t.add_argument("--min-size", type=int)
    t.add_argument("--prediction-type", choices=["auto", "epsilon", "v"], default=d.prediction_type)
    t.add_argument("--tokenizer", help="folder with CLIP vocab.json + merges.txt (default: found or built offline)")
    t.add_argument("--steps", type=int, default=d.steps)
    t.add_argument("--batch-size", type=int, default=d.batch_size)
    t.add_argument("--grad-accumulation", type=int, default=d.grad_accumulation)
    t.add_argument("--learning-rate", "--lr", type=float, default=d.learning_rate)
    t.add_argument("--mixed-precision", choices=["no", "fp16", "bf16"], default=d.mixed_precision)
    t.add_argument("--gradient-checkpointing", action="store_true")
    t.add_argument("--seed", type=int, default=d.seed)
    t.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    t.add_argument("--resume", help="checkpoint folder, or 'latest' (in OUTPUT/checkpoints)")
    t.add_argument("--sample-every", type=int, default=d.sample_every)
    t.add_argument("--sample-count", type=int, default=d.sample_count)
    t.add_argument("--sample-steps", type=int, default=d.sample_steps)
    t.add_argument("--save-diffusers", action="store_true", help="also write a diffusers T2IAdapter folder")
    t.add_argument("--half", action="store_true", help="export fp16 weights")
    t.add_argument("--cache", help="latent/text cache folder (default OUTPUT/cache)")
    t.add_argument("--cpu", action="store_true")
    return p


def config_from_args(a: argparse.Namespace) -> TrainConfig:
    skip = {"command", "dry_run"}
    return TrainConfig(**{k: v for k, v in vars(a).items() if k not in skip})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = config_from_args(args)
    from . import TrainError, prepare, train

    try:
        if args.dry_run:
            print(prepare(config).describe())
            print("dry run: data and model are valid; nothing was trained.")
            return 0
        from tqdm import tqdm

        bar = None

        def progress(p) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=p.total, initial=p.step - 1, unit="step", dynamic_ncols=True)
            bar.update(1)
            bar.set_postfix(loss=f"{p.loss:.4f}")
            if p.sample_grid:
                bar.write(f"samples: {p.sample_grid}")
            if p.checkpoint:
                bar.write(f"checkpoint: {p.checkpoint}")

        result = train(config, progress_callback=progress)
        if bar is not None:
            bar.close()
    except TrainError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result.interrupted:
        print(f"interrupted at step {result.step}; resume with --resume {result.checkpoint}", file=sys.stderr)
        return 130
    for path in result.outputs:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

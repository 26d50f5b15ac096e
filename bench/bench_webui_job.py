"""What one T2I-Adapter unit costs a whole WebUI job, measured in the stand-in WebUI (not a test).

    ./dev.sh python -m bench.bench_webui_job [--rounds N] [--steps N] [--size PX] [--no-sd15]

Runs the extension's script through ``tests/webui``'s stand-in of WebUI v1.10.1 (script hooks, CFG denoiser,
k-diffusion Euler, VAE stand-in) exactly as the tests do, and times three kinds of txt2img job, interleaved round
by round (in a rotating order) so drift and other load hit them alike, in process CPU time (other processes do
not inflate it):

- plain: no unit;
- first: one enabled unit (annotator "none", 1-channel full adapter) with the feature cache emptied before the job,
  so the job includes the adapter's single pass;
- repeat: the same unit again (same image, adapter and size): the features come from the cache, no adapter pass.

Rows: the tiny SD1 UNet (``t2i_ext.tiny_unet.TINY_SD1``) and the real SD1.5 UNet architecture (``SD15``, random
weights, with a full-width adapter). Ratios are medians over rounds of a job's time / the plain job's in the same
round; the goal is ≤ 1.005×.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.job_timing import condition_image, paired_ratio  # noqa: E402


def _cpu_ms(fn) -> float:
    t0 = time.process_time()
    fn()
    return (time.process_time() - t0) * 1000


def _script_module(ui):
    return next(d.module for d in ui.scripts.scripts_data if d.path.endswith("t2i_adapter.py"))


def measure(ui, model: str, size: int, steps: int, rounds: int) -> dict:
    module = _script_module(ui)
    unit = {"enabled": True, "model": model, "module": "none", "image": condition_image(size)}
    job = dict(width=size, height=size, steps=steps, seed=1)

    def plain():
        ui.txt2img(**job)

    def first():
        module.FEATURES.clear()
        ui.txt2img([unit], **job)

    def repeat():
        ui.txt2img([unit], **job)

    for fn in (plain, first, repeat):  # warm-up: allocator, kernels, model and adapter load
        fn()
    times = {"plain": [], "first": [], "repeat": []}
    passes_before = module.FEATURES.passes
    repeat_passes = 0
    kinds = [("plain", plain), ("first", first), ("repeat", repeat)]
    for r in range(rounds):
        # rotate the order every round: a fixed order lets warm caches and allocator state favour one kind
        for name, fn in kinds[r % 3 :] + kinds[: r % 3]:
            before = module.FEATURES.passes
            times[name].append(_cpu_ms(fn))
            if name == "repeat":
                repeat_passes += module.FEATURES.passes - before
    med = {k: statistics.median(v) for k, v in times.items()}
    paired = {k: paired_ratio(times, k) for k in times}
    return {
        "median": med,
        "paired": paired,
        "repeat_passes": repeat_passes,
        "first_passes": module.FEATURES.passes - passes_before - repeat_passes,
        "rounds": rounds,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--sd15-size", type=int, default=64)
    parser.add_argument("--sd15-rounds", type=int, default=3)
    parser.add_argument("--no-sd15", action="store_true")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadier on a shared machine)")
    args = parser.parse_args(argv)

    from tests.webui.harness import _save, standin_session

    torch.set_num_threads(args.threads)

    def row(name, size, steps, res):
        m, r = res["median"], res["paired"]
        print(
            f"| {name} | {size}² | {steps} | {res['rounds']} | {m['plain']:.0f} | {m['first']:.0f} | "
            f"{m['repeat']:.0f} | {r['first']:.4f}× | {r['repeat']:.4f}× | {res['repeat_passes']} |",
            flush=True,
        )

    print(
        "| UNet | size | steps | rounds | plain job (CPU ms) | first job: adapter pass included | "
        "repeat job: cached features | first / plain | repeat / plain | adapter passes in repeat jobs |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as tmp, standin_session(Path(tmp), families=("sd1",)) as ui:
        row(
            "tiny SD1 UNet (TINY_SD1)",
            args.size,
            args.steps,
            measure(ui, ui.adapters["canny"], args.size, args.steps, args.rounds),
        )
        if not args.no_sd15:
            from standin_models import make_model

            from t2i_ext.nets.full import FullAdapter

            _save(FullAdapter(1), Path(tmp) / "models/T2I-Adapter/t2iadapter_canny_sd15_full.safetensors", 5)
            ui.models["sd15"] = make_model("sd15")
            ui.use("sd15")
            row(
                "SD1.5 UNet architecture (SD15, random)",
                args.sd15_size,
                args.steps,
                measure(ui, "t2iadapter_canny_sd15_full", args.sd15_size, args.steps, args.sd15_rounds),
            )


if __name__ == "__main__":
    main()

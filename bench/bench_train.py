"""Trainer benchmark (not a test): does a trained adapter control a toy UNet? (The step speed and memory against
diffusers' script: ``bench/bench_train_vs_diffusers.py``.)

    ./dev.sh python -m bench.bench_train [--unet-steps 300] [--adapter-steps 200]

IoU of generated shapes with the condition mask, without and with the trained adapter (the suite's test, longer).
"""

from __future__ import annotations

import argparse
import time

import torch


def bench_toy(unet_steps: int = 300, adapter_steps: int = 200) -> None:
    import numpy as np

    from t2i_ext.nets import FullAdapter
    from t2i_train import TrainConfig, fit
    from t2i_train.base_model import _schedule
    from t2i_train.toy import control_score, mask_dataset, pretrain_unet, toy_unet

    torch.set_num_threads(1)
    acp = _schedule()
    unet = toy_unet()
    t0 = time.perf_counter()
    pretrain_unet(unet, acp, unet_steps, batch=32)
    torch.manual_seed(0)
    adapter = FullAdapter(1, (32, 32, 32, 32), num_res_blocks=1)
    cfg = TrainConfig(
        output="/tmp/t2i_bench_toy", steps=adapter_steps, batch_size=16, learning_rate=3e-3, checkpoint_every=0
    )
    result = fit(unet, adapter, mask_dataset(256, 1), acp, "v", cfg, "SD1")
    score = control_score(unet, result.adapter, acp, n=64)
    print(
        f"\ntoy control ({unet_steps} UNet steps, {adapter_steps} adapter steps, 64 held-out masks, "
        f"{time.perf_counter() - t0:.0f} s): adapter loss {np.mean(result.losses[:20]):.4f} → "
        f"{np.mean(result.losses[-20:]):.4f}; IoU with the mask without adapter {score.iou_without:.3f}, "
        f"with adapter {score.iou_with:.3f}"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--unet-steps", type=int, default=300)
    p.add_argument("--adapter-steps", type=int, default=200)
    args = p.parse_args(argv)
    bench_toy(args.unet_steps, args.adapter_steps)


if __name__ == "__main__":
    main()

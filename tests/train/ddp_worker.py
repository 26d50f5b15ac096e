"""One process of the DDP test: the environment ``accelerate launch``/``torchrun`` gives each process, then fit()."""

from __future__ import annotations

import os
from pathlib import Path

import torch


def toy_fit(output: Path, batch_size: int, steps: int = 3):
    from t2i_ext.nets import FullAdapter
    from t2i_train import TrainConfig, fit
    from t2i_train.base_model import _schedule
    from t2i_train.toy import mask_dataset, toy_unet

    torch.manual_seed(0)
    adapter = FullAdapter(1, (32, 32, 32, 32), num_res_blocks=1)
    # Adam's first steps move every weight by ±lr whatever its gradient's size, so a gradient that is zero up to
    # rounding (different sums in 1 or 2 processes) can flip a step by 2·lr. An epsilon above the rounding noise
    # keeps the update a smooth function of the gradient, so the comparison tests DDP, not Adam's sign function.
    cfg = TrainConfig(output=str(output), steps=steps, batch_size=batch_size, grad_accumulation=2,
                      learning_rate=1e-3, adam_epsilon=1e-4, checkpoint_every=0, seed=7)
    return fit(toy_unet(random_weights=True), adapter, mask_dataset(8, 2), _schedule(), "epsilon", cfg, "SD1")


def process(rank: int, world: int, port: int, output: str, batch_size: int) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    result = toy_fit(Path(output), batch_size)
    if rank == 0:
        torch.save({"params": {k: v.clone() for k, v in result.adapter.state_dict().items()},
                    "losses": result.losses}, Path(output) / "rank0.pt")
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def cli_process(rank: int, world: int, port: int, argv: list[str], output: str) -> None:
    """``python -m t2i_train train …`` as ``accelerate launch`` starts it on each process; writes its exit code."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port), OMP_NUM_THREADS="1", HF_HOME=str(Path(output) / "hf"))
    torch.set_num_threads(1)
    from t2i_train.__main__ import main

    rc = main(argv)
    (Path(output) / f"rc{rank}").write_text(str(rc))
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()

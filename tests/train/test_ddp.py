"""Many processes: 2 CPU processes (gloo, 127.0.0.1) give the adapter 1 process gets with the combined batch."""

import socket

import torch
import torch.multiprocessing as mp

from t2i_ext.nets import FullAdapter

from .ddp_worker import process, toy_fit


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_train_the_same_adapter_as_one_process_with_the_combined_batch(tmp_path):
    mp.start_processes(process, args=(2, _free_port(), str(tmp_path), 2), nprocs=2, start_method="spawn", join=True)
    ddp = torch.load(tmp_path / "rank0.pt", weights_only=True)
    single = toy_fit(tmp_path / "single", batch_size=4)
    diff = max((ddp["params"][k] - v).abs().max().item() for k, v in single.adapter.state_dict().items())
    torch.manual_seed(0)  # the adapter's initial weights, as toy_fit builds them
    start = FullAdapter(1, (32, 32, 32, 32), num_res_blocks=1).state_dict()
    moved = max((ddp["params"][k] - v).abs().max().item() for k, v in start.items())
    print(f"DDP (2 processes × batch 2) vs 1 process × batch 4: max |Δparam| = {diff:.2e}")
    assert diff <= 1e-5 and moved > 1e-4  # equal to the combined batch, and training did move the weights
    assert max(abs(a - b) for a, b in zip(ddp["losses"], single.losses)) <= 1e-5  # the same batches, step by step

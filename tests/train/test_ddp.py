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


def test_two_processes_run_the_cli_on_a_fresh_output_folder(tmp_path):
    """Every shared write (tokenizer cache, latents, checkpoints, samples, exports) by one process or under names
    no other process uses: the README's multi-process command works on a fresh folder the first time."""
    from t2i_train.tiny import write_tiny_checkpoint

    from .ddp_worker import cli_process
    from .helpers import write_pairs

    base = write_tiny_checkpoint(tmp_path / "tiny.safetensors", "sd1")
    data = write_pairs(tmp_path / "d", 4)
    out = tmp_path / "out"  # fresh: its cache (tokenizer files too) is built during the run
    argv = ["train", str(base), str(data), "-o", str(out), "--resolution", "64", "--in-channels", "1", "--steps", "2",
            "--checkpoint-every", "1", "--sample-every", "2", "--sample-count", "1", "--sample-steps", "1"]
    mp.start_processes(cli_process, args=(2, _free_port(), argv, str(tmp_path)), nprocs=2, start_method="spawn",
                       join=True)
    assert [(tmp_path / f"rc{r}").read_text() for r in (0, 1)] == ["0", "0"]
    assert (out / "adapter.safetensors").is_file() and (out / "cache" / "clip_tokenizer" / "vocab.json").is_file()
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_processes_building_the_tokenizer_cache_at_once_all_succeed(tmp_path, monkeypatch):
    import os
    import threading

    import t2i_train.tokenizer as tok

    bpe = tok._open_clip_bpe()
    barrier, real, errors = threading.Barrier(2, timeout=30), os.replace, []

    def replace_together(src, dst):  # both processes reach the rename at the same moment
        barrier.wait()
        real(src, dst)

    monkeypatch.setattr(os, "replace", replace_together)

    def build():
        try:
            tok.build_tokenizer_files(bpe, tmp_path / "clip_tokenizer")
        except Exception as e:  # noqa: BLE001 — the assertion below shows it
            errors.append(e)
            barrier.abort()

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    monkeypatch.undo()
    assert not errors and tok.check_tokenizer_folder(tmp_path / "clip_tokenizer")

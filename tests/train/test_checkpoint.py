"""Training checkpoints hold no pickle (a WebUI's torch.load refuses what torch 2.x pickles, and a pickle is code),
round-trip the optimizer exactly, and an older pickled checkpoint is refused with what to do, never unpickled."""

from __future__ import annotations

import zipfile

import pytest
import torch

from t2i_train.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint
from t2i_train.config import TrainConfig
from t2i_train.errors import ConfigError


def trained_optimizer():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(4, 2, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.8, 0.9))
    for _ in range(2):
        net(torch.randn(1, 3, 8, 8)).square().mean().backward()
        opt.step()
    return net, opt


def test_a_checkpoint_has_no_pickle_and_restores_the_optimizer_exactly(tmp_path):
    net, opt = trained_optimizer()
    config = TrainConfig(output=str(tmp_path))
    folder = save_checkpoint(tmp_path / "checkpoints" / "step-000002", net, opt, 2, [0.5, 0.25], config)
    for f in folder.iterdir():
        assert not zipfile.is_zipfile(f) and not f.read_bytes().startswith(b"\x80"), f.name  # no torch.save output
    saved = load_checkpoint(find_checkpoint(TrainConfig(output=str(tmp_path), resume="latest")))
    assert saved["step"] == 2 and saved["losses"] == [0.5, 0.25]
    again = torch.optim.AdamW(net.parameters(), lr=1.0)
    again.load_state_dict(saved["optimizer"])
    a, b = opt.state_dict(), again.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for k in a["state"]:
        for name, v in a["state"][k].items():
            assert torch.equal(v, b["state"][k][name]), (k, name)


def test_an_older_pickled_checkpoint_is_refused_with_what_to_do(tmp_path):
    old = tmp_path / "checkpoints" / "step-000010"
    old.mkdir(parents=True)
    (old / "state.json").write_text('{"step": 10, "losses": []}')
    (old / "optimizer.pt").write_bytes(b"\x80\x04not read")
    with pytest.raises(ConfigError, match="optimizer.pt is a pickle.*start a new run"):
        find_checkpoint(TrainConfig(output=str(tmp_path), resume="latest"))


def test_the_optimizer_is_written_in_shards_so_a_save_never_copies_all_of_it_at_once(tmp_path, monkeypatch):
    """safetensors turns what one call writes into bytes first: AdamW's two moments in one file were a transient
    copy of both (the run's memory peak at each checkpoint in the real WebUIs)."""
    import safetensors.torch

    from t2i_train import checkpoint

    def nbytes(t: torch.Tensor) -> int:
        return t.numel() * t.element_size()

    net, opt = trained_optimizer()
    sizes = [nbytes(t) for s in opt.state_dict()["state"].values() for t in s.values() if isinstance(t, torch.Tensor)]
    biggest = max(sizes)
    monkeypatch.setattr(checkpoint, "SHARD_BYTES", biggest)
    written = []
    save_file = safetensors.torch.save_file

    def measured(tensors, filename, *args, **kwargs):
        written.append(sum(nbytes(t) for t in tensors.values()))
        return save_file(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", measured)
    folder = save_checkpoint(tmp_path / "step-000002", net, opt, 2, [0.5], TrainConfig(output=str(tmp_path)))
    assert max(written[1:]) <= biggest < sum(sizes)  # written[0] is the adapter
    again = torch.optim.AdamW(net.parameters(), lr=1.0)
    again.load_state_dict(load_checkpoint(folder)["optimizer"])
    for k, s in opt.state_dict()["state"].items():
        assert all(torch.equal(v, again.state_dict()["state"][k][n]) for n, v in s.items())


def test_a_checkpoint_of_the_previous_version_with_one_optimizer_file_still_resumes(tmp_path):
    import json

    from safetensors.torch import load_file, save_file

    net, opt = trained_optimizer()
    folder = save_checkpoint(tmp_path / "step-000002", net, opt, 2, [0.5], TrainConfig(output=str(tmp_path)))
    state = json.loads((folder / "state.json").read_text())
    merged = {k: v for f in state.pop("optimizer_files") for k, v in load_file(str(folder / f)).items()}
    for f in folder.glob("optimizer-*.safetensors"):
        f.unlink()
    save_file(merged, str(folder / "optimizer.safetensors"))
    (folder / "state.json").write_text(json.dumps(state))
    again = torch.optim.AdamW(net.parameters(), lr=1.0)
    again.load_state_dict(load_checkpoint(folder)["optimizer"])
    assert again.state_dict()["param_groups"] == opt.state_dict()["param_groups"]

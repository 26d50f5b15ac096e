"""What the training steps hold: the frozen UNet without weight gradients, no VAE or text encoders when no sample
grid needs them, and checkpoint tensors that give their memory back when a part of the model is freed."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import t2i_train.api as api
from t2i_ext.nets import FullAdapter
from t2i_train import TrainConfig, fit
from t2i_train.base_model import _schedule, read_checkpoint
from t2i_train.errors import BaseModelError
from t2i_train.tiny import write_tiny_checkpoint
from t2i_train.toy import mask_dataset, toy_unet

from .helpers import write_pairs


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status")


def _mapped_file(address: int) -> str:
    """The file whose mapping holds ``address`` in this process ('' for anonymous memory: the heap, mmap'd arrays)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start <= address < end:
            return fields[5] if len(fields) > 5 else ""
    return ""


def test_checkpoint_tensors_have_their_own_memory_so_a_freed_part_gives_it_back(tmp_path):
    # safetensors' loader hands out views of one mapping of the whole file: freeing the text encoders and the VAE
    # then returned nothing while the UNet (a view of the same mapping) lived. Whether freed memory reaches the OS
    # at once is the allocator's choice (glibc raises its mmap threshold after large frees), so the test asks where
    # each tensor lives instead of watching RSS: in memory of its own, not in a mapping of the checkpoint file.
    if not Path("/proc/self/maps").is_file():
        pytest.skip("no /proc/self/maps")
    path = tmp_path / "model.safetensors"
    save_file({"unet": torch.randn(16, 2**19), "text": torch.randn(16, 2**19)}, str(path))  # 32 MiB each
    sd = read_checkpoint(path)
    assert all(torch.equal(sd[k], v) for k, v in load_file(str(path)).items())
    assert _mapped_file(load_file(str(path))["unet"].data_ptr()) == str(path)  # the check sees the old way
    for key, tensor in sd.items():
        assert _mapped_file(tensor.data_ptr()) != str(path), f"{key} is a view of the checkpoint file's mapping"
    assert len({t.untyped_storage().data_ptr() for t in sd.values()}) == len(sd)


def test_a_truncated_checkpoint_is_refused_in_one_line(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({"w": torch.randn(64, 64)}, str(path))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(BaseModelError, match="truncated or corrupt"):
        read_checkpoint(path)


def test_the_frozen_unet_gets_no_weight_gradients_while_the_adapter_learns(tmp_path):
    unet = toy_unet(random_weights=True).requires_grad_(True)  # as a caller might hand it over
    adapter = FullAdapter(1, (32, 32, 32, 32), num_res_blocks=1)
    before = [p.detach().clone() for p in adapter.parameters()]
    cfg = TrainConfig(output=str(tmp_path), steps=2, batch_size=2, learning_rate=1e-3, checkpoint_every=0)
    result = fit(unet, adapter, mask_dataset(4, 1), _schedule(), "epsilon", cfg, "SD1")
    assert all(not p.requires_grad and p.grad is None for p in unet.parameters())
    assert all(not torch.equal(a, b) for a, b in zip(before, result.adapter.parameters()))


def test_without_sample_grids_the_steps_hold_neither_vae_nor_text_encoders(tmp_path, tokenizer_cache, monkeypatch):
    seen = {}
    prepare, real_fit = api.prepare, api.fit

    def spy_prepare(*args, **kwargs):
        seen["plan"] = prepare(*args, **kwargs)
        return seen["plan"]

    def spy_fit(*args, **kwargs):
        seen["vae"], seen["text"] = seen["plan"].base.vae, seen["plan"].base.text
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(api, "prepare", spy_prepare)
    monkeypatch.setattr(api, "fit", spy_fit)
    ckpt = write_tiny_checkpoint(tmp_path / "tiny-sd1.safetensors", "sd1")
    cfg = TrainConfig(base_model=str(ckpt), data=str(write_pairs(tmp_path / "d", 1)), output=str(tmp_path / "o"),
                      resolution=64, in_channels=1, steps=1, checkpoint_every=0, cache=str(tokenizer_cache))
    api.train(cfg, log=lambda s: None)
    assert seen["vae"] is None and seen["text"] is None

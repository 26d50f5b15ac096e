"""The command line: --dry-run validates and plans without training; a short run writes every output."""

import pytest
from PIL import Image

from t2i_train.__main__ import main
from t2i_train.tiny import write_tiny_checkpoint

from .helpers import write_pairs


@pytest.fixture(scope="module")
def sd1_file(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-sd1.safetensors", "sd1")


def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, sd1_file, tokenizer_cache, capsys):
    data = write_pairs(tmp_path / "d", 3, size=(64, 96))
    rc = main(["train", str(sd1_file), str(data), "-o", str(tmp_path / "out"), "--resolution", "64", "--steps", "10",
               "--batch-size", "2", "--grad-accumulation", "2", "--buckets", "--cache", str(tokenizer_cache),
               "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0 and "10 steps × batch 2 × accumulation 2 × 1 process(es) = 4 images a step" in out
    assert "SD1 · full · 3-channel" in out and "memory" in out and "80×48: 3" in out
    assert not (tmp_path / "out" / "adapter.safetensors").exists() and not (tmp_path / "out" / "checkpoints").exists()


def test_bad_data_and_unknown_models_fail_before_any_work(tmp_path, sd1_file, tokenizer_cache, capsys):
    data = write_pairs(tmp_path / "d", 2)
    (data / "conditions" / "000.png").unlink()
    rc = main(["train", str(sd1_file), str(data), "-o", str(tmp_path / "out"), "--resolution", "64"])
    assert rc == 2 and "000.png has no condition map" in capsys.readouterr().err
    (tmp_path / "lora.safetensors").write_bytes(b"")
    import torch
    from safetensors.torch import save_file

    save_file({"lora_unet_x.lora_down.weight": torch.zeros(2)}, str(tmp_path / "lora.safetensors"))
    Image.new("L", (64, 64)).save(data / "conditions" / "000.png")
    rc = main(["train", str(tmp_path / "lora.safetensors"), str(data), "-o", str(tmp_path / "out"),
               "--resolution", "64", "--cache", str(tokenizer_cache)])
    assert rc == 2 and "LoRA" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_short_run_writes_adapter_diffusers_folder_loss_curve_and_sample_grids(tmp_path, sd1_file):
    import t2i_ext

    data = write_pairs(tmp_path / "d", 2)
    out = tmp_path / "out"
    rc = main(["train", str(sd1_file), str(data), "-o", str(out), "--resolution", "64", "--steps", "2",
               "--in-channels", "1", "--sample-every", "2", "--sample-count", "1", "--sample-steps", "2",
               "--checkpoint-every", "1", "--save-diffusers", "--lr", "1e-4"])
    assert rc == 0
    adapter = t2i_ext.load_adapter(out / "adapter.safetensors")
    assert adapter.in_channels == 1 and adapter.base == "SD1"
    assert t2i_ext.load_adapter(out / "adapter-diffusers").in_channels == 1
    grid = Image.open(out / "samples" / "step-000002.png")
    assert grid.size == (3 * 64, 64)  # condition | without adapter | with adapter
    assert Image.open(out / "loss.png").size[0] > 100
    assert (out / "checkpoints" / "step-000001" / "state.json").exists()
    assert len(list((out / "cache").glob("latents-*/*.safetensors"))) == 2  # one cache file per pair
    assert (out / "cache" / "clip_tokenizer" / "vocab.json").exists()  # built offline from open_clip's BPE file

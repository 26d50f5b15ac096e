"""Files that are not adapters, broken files and hostile files: clear errors, and no pickled code ever runs."""

import json
import os

import pytest
import torch
from safetensors.torch import save_file

import t2i_ext
from t2i_ext import AdapterLoadError
from t2i_ext.nets import FullAdapter

from .reference import TINY_CHANNELS


def _tiny_sd():
    return FullAdapter(1, TINY_CHANNELS).state_dict()


class _Payload:
    """Unpickling this calls ``os.system`` — it must never happen."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "t2iadapter_canny_sd14v1.pth"
    torch.save({**_tiny_sd(), "evil": _Payload(marker)}, path, _use_new_zipfile_serialization=not legacy)
    # the payload is live: an unrestricted load of the same file runs it
    torch.load(path, weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(AdapterLoadError, match="refused to load.*safetensors"):
        t2i_ext.load_adapter(path)
    assert not marker.exists()


def test_malicious_pickle_in_a_diffusers_folder_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"_class_name": "T2IAdapter", "adapter_type": "full_adapter"}))
    torch.save({"x": _Payload(marker)}, folder / "diffusion_pytorch_model.bin")
    with pytest.raises(AdapterLoadError, match="refused to load"):
        t2i_ext.load_adapter(folder)
    assert not marker.exists()


@pytest.mark.parametrize(
    "keys, expected",
    [
        ({"input_hint_block.0.weight": (16, 3, 3, 3), "zero_convs.0.0.weight": (320, 320, 1, 1)}, "ControlNet"),
        ({"control_model.input_blocks.0.0.weight": (320, 4, 3, 3)}, "ControlNet"),
        ({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": (4, 320)}, "LoRA"),
        ({"model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3)}, "Stable Diffusion checkpoint"),
        ({"encoder.down.0.block.0.conv1.weight": (128, 128, 3, 3), "post_quant_conv.weight": (4, 4, 1, 1)}, "VAE"),
        ({"string_to_param.*": (2, 768)}, "textual-inversion"),
        ({"down_blocks.0.resnets.0.conv1.weight": (320, 320, 3, 3)}, "diffusers UNet or ControlNet"),
        ({"some.weight": (3, 3)}, "unknown model"),
    ],
)
def test_files_that_are_not_adapters_say_what_they_look_like(tmp_path, keys, expected):
    path = tmp_path / "model.safetensors"
    save_file({k: torch.zeros(s) for k, s in keys.items()}, str(path))
    with pytest.raises(AdapterLoadError, match=f"not a T2I-Adapter: it looks like .*{expected}"):
        t2i_ext.load_adapter(path)


def test_random_bytes_are_not_a_weights_file(tmp_path):
    path = tmp_path / "adapter.pth"
    path.write_bytes(os.urandom(4096).replace(b"PK", b"xx").lstrip(b"\x80") + b"x")
    with pytest.raises(AdapterLoadError, match="not a PyTorch or safetensors weights file"):
        t2i_ext.load_adapter(path)


def test_html_error_page_saved_as_adapter_is_explained(tmp_path):
    path = tmp_path / "adapter.safetensors"
    path.write_text("<!DOCTYPE html><html>Not Found</html>")
    with pytest.raises(AdapterLoadError, match="HTML web page, not model weights"):
        t2i_ext.load_adapter(path)


@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
def test_truncated_files_are_reported_as_truncated(tmp_path, fmt):
    path = tmp_path / f"adapter.{fmt}"
    if fmt == "safetensors":
        save_file(_tiny_sd(), str(path))
    else:
        torch.save(_tiny_sd(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AdapterLoadError, match="truncated or corrupt.*Download it again"):
        t2i_ext.load_adapter(path)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(AdapterLoadError, match="empty"):
        t2i_ext.load_adapter(tmp_path / "empty.pth")
    with pytest.raises(AdapterLoadError, match="no such file or folder"):
        t2i_ext.load_adapter(tmp_path / "nope.pth")


def test_missing_unexpected_and_misshaped_keys_are_listed(tmp_path):
    sd = dict(_tiny_sd())
    del sd["body.3.block2.bias"]
    sd["body.0.extra.weight"] = torch.zeros(1)
    sd["body.1.block1.weight"] = torch.zeros(32, 32, 1, 1)
    with pytest.raises(AdapterLoadError) as err:
        t2i_ext.load_adapter(sd)
    message = str(err.value)
    assert "missing keys (1): body.3.block2.bias" in message
    assert "unexpected keys (1): body.0.extra.weight" in message
    assert "wrong shapes (1): body.1.block1.weight (32, 32, 1, 1) (expected (32, 32, 3, 3))" in message


def test_diffusers_folders_without_weights_or_of_another_class(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    with pytest.raises(AdapterLoadError, match="without config.json"):
        t2i_ext.load_adapter(folder)
    (folder / "config.json").write_text(json.dumps({"_class_name": "ControlNetModel"}))
    with pytest.raises(AdapterLoadError, match="diffusers ControlNetModel, not a T2IAdapter"):
        t2i_ext.load_adapter(folder)
    (folder / "config.json").write_text(json.dumps({"_class_name": "T2IAdapter"}))
    with pytest.raises(AdapterLoadError, match="no weights"):
        t2i_ext.load_adapter(folder)
    (folder / "config.json").write_text("{broken")
    with pytest.raises(AdapterLoadError, match="not valid JSON"):
        t2i_ext.load_adapter(folder)


def test_a_file_holding_something_other_than_a_dict_is_rejected(tmp_path):
    torch.save(torch.zeros(3), tmp_path / "t.pth")
    with pytest.raises(AdapterLoadError, match="holds a Tensor, not a dictionary"):
        t2i_ext.load_adapter(tmp_path / "t.pth")

"""Issue 9, model files: broken, renamed and hostile files and configs end in the project's own error, naming what
is wrong, never in a bare Python error, a hang, unbounded memory or echoed file content (each test failed before
its fix)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest
import torch

import t2i_ext
from t2i_ext import AdapterLoadError
from t2i_ext.cli import main
from t2i_ext.errors import NotAnAdapterError
from t2i_ext.loading import identify_adapter
from t2i_ext.nets import FullAdapter, StyleAdapter
from tests.host.hostile_models import deny_reading

from .reference import TINY_CHANNELS, diffusers_adapter

ROOT = Path(__file__).resolve().parents[2]


def tiny_sd() -> dict:
    return FullAdapter(1, TINY_CHANNELS).state_dict()


class _Payload:
    """Unpickling this calls ``os.system`` — it must never happen."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def both_refuse(path, match: str) -> list[str]:
    """``load_adapter`` and ``identify_adapter`` (the model store's question) both refuse ``path`` the same way."""
    messages = []
    for read in (t2i_ext.load_adapter, identify_adapter):
        with pytest.raises(AdapterLoadError, match=match) as err:
            read(path)
        messages.append(str(err.value))
    return messages


def in_thread(fn, timeout: float = 20.0):
    """Run ``fn`` in a daemon thread; a hang fails the test instead of the suite."""
    result = {}

    def run():
        try:
            result["value"] = fn()
        except BaseException as e:  # handed to the test
            result["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout} s (blocked on the file?)"
    if "error" in result:
        raise result["error"]
    return result.get("value")


# -- renamed files ----------------------------------------------------------------------------------------------------
def test_a_torch_save_adapter_renamed_safetensors_is_read_by_content(tmp_path):
    path = tmp_path / "t2iadapter_canny.safetensors"
    torch.save(tiny_sd(), path)
    adapter = t2i_ext.load_adapter(path)
    assert adapter.kind == "full" and adapter.source_format == "pickle (.pth)"
    assert identify_adapter(path).base == "SD1"


# -- diffusers configs ------------------------------------------------------------------------------------------------
@pytest.fixture()
def xl_folder(tmp_path):
    folder = tmp_path / "t2i-adapter-canny-sdxl"
    diffusers_adapter("xl_3ch", TINY_CHANNELS).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["adapter_type"] == "full_adapter_xl" and config["downscale_factor"] == 16

    def with_config(**changes):
        (folder / "config.json").write_text(json.dumps({**config, **changes}))
        return folder

    return with_config


@pytest.mark.parametrize("config", [[1, 2], "T2IAdapter"], ids=["list", "string"])
def test_a_config_json_that_is_not_an_object_is_refused(xl_folder, config):
    folder = xl_folder()
    (folder / "config.json").write_text(json.dumps(config))
    both_refuse(folder, "config.json: holds a JSON (list|str), not an object")


@pytest.mark.parametrize("factor", [0, "16", 1e300, 4])
def test_a_downscale_factor_other_than_the_adapters_is_refused(xl_folder, factor):
    both_refuse(xl_folder(downscale_factor=factor), "config.json(:| says) downscale_factor")


@pytest.mark.parametrize("adapter_type", ["full_adapter", "light_adapter", "nonsense"])
def test_an_adapter_type_contradicting_the_sdxl_weights_is_refused_naming_both(xl_folder, adapter_type):
    for message in both_refuse(xl_folder(adapter_type=adapter_type), "config.json says"):
        assert "768 inputs" in message and "SDXL" in message  # what the tensors say, beside the config's value
        assert adapter_type in message or "downscale_factor 16" in message


def test_config_in_channels_and_widths_must_match_the_tensors(xl_folder):
    with pytest.raises(AdapterLoadError, match="in_channels 1 .*768 inputs"):
        t2i_ext.load_adapter(xl_folder(in_channels=1))
    with pytest.raises(AdapterLoadError, match=r"channels \[1, 2, 3, 4\], but the tensors have \[32, 64, 128, 128\]"):
        t2i_ext.load_adapter(xl_folder(channels=[1, 2, 3, 4]))
    assert t2i_ext.load_adapter(xl_folder()).describe().startswith("SDXL · full · 3-channel")


# -- tensor values ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spoil, words",
    [
        (lambda t: t.fill_(float("nan")), "NaN or infinite"),
        (lambda t: t.fill_(float("inf")), "NaN or infinite"),
        (lambda t: t.to(torch.complex64), r"complex \(complex64\)"),
        (lambda t: t.long(), r"not floating point \(int64\)"),
        (lambda t: t.bool(), r"not floating point \(bool\)"),
    ],
    ids=["nan", "inf", "complex", "int", "bool"],
)
def test_weights_that_are_not_finite_real_floats_are_refused_naming_the_tensor(tmp_path, spoil, words):
    sd = tiny_sd()
    sd["body.3.block2.bias"] = spoil(sd["body.3.block2.bias"].clone())
    torch.save(sd, tmp_path / "a.pth")
    for source in (sd, tmp_path / "a.pth"):
        with pytest.raises(AdapterLoadError, match=f"tensor body.3.block2.bias .*{words}"):
            t2i_ext.load_adapter(source)


def test_a_style_embedding_of_the_wrong_rank_names_the_shape_expected():
    sd = StyleAdapter(64, 32, 8, 1, 8).state_dict()
    sd["style_embedding"] = sd["style_embedding"][0]
    with pytest.raises(AdapterLoadError, match=r"style_embedding has shape \(8, 64\); expected \[1, tokens, width\]"):
        t2i_ext.load_adapter(sd)


def test_a_textual_inversion_is_named_as_an_embedding(tmp_path):
    path = tmp_path / "my-style.pt"  # what AUTOMATIC1111's textual-inversion training saves
    torch.save(
        {
            "string_to_token": {"*": 265},
            "string_to_param": {"*": torch.randn(2, 768, requires_grad=True)},
            "name": "my-style",
            "step": 1500,
            "sd_checkpoint": "a1b2c3d4",
            "sd_checkpoint_name": "v1-5-pruned",
        },
        path,
    )
    for read in (t2i_ext.load_adapter, identify_adapter):
        with pytest.raises(NotAnAdapterError, match="it looks like a textual-inversion embedding"):
            read(path)


# -- pickles ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol, legacy", [(2, False), (4, False), (2, True)], ids=["zip", "zip-proto4", "legacy"])
def test_a_code_payload_pickle_is_named_for_the_global_it_would_run(tmp_path, protocol, legacy):
    marker = tmp_path / "pwned"
    path = tmp_path / "t2iadapter_canny_sd14v1.pth"
    torch.save(
        {**tiny_sd(), "evil": _Payload(marker)},
        path,
        pickle_protocol=protocol,
        _use_new_zipfile_serialization=not legacy,
    )
    for message in both_refuse(path, r"a pickle that tries to run code \(os\.system\), refused"):
        assert "weights_only=False" not in message and ".safetensors copy" in message
    assert not marker.exists()


def test_errors_never_echo_the_content_of_a_file_that_is_not_weights(tmp_path):
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:s3cret-entry:/root:/bin/bash\n")
    (tmp_path / "x.pth").symlink_to(secret)
    for message in both_refuse(tmp_path / "x.pth", "this file is text, not model weights"):
        assert "root" not in message and "s3cret" not in message


def _zip_bomb(path: Path, unpacked: int) -> None:
    """A torch-like zip whose data.pkl deflates from a few hundred KB to ``unpacked`` bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("archive/data.pkl", "w", force_zip64=True) as f:
            block = b"\0" * (1 << 20)
            for _ in range(unpacked >> 20):
                f.write(block)
        z.writestr("archive/version", "3\n")


def test_a_zip_bomb_is_refused_from_its_declared_sizes_before_unpacking(tmp_path):
    path = tmp_path / "bomb.ckpt"
    _zip_bomb(path, 256 << 20)
    assert path.stat().st_size < 1 << 20
    start = time.perf_counter()
    both_refuse(path, "would unpack to 256 MiB from a 0.[0-9] MiB file .a zip bomb")
    assert time.perf_counter() - start < 2  # nothing was unpacked


# -- safetensors headers ----------------------------------------------------------------------------------------------
def _safetensors(path: Path, header: dict | bytes, data: bytes = b"", length: int | None = None) -> Path:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return path


def test_safetensors_sizes_that_do_not_fit_the_file_are_refused(tmp_path):
    entry = {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
    both_refuse(
        _safetensors(tmp_path / "a.safetensors", {"w": entry}, b"\0" * 8), r"data_offsets \[0, 16\] lie outside"
    )
    both_refuse(_safetensors(tmp_path / "b.safetensors", {"w": entry}, b"\0" * 16, length=1 << 40), "its header claims")
    with pytest.raises(AdapterLoadError, match=r"shape \(5,\) does not fit its 16 bytes"):
        t2i_ext.load_adapter(_safetensors(tmp_path / "c.safetensors", {"w": {**entry, "shape": [5]}}, b"\0" * 16))


def test_a_huge_safetensors_header_is_refused_without_parsing_it(tmp_path):
    entry = '"t{}": {{"dtype": "F16", "shape": [0], "data_offsets": [0, 0]}}'
    raw = ("{" + ", ".join(entry.format(i) for i in range(100_000)) + "}").encode()  # 6.3 MB
    path = _safetensors(tmp_path / "huge.safetensors", raw)
    start = time.perf_counter()
    both_refuse(path, "a safetensors header of 6.[0-9] MiB, larger than any model's")
    assert time.perf_counter() - start < 1


@pytest.mark.parametrize("header", [{"x": 5}, {"w": {"dtype": "F16", "shape": 5, "data_offsets": [0, 0]}}])
def test_malformed_safetensors_entries_are_refused_as_corrupt(tmp_path, header):
    both_refuse(_safetensors(tmp_path / "a.safetensors", header), "truncated or corrupt .tensor (x|w): ")


# -- special files ----------------------------------------------------------------------------------------------------
def test_a_fifo_named_like_weights_is_refused_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "adapter.pth")
    in_thread(lambda: both_refuse(tmp_path / "adapter.pth", r"a FIFO \(named pipe\), not a regular file"))


def test_dangling_and_looping_links_say_what_they_are(tmp_path):
    (tmp_path / "moved.pth").symlink_to(tmp_path / "other-drive" / "moved.pth")
    (tmp_path / "loop.pth").symlink_to(tmp_path / "loop.pth")
    both_refuse(tmp_path / "moved.pth", "a link whose target is missing")
    both_refuse(tmp_path / "loop.pth", "a symbolic link that points back to itself")


def test_an_unreadable_file_is_refused_as_such(tmp_path, monkeypatch):
    path = tmp_path / "locked.pth"
    torch.save(tiny_sd(), path)
    deny_reading(monkeypatch, path)  # as root, chmod 000 does not stop reads: deny every open of the file
    both_refuse(path, r"cannot be read \(permission denied\)")


# -- the command line -------------------------------------------------------------------------------------------------
def test_cli_errors_are_one_line_and_an_exit_code_never_a_traceback(tmp_path, capsys):
    torch.save(tiny_sd(), tmp_path / "a.pth")
    (tmp_path / "a-file").write_text("")
    out = subprocess.run(  # the process as users run it: --out inside a file used to end in a traceback
        [sys.executable, "-m", "t2i_ext", "convert", str(tmp_path / "a.pth"), "--to", "safetensors"]
        + ["--out", str(tmp_path / "a-file/sub/x.safetensors")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 1 and out.stderr.startswith("error: ") and len(out.stderr.splitlines()) == 1, out.stderr
    for argv in (["inspect", str(tmp_path / "missing.pth")], ["inspect", str(tmp_path / "a-file")]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    with pytest.raises(SystemExit) as usage:
        main(["convert", str(tmp_path / "a.pth"), "--to", "onnx"])
    assert usage.value.code == 2


def test_the_core_imports_and_reads_files_where_fcntl_and_o_nonblock_do_not_exist(tmp_path):
    """Most WebUI users run Windows: no fcntl module, no os.O_NONBLOCK/O_CLOEXEC."""
    import subprocess
    import sys

    from safetensors.torch import save_file

    path = tmp_path / "a.safetensors"
    save_file({"conv_in.weight": torch.zeros(2, 2)}, str(path))
    code = f"""
import os, sys
sys.modules["fcntl"] = None
for name in ("O_NONBLOCK", "O_CLOEXEC"):
    if hasattr(os, name):
        delattr(os, name)
from pathlib import Path
from t2i_ext.sniff import open_regular
with open_regular(Path({str(path)!r})) as f:
    print(len(f.read()))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == path.stat().st_size


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="Linux /proc")
def test_a_read_error_behind_a_regular_looking_file_is_an_adapter_error(tmp_path):
    # /proc/self/mem stats as an empty regular file and fails with EIO when read at offset 0: a failing drive does too
    link = tmp_path / "mem.safetensors"
    link.symlink_to("/proc/self/mem")
    with pytest.raises(AdapterLoadError, match=r"cannot be read \(EIO\)"):
        identify_adapter(link)

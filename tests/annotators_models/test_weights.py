"""The weight table, lookup order, verified download (against a local HTTP server) and safe loading."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest
import torch

from annotators import weights
from annotators.weights import (
    UnsafeWeightsError,
    WeightFile,
    WeightsHashError,
    WeightsUnavailableError,
)

PAYLOAD = os.urandom(300_000)


def _spec(name: str = "tiny.pth", data: bytes = PAYLOAD, sha: str | None = "auto") -> WeightFile:
    digest = hashlib.sha256(data).hexdigest() if sha == "auto" else sha
    return WeightFile(name, f"https://example.invalid/{name}", len(data), digest, "test", "tests")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


class _RecordingBar:
    def __init__(self, total: int | None) -> None:
        self.total, self.done, self.updates, self.closed = total, 0, 0, False

    def update(self, n: int) -> None:
        self.done += n
        self.updates += 1

    def close(self) -> None:
        self.closed = True


# Files whose published SHA-256 could not be found (documented in annotators/weights.py).
UNVERIFIED = {"segformer-b5-finetuned-ade-640-640.bin"}


def test_every_table_entry_has_url_size_and_sha256_except_the_documented_unverified_ones():
    for name, w in weights.WEIGHTS.items():
        assert w.name == name
        assert w.url.startswith("https://"), name
        if name in UNVERIFIED:
            assert w.sha256 is None
            continue
        assert w.size and w.size > 0, name
        assert w.sha256 is not None and len(w.sha256) == 64 and int(w.sha256, 16) >= 0, name


def test_file_without_published_hash_is_never_downloaded_unverified(http_server, tmp_path):
    base, files = http_server
    files["tiny.pth"] = PAYLOAD
    spec = WeightFile("tiny.pth", "https://example.invalid/tiny.pth", None, None, "test", "tests")
    with pytest.raises(weights.WeightsUnavailableError, match="no published SHA-256.*tiny.pth") as err:
        weights.download_weights(spec, tmp_path, url=f"{base}/good/tiny.pth", progress=False)
    assert str(tmp_path / "tiny.pth") in str(err.value)  # says where to put it by hand
    assert list(tmp_path.iterdir()) == []


def test_download_reports_progress_and_writes_the_verified_file(http_server, tmp_path, monkeypatch):
    base, files = http_server
    files["tiny.pth"] = PAYLOAD
    bars: list[_RecordingBar] = []
    monkeypatch.setattr(
        weights, "_progress_bar", lambda name, total, enabled: bars.append(_RecordingBar(total)) or bars[-1]
    )
    path = weights.download_weights(_spec(), tmp_path, url=f"{base}/good/tiny.pth", chunk_size=65536)
    assert path == tmp_path / "tiny.pth"
    assert path.read_bytes() == PAYLOAD
    assert _leftovers(tmp_path) == ["tiny.pth"]
    (bar,) = bars
    assert bar.total == len(PAYLOAD) and bar.done == len(PAYLOAD) and bar.updates >= 4 and bar.closed


def test_download_progress_bar_is_printed_by_tqdm(http_server, tmp_path, capfd):
    base, files = http_server
    files["tiny.pth"] = PAYLOAD
    weights.download_weights(_spec(), tmp_path, url=f"{base}/good/tiny.pth", progress=True)
    err = capfd.readouterr().err
    assert "Downloading tiny.pth" in err and "100%" in err


def test_server_closing_mid_file_leaves_no_partial_file(http_server, tmp_path):
    base, files = http_server
    files["tiny.pth"] = PAYLOAD
    with pytest.raises(WeightsUnavailableError, match=r"interrupted.*tiny\.pth|tiny\.pth.*interrupted") as info:
        weights.download_weights(_spec(), tmp_path, url=f"{base}/truncated/tiny.pth", progress=False)
    assert str(tmp_path / "tiny.pth") in str(info.value)
    assert _leftovers(tmp_path) == []


def test_keyboard_interrupt_mid_stream_leaves_no_partial_file(http_server, tmp_path, monkeypatch):
    base, files = http_server
    files["tiny.pth"] = PAYLOAD

    class _InterruptingBar(_RecordingBar):
        def update(self, n: int) -> None:
            super().update(n)
            if self.updates == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(weights, "_progress_bar", lambda name, total, enabled: _InterruptingBar(total))
    with pytest.raises(KeyboardInterrupt):
        weights.download_weights(_spec(), tmp_path, url=f"{base}/good/tiny.pth", chunk_size=65536)
    assert _leftovers(tmp_path) == []


def test_wrong_hash_is_rejected_and_deleted(http_server, tmp_path):
    base, files = http_server
    files["tiny.pth"] = PAYLOAD
    with pytest.raises(WeightsHashError, match="SHA-256") as info:
        weights.download_weights(_spec(), tmp_path, url=f"{base}/wrong/tiny.pth", progress=False)
    assert hashlib.sha256(PAYLOAD).hexdigest() in str(info.value)
    assert _leftovers(tmp_path) == []


def test_offline_error_names_file_folder_and_url(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    weights.set_mirror(f"http://127.0.0.1:{port}")
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(tmp_path))
    fake = _spec("offline.pth")
    monkeypatch.setitem(weights.WEIGHTS, "offline.pth", fake)
    try:
        with pytest.raises(WeightsUnavailableError) as info:
            weights.ensure_weights("offline.pth", progress=False)
    finally:
        weights.set_mirror(None)
    msg = str(info.value)
    assert "'offline.pth'" in msg
    assert str(tmp_path / "offline.pth") in msg  # where to put it
    assert fake.url in msg and f"127.0.0.1:{port}/offline.pth" in msg  # where to get it
    assert _leftovers(tmp_path) == []


def test_mirror_download_lands_in_models_dir_then_is_found_without_network(http_server, tmp_path, monkeypatch):
    base, files = http_server
    files["tiny.pth"] = PAYLOAD
    monkeypatch.setitem(weights.WEIGHTS, "tiny.pth", _spec())
    weights.set_models_dir(tmp_path / "models")
    weights.set_mirror(f"{base}/good")
    monkeypatch.delenv(weights.ENV_MODELS_DIR, raising=False)
    try:
        first = weights.ensure_weights("tiny.pth", progress=False)
        weights.set_mirror("http://127.0.0.1:9")  # unreachable: the second lookup must not download
        second = weights.ensure_weights("tiny.pth", progress=False)
    finally:
        weights.set_mirror(None)
        weights.set_models_dir(None)
    assert first == second == tmp_path / "models" / "tiny.pth"


def test_env_var_overrides_models_dir(tmp_path, monkeypatch):
    weights.set_models_dir(tmp_path / "set")
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(tmp_path / "env"))
    try:
        assert weights.models_dir() == tmp_path / "env"
        monkeypatch.delenv(weights.ENV_MODELS_DIR)
        assert weights.models_dir() == tmp_path / "set"
    finally:
        weights.set_models_dir(None)
    assert weights.models_dir() == weights.DEFAULT_MODELS_DIR


def test_explicit_path_wins_and_missing_explicit_path_is_a_clear_error(tmp_path):
    f = tmp_path / "mine.pth"
    f.write_bytes(b"x")
    assert weights.ensure_weights("table5_pidinet.pth", f) == f
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        weights.ensure_weights("table5_pidinet.pth", tmp_path / "nope.pth")


def test_unknown_weight_name_lists_known_files():
    with pytest.raises(ValueError, match="table5_pidinet.pth"):
        weights.ensure_weights("no_such_model.pth")


class _Payload:
    """Pickles to a call of open(marker, "w"): loading it with plain pickle would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_loader_refuses_a_malicious_pickle_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(1), "payload": _Payload(marker)}, evil)
    with pytest.raises(UnsafeWeightsError, match="refused"):
        weights.load_state_dict(evil)
    assert not marker.exists()
    # The payload is real: an unrestricted load runs it (this is what the loader must never do).
    torch.load(evil, weights_only=False)
    assert marker.exists()


def test_loader_unwraps_state_dict_container_and_module_prefix(tmp_path):
    f = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {"module.conv.weight": torch.ones(2)}, "epoch": 3}, f)
    assert list(weights.load_state_dict(f)) == ["conv.weight"]


def test_safetensors_loader_reads_only_the_kept_keys(tmp_path):
    from safetensors.torch import save_file

    f = tmp_path / "w.safetensors"
    save_file({"vision_model.a": torch.ones(2), "text_model.b": torch.ones(3)}, str(f))
    assert list(weights.load_state_dict(f, keep=lambda k: k.startswith("vision_model."))) == ["vision_model.a"]


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    f = tmp_path / "w.safetensors"
    save_file({"a": torch.ones(1000)}, str(f))
    f.write_bytes(f.read_bytes()[:200])
    with pytest.raises(weights.WeightsError, match="download it again"):
        weights.load_state_dict(f)


def test_load_strict_lists_missing_unexpected_and_misshaped_keys():
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    sd = {"0.weight": torch.zeros(3, 2), "0.bias": torch.zeros(4), "extra": torch.zeros(1)}
    with pytest.raises(weights.WeightsError) as info:
        weights.load_strict(net, sd, "test net")
    msg = str(info.value)
    assert "missing: 1.weight, 1.bias" in msg and "unexpected: extra" in msg and "0.bias (4,) (expected (3,))" in msg


def test_annotator_without_weights_offline_says_which_file_to_put_where(tmp_path, monkeypatch):
    import numpy as np

    import annotators

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(tmp_path))
    weights.set_mirror(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(WeightsUnavailableError) as info:
            annotators.run("pidinet", np.zeros((32, 32, 3), np.uint8))
    finally:
        weights.set_mirror(None)
    msg = str(info.value)
    assert str(tmp_path / "table5_pidinet.pth") in msg
    assert "https://huggingface.co/lllyasviel/Annotators/resolve/main/table5_pidinet.pth" in msg
    assert _leftovers(tmp_path) == []


def test_unwritable_models_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")  # a file where the folder should be
    with pytest.raises(WeightsUnavailableError, match="writable folder"):
        weights.download_weights(_spec(), blocker / "models", url="http://127.0.0.1:9/x", progress=False)


def test_verify_weights_compares_a_local_file_with_the_published_hash(tmp_path, monkeypatch):
    monkeypatch.setitem(weights.WEIGHTS, "tiny.pth", _spec())
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(tmp_path))
    with pytest.raises(WeightsUnavailableError, match="tiny.pth"):
        weights.verify_weights("tiny.pth")
    (tmp_path / "tiny.pth").write_bytes(PAYLOAD)
    assert weights.verify_weights("tiny.pth") is True
    (tmp_path / "tiny.pth").write_bytes(PAYLOAD[:-1] + b"!")
    assert weights.verify_weights("tiny.pth") is False
    monkeypatch.setitem(weights.WEIGHTS, "tiny.pth", _spec(sha=None))
    assert weights.verify_weights("tiny.pth") is None


def test_a_zip_bomb_or_a_giant_header_among_the_annotator_weights_is_refused_unread(tmp_path):
    # the adapter core's bounded reading runs first: declared sizes that do not fit the file, headers no model has
    import struct
    import zipfile

    bomb = tmp_path / "ControlNetHED.pth"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z, z.open("archive/data.pkl", "w", force_zip64=True) as f:
        for _ in range(64):
            f.write(b"\0" * (1 << 20))
    with pytest.raises(weights.WeightsError, match="zip bomb") as e:
        weights.load_state_dict(bomb)
    assert "download it again" in str(e.value)

    giant = tmp_path / "clip_vision.safetensors"
    entry = '"t{}":{{"dtype":"F16","shape":[0],"data_offsets":[0,0]}}'
    header = ("{" + ",".join(entry.format(i) for i in range(1_000_000)) + "}").encode()
    giant.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(weights.WeightsError, match="larger than any model's"):
        weights.load_state_dict(giant)

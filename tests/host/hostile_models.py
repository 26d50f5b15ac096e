"""A models folder full of what users' folders really hold beside two good adapters: dangling and looping links,
a FIFO, a folder named like a file, an unreadable file, an empty file, a zip bomb, a 1M-entry safetensors header,
a code-payload pickle, a textual inversion, malformed headers, a ControlNet, and good adapters whose file names are
not printable text (a newline, Latin-1 bytes). Built in a test's tmp folder."""

from __future__ import annotations

import builtins
import json
import os
import struct
import zipfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from t2i_ext.nets import FullAdapter, FullAdapterXL

WIDTHS = (8, 16, 32, 32)
GOOD = {"t2iadapter_canny_sd14v1": ("full", "SD1"), "t2i-adapter_xl_sketch": ("full", "SDXL")}
# file name in the own folder → words its reason must contain
BAD_OWN = {
    "moved.pth": "a link whose target is missing",
    "loop.safetensors": "points back to itself",
    "pipe.pth": "a FIFO",
    "folder.safetensors": "a folder without config.json",
    "locked.pth": "permission denied",
    "empty.ckpt": "the file is empty",
    "bomb.ckpt": "a zip bomb",
    "million.safetensors": "larger than any model's",
    "evil.pth": "a pickle that tries to run code (os.system)",
    "my-style.pt": "a textual-inversion embedding",
    "x5.safetensors": "truncated or corrupt",
    "shape5.safetensors": "truncated or corrupt",
    "control_v11p_canny_own.safetensors": "a ControlNet",
    # good adapters whose names would break a log line, the infotext and the models route's JSON
    os.fsdecode(b"canny-\xe9t\xe9.safetensors"): "not UTF-8 text",  # a Latin-1 name from an old archive
    "canny\nline.safetensors": "a control character",
}
# in the mixed (ControlNet) folder: broken entries are reported, other models are left out silently
BAD_SHARED = {"moved_to_other_drive.safetensors": "a link whose target is missing"}
CONTROLNET = {"input_hint_block.0.weight": torch.zeros(16, 3, 3, 3), "zero_convs.0.0.weight": torch.zeros(4, 4, 1, 1)}


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _header(path: Path, raw: bytes) -> None:
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)


def build(root: Path, own: Path | None = None, shared: Path | None = None) -> tuple[Path, Path, Path]:
    """Fill ``own`` and ``shared`` (default: under ``root``); returns (own, shared, marker of the payload)."""
    own, shared = own or root / "T2I-Adapter", shared or root / "ControlNet"
    own.mkdir(parents=True, exist_ok=True)
    shared.mkdir(parents=True, exist_ok=True)
    marker = root / "pwned"
    save_file(FullAdapter(1, WIDTHS).state_dict(), str(own / "t2iadapter_canny_sd14v1.safetensors"))
    torch.save(FullAdapterXL(1, WIDTHS).state_dict(), shared / "t2i-adapter_xl_sketch.pth")

    (own / "moved.pth").symlink_to(root / "unmounted-drive" / "moved.pth")
    (own / "loop.safetensors").symlink_to(own / "loop.safetensors")
    os.mkfifo(own / "pipe.pth")
    (own / "folder.safetensors").mkdir()
    torch.save(FullAdapter(1, WIDTHS).state_dict(), own / "locked.pth")
    (own / "empty.ckpt").write_bytes(b"")
    with zipfile.ZipFile(own / "bomb.ckpt", "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("archive/data.pkl", "w", force_zip64=True) as f:
            for _ in range(64):
                f.write(b"\0" * (1 << 20))
    entry = '"t{}":{{"dtype":"F16","shape":[0],"data_offsets":[0,0]}}'
    _header(own / "million.safetensors", ("{" + ",".join(entry.format(i) for i in range(1_000_000)) + "}").encode())
    torch.save({**FullAdapter(1, WIDTHS).state_dict(), "x": _Payload(marker)}, own / "evil.pth")
    torch.save({"string_to_param": {"*": torch.zeros(2, 768)}, "name": "my-style", "step": 100}, own / "my-style.pt")
    _header(own / "x5.safetensors", json.dumps({"x": 5}).encode())
    _header(
        own / "shape5.safetensors", json.dumps({"w": {"dtype": "F16", "shape": 5, "data_offsets": [0, 0]}}).encode()
    )
    save_file(CONTROLNET, str(own / "control_v11p_canny_own.safetensors"))
    for name in ("canny\nline.safetensors", os.fsdecode(b"canny-\xe9t\xe9.safetensors")):
        save_file(FullAdapter(1, WIDTHS).state_dict(), str(own / name))

    (shared / "moved_to_other_drive.safetensors").symlink_to(root / "unmounted-drive" / "cn.safetensors")
    save_file(CONTROLNET, str(shared / "control_v11p_canny.safetensors"))
    return own, shared, marker


def deny_reading(monkeypatch, path: Path) -> None:
    """Make ``path`` unreadable also for root (who ignores chmod 000): every open of it raises PermissionError."""
    real_os_open, real_open = os.open, builtins.open

    def deny(opener):
        def wrapped(file, *args, **kwargs):
            if str(file) == str(path):
                raise PermissionError(13, "Permission denied", str(file))
            return opener(file, *args, **kwargs)

        return wrapped

    monkeypatch.setattr(os, "open", deny(real_os_open))
    monkeypatch.setattr(builtins, "open", deny(real_open))

"""Where adapter files are, what they are, and a small cache of loaded adapters.

- Discovery: every ``.safetensors``/``.pth``/``.pt``/``.ckpt``/``.bin`` file (and diffusers folders holding a
  ``config.json`` of a ``T2IAdapter``) under the given folders, recursively. Folders marked ``mixed`` (the WebUI's
  ``models/ControlNet``, shared with ControlNets) list only files whose tensor *names* say adapter: read from the
  safetensors JSON header, or from the pickle opcodes of a ``.pth`` (parsed with ``pickletools``, never
  executed), without loading any tensor. Results are cached by path + size + mtime.
- Description without loading: kind (full/light/style/fuser) and base (SD1/SDXL: SDXL adapters take 16×16
  unshuffled pixels, so ``conv_in`` has 256 or 768 input channels) from the same header; ``?`` when a pickle
  does not reveal it (the loaded model then tells).
- Names: ``"<file stem> [<short hash>]"``, the short hash being the first 8 hex digits of the file's SHA-256
  (computed lazily, cached by path + size + mtime). Lookups accept the full title, the stem, the file name or
  the hash.
- :class:`AdapterCache`: an LRU of loaded adapters (size from a setting); evicted models are released.
"""

from __future__ import annotations

import gc
import hashlib
import io
import json
import os
import pickletools
import struct
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".bin")
SD1, SDXL, UNKNOWN = "SD1", "SDXL", "?"

_KIND_MARKERS = (  # (kind, keys that must all be present), first match wins (same order as the core's registry)
    ("style", ("style_embedding", "proj")),
    ("fuser", ("task_embedding", "seq_proj")),
    ("light", ("body.0.in_conv.weight", "body.0.out_conv.weight")),
    ("full", ("conv_in.weight", "body.0.block1.weight")),
)
_DIFFUSERS_MARKERS = (
    ("light", "body.0.resnets.0.block1.weight", "body.0.out_conv.weight"),
    ("full", "conv_in.weight", "body.0.resnets.0.block1.weight"),
)
_PREFIXES = ("adapter.", "module.")


@dataclass(frozen=True)
class ModelInfo:
    """One adapter file as listed in the panel and the API."""

    path: Path
    kind: str  # full, light, style, fuser, or "?" when only the load can tell
    base: str  # SD1, SDXL or "?"
    folder: str  # the folder it was found in

    @property
    def stem(self) -> str:
        return self.path.stem if self.path.is_file() else self.path.name


class ModelStore:
    """Adapter files under ``folders`` (``(path, mixed)`` pairs; ``mixed`` folders are sniffed for adapters)."""

    def __init__(self, folders: Iterable[tuple[str | os.PathLike, bool]] = ()) -> None:
        self.folders: list[tuple[Path, bool]] = [(Path(f), bool(m)) for f, m in folders]
        self._sniffed: dict[tuple, tuple[str, str] | None] = {}
        self._hashes: dict[tuple, str] = {}
        self._models: dict[str, ModelInfo] | None = None
        self._lock = threading.Lock()

    # -- discovery -------------------------------------------------------------------------------------------
    def refresh(self) -> dict[str, ModelInfo]:
        """Rescan the folders; returns ``{title: ModelInfo}`` sorted by title."""
        found: dict[Path, ModelInfo] = {}
        for folder, mixed in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(_candidates(folder)):
                if path in found:
                    continue
                sniffed = self.sniff(path)
                if sniffed is None and mixed:
                    continue  # a ControlNet or anything else in a shared folder
                kind, base = sniffed or (UNKNOWN, UNKNOWN)
                found[path] = ModelInfo(path, kind, base, str(folder))
        models: dict[str, ModelInfo] = {}
        for info in found.values():
            models[self.title(info)] = info
        with self._lock:
            self._models = dict(sorted(models.items(), key=lambda kv: kv[0].lower()))
            return dict(self._models)

    def models(self) -> dict[str, ModelInfo]:
        if self._models is None:
            return self.refresh()
        return dict(self._models)

    def title(self, info: ModelInfo) -> str:
        return f"{info.stem} [{self.short_hash(info.path)}]"

    def find(self, name: str) -> ModelInfo | None:
        """A model by title, stem, file name or short hash (case-insensitive); rescans once when not found."""
        for attempt in range(2):
            models = self.models() if attempt == 0 else self.refresh()
            key = name.strip().lower()
            for title, info in models.items():
                h = title.rsplit("[", 1)[-1].rstrip("]").lower()
                if key in (title.lower(), info.stem.lower(), info.path.name.lower(), h, f"[{h}]"):
                    return info
        return None

    # -- cheap inspection ---------------------------------------------------------------------------------------
    def sniff(self, path: Path) -> tuple[str, str] | None:
        """``(kind, base)`` if ``path`` looks like an adapter from its tensor names, else None. Cached."""
        key = _stat_key(path)
        if key not in self._sniffed:
            try:
                self._sniffed[key] = sniff_adapter(path)
            except OSError:
                self._sniffed[key] = None
        return self._sniffed[key]

    def short_hash(self, path: Path) -> str:
        """First 8 hex digits of the file's SHA-256 (of the weights file for a diffusers folder). Cached."""
        key = _stat_key(path)
        if key not in self._hashes:
            self._hashes[key] = file_sha256(_weights_file(path))[:8]
        return self._hashes[key]


def _stat_key(path: Path) -> tuple:
    target = _weights_file(path)
    st = target.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def _weights_file(path: Path) -> Path:
    if path.is_dir():
        for name in (
            "diffusion_pytorch_model.safetensors",
            "diffusion_pytorch_model.fp16.safetensors",
            "diffusion_pytorch_model.bin",
            "diffusion_pytorch_model.fp16.bin",
        ):
            if (path / name).is_file():
                return path / name
    return path


def _candidates(folder: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        if "config.json" in files and _is_diffusers_adapter(root_path):
            dirs[:] = []
            yield root_path
            continue
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.lower().endswith(WEIGHT_SUFFIXES) and not name.startswith("diffusion_pytorch_model"):
                yield root_path / name


def _is_diffusers_adapter(folder: Path) -> bool:
    try:
        return json.loads((folder / "config.json").read_text()).get("_class_name") == "T2IAdapter"
    except (OSError, ValueError, AttributeError):
        return False


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# -- reading tensor names without loading tensors ----------------------------------------------------------------
def sniff_adapter(path: Path) -> tuple[str, str] | None:
    """``(kind, base)`` from tensor names (and shapes where the format shows them); None when not an adapter."""
    if path.is_dir():
        return ("full", UNKNOWN) if _is_diffusers_adapter(path) else None
    shapes = tensor_shapes(path)
    if shapes is None:
        return None
    names = _strip_prefix(shapes)
    kind = classify(names)
    if kind is None:
        return None
    base = SD1 if kind in ("style", "fuser") else UNKNOWN
    cin_shape = names.get("conv_in.weight") or names.get("body.0.in_conv.weight")
    if kind == "full" and cin_shape:
        base = SDXL if cin_shape[1] in (256, 768) else SD1
    elif kind == "light":
        base = SD1  # the published light (colour) adapter exists for SD1 only
    return kind, base


def classify(names: dict[str, Any]) -> str | None:
    for kind, keys in _KIND_MARKERS:
        if all(k in names for k in keys):
            return kind
    for kind, *keys in _DIFFUSERS_MARKERS:
        if all(k in names for k in keys):
            return kind
    return None


def _strip_prefix(shapes: dict[str, Any]) -> dict[str, Any]:
    for prefix in _PREFIXES:
        if shapes and all(k.startswith(prefix) for k in shapes):
            shapes = {k[len(prefix) :]: v for k, v in shapes.items()}
    return shapes


def tensor_shapes(path: Path) -> dict[str, tuple[int, ...] | None] | None:
    """Tensor name → shape (None when the format hides it) read from a file's header; None if unreadable."""
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) == 8:
            (size,) = struct.unpack("<Q", head)
            if 1 < size < 100_000_000:
                first = f.read(1)
                if first == b"{":
                    try:
                        header = json.loads(first + f.read(size - 1))
                    except ValueError:
                        return None
                    return {k: tuple(v.get("shape", ())) for k, v in header.items() if k != "__metadata__"}
    if zipfile.is_zipfile(path):
        return _pickle_names(path)
    return None


def _pickle_names(path: Path) -> dict[str, tuple[int, ...] | None] | None:
    """Tensor names in a torch zip checkpoint's ``data.pkl``, from its opcodes only (nothing is executed).

    Strings that look like state-dict keys are collected; for ``conv_in.weight`` the input-channel count is read
    from the numel that follows it (``320·cin·9``), which is all the base detection needs.
    """
    try:
        with zipfile.ZipFile(path) as z:
            pkl = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
            if pkl is None:
                return None
            data = z.read(pkl)
    except (zipfile.BadZipFile, OSError):
        return None
    names: dict[str, tuple[int, ...] | None] = {}
    pending: str | None = None
    try:
        for op, arg, _ in pickletools.genops(io.BytesIO(data)):
            if op.name in ("BINUNICODE", "SHORT_BINUNICODE", "UNICODE", "BINUNICODE8") and isinstance(arg, str):
                if "." in arg or arg in ("style_embedding", "proj", "task_embedding", "seq_proj"):
                    names.setdefault(arg, None)
                    pending = arg if arg in ("conv_in.weight", "adapter.conv_in.weight") else pending
            elif pending and op.name in ("BININT", "BININT1", "BININT2", "LONG1") and isinstance(arg, int):
                if arg % 2880 == 0 and arg // 2880 in (64, 192, 256, 768):  # numel of [320, cin, 3, 3]
                    names[pending] = (320, arg // 2880, 3, 3)
                    pending = None
    except Exception:  # a damaged pickle: whatever was read so far still tells
        pass
    return names


# -- loaded adapters ---------------------------------------------------------------------------------------------------
class AdapterCache:
    """LRU of loaded adapters keyed by ``(path, size, mtime, dtype)``; ``size`` is read on every use (a setting)."""

    def __init__(
        self,
        loader: Callable[[Path], Any],
        size: Callable[[], int] | int = 2,
        on_evict: Callable[[], None] | None = None,
    ) -> None:
        self._loader = loader
        self._size = size if callable(size) else (lambda: size)
        self._on_evict = on_evict
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self.loads = 0

    def get(self, path: Path, tag: Any = None) -> Any:
        key = (*_stat_key(Path(path)), tag)
        if key in self._items:
            self._items.move_to_end(key)
            self._evict(max(1, int(self._size())))  # the setting may have shrunk
            return self._items[key]
        model = self._loader(Path(path))
        self.loads += 1
        self._items[key] = model
        self._evict(max(1, int(self._size())))
        return model

    def _evict(self, keep: int) -> None:
        evicted = False
        while len(self._items) > keep:
            self._items.popitem(last=False)
            evicted = True
        if evicted:
            gc.collect()
            if self._on_evict:
                self._on_evict()

    def clear(self) -> None:
        self._evict(0)

    def __len__(self) -> int:
        return len(self._items)

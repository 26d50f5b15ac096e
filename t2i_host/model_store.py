"""Where adapter files are, what they are, and a small cache of loaded adapters.

- Discovery: every ``.safetensors``/``.pth``/``.pt``/``.ckpt``/``.bin`` file (and folders holding a
  ``config.json``, such as diffusers adapter folders) under the given folders, recursively. Each is asked of the
  core (:func:`t2i_ext.loading.identify_adapter`): kind and family from tensor names and shapes, read from the
  safetensors header or the pickle's opcodes (interpreted, never executed) without loading any tensor, by the same
  detection rules the loader uses. Results are cached by path + size + mtime.
- Files that are not usable adapters never reach the model list: :meth:`ModelStore.unusable` maps each to the
  reason (broken, hostile, a link whose target is gone, a FIFO, another kind of model, a name that is not
  printable text…), and each is logged once, its path escaped (:func:`t2i_ext.sniff.printable`) so that a newline
  or an undecodable byte in a file name can neither split the log line nor break the JSON of the models route.
  Folders marked ``mixed`` (the WebUI's ``models/ControlNet``, shared with ControlNets) leave other kinds of
  models out silently: they are expected there. One bad entry never breaks the listing.
- Names: ``"<file stem> [<short hash>]"``, the short hash being the first 8 hex digits of the file's SHA-256
  (computed lazily, cached by path + size + mtime). Lookups accept the full title, the stem, the file name or
  the hash.
- :class:`AdapterCache`: an LRU of loaded adapters (size from a setting); evicted models are released.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t2i_ext.errors import AdapterLoadError, NotAnAdapterError
from t2i_ext.formats import diffusers_weights
from t2i_ext.loading import identify_adapter
from t2i_ext.nets.base import SD1, SDXL
from t2i_ext.sniff import error_reason, open_regular, os_reason, printable, read_config, special_file_reason

from .lru import LRU
from .unit_args import UnitArgsError

__all__ = ["SD1", "SDXL", "UNKNOWN", "AdapterCache", "ModelInfo", "ModelStore", "file_sha256", "sniff_adapter"]

LOG = logging.getLogger("t2i_adapter.model_store")
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".bin")
UNKNOWN = "?"
MAX_SCAN_ENTRIES = 200_000  # files and folders under one models folder; users' folders hold hundreds


@dataclass(frozen=True)
class ModelInfo:
    """One adapter file as listed in the panel and the API."""

    path: Path
    kind: str  # full, light, style, fuser
    base: str  # SD1 or SDXL
    folder: str  # the folder it was found in

    @property
    def stem(self) -> str:
        return self.path.stem if self.path.is_file() else self.path.name


@dataclass(frozen=True)
class _Verdict:
    """What one folder entry is: an adapter (kind, base), or the reason it is not usable."""

    kind: str = ""
    base: str = ""
    reason: str = ""
    foreign: bool = False  # another kind of model (expected in a mixed folder)


class ModelStore:
    """Adapter files under ``folders`` (``(path, mixed)`` pairs; ``mixed`` folders hold other models too)."""

    def __init__(self, folders: Iterable[tuple[str | os.PathLike, bool]] = ()) -> None:
        self.folders: list[tuple[Path, bool]] = [(Path(f), bool(m)) for f, m in folders]
        self._verdicts: dict[tuple, _Verdict] = {}
        self._hashes: dict[tuple, str] = {}
        self._logged: set[tuple[Path, str]] = set()
        self._models: dict[str, ModelInfo] | None = None
        self._unusable: dict[Path, str] = {}
        self._lock = threading.Lock()

    # -- discovery -------------------------------------------------------------------------------------------
    def refresh(self) -> dict[str, ModelInfo]:
        """Rescan the folders; returns ``{title: ModelInfo}`` sorted by title. Never raises for a folder entry."""
        found: dict[Path, ModelInfo] = {}
        unusable: dict[Path, str] = {}
        for folder, mixed in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(_candidates(folder)):
                if path in found or path in unusable:
                    continue
                verdict = self._verdict(path)
                if verdict.kind:
                    found[path] = ModelInfo(path, verdict.kind, verdict.base, str(folder))
                elif not (verdict.foreign and mixed):  # a ControlNet in the shared folder is no news
                    unusable[path] = verdict.reason
        models: dict[str, ModelInfo] = {}
        for path, info in found.items():
            try:
                models[self.title(info)] = info
            except AdapterLoadError as e:  # gone or unreadable since it was identified
                unusable[path] = error_reason(path, e)
        for path, reason in unusable.items():
            if (path, reason) not in self._logged:  # once per file and reason, not on every refresh
                self._logged.add((path, reason))
                LOG.warning("T2I-Adapter: skipped %s: %s", printable(path), printable(reason))
        with self._lock:
            self._models = dict(sorted(models.items(), key=lambda kv: kv[0].lower()))
            self._unusable = dict(sorted(unusable.items()))
            return dict(self._models)

    def models(self) -> dict[str, ModelInfo]:
        """The usable adapters, ``{title: ModelInfo}`` (scans on first use)."""
        if self._models is None:
            return self.refresh()
        return dict(self._models)

    def unusable(self) -> dict[Path, str]:
        """Files in the folders that look like model files but cannot be used, each with the reason (for a list)."""
        if self._models is None:
            self.refresh()
        return dict(self._unusable)

    def unusable_items(self) -> list[dict[str, str]]:
        """:meth:`unusable` as the models route lists it: ``[{"path", "reason"}]``, both printable text."""
        return [{"path": printable(path), "reason": printable(reason)} for path, reason in self.unusable().items()]

    def why_unusable(self, name: str) -> str | None:
        """The reason a file named ``name`` (stem or file name) is not listed, if it is one of :meth:`unusable`."""
        key = name.strip().lower()
        for path, reason in self.unusable().items():
            if key in (path.name.lower(), path.stem.lower()):
                return printable(f"{path.name}: {reason}")
        return None

    def title(self, info: ModelInfo) -> str:
        return f"{info.stem} [{self.short_hash(info.path)}]"

    def find(self, name: str, unit: int | None = None) -> ModelInfo | None:
        """A model by title, stem, file name or short hash; rescans once when not found. The one name resolver.

        The exact spelling wins; otherwise a case-insensitive match, only when one model answers to it. When several
        answer (``Canny.safetensors`` and ``canny.safetensors`` asked for as ``canny``; one stem in two folders),
        :class:`~t2i_host.unit_args.UnitArgsError` (field ``model``) lists their titles: picking one would silently
        use the wrong file. ``unit`` is the unit index the error names.
        """
        key = name.strip()
        for attempt in range(2):
            models = self.models() if attempt == 0 else self.refresh()
            for fold in (str, str.lower):  # exact spelling first, then any case
                hits = [info for title, info in models.items() if fold(key) in {fold(n) for n in _names(title, info)}]
                if len(hits) == 1:
                    return hits[0]
                if hits:
                    titles = ", ".join(self.title(info) for info in hits)
                    raise UnitArgsError(
                        f"'{printable(key)}' matches {len(hits)} adapter files: {titles}; send one of these titles "
                        "(or rename the files so their names differ by more than case)",
                        "model",
                        unit,
                    )
        return None

    # -- cheap inspection ---------------------------------------------------------------------------------------
    def sniff(self, path: Path) -> tuple[str, str] | None:
        """``(kind, base)`` if ``path`` is a usable adapter by its tensor names and shapes, else None. Cached."""
        verdict = self._verdict(Path(path))
        return (verdict.kind, verdict.base) if verdict.kind else None

    def _verdict(self, path: Path) -> _Verdict:
        key = _stat_key(path)
        cached = self._verdicts.get(key) if key else None
        if cached is None:
            cached = _inspect(path)
            if key:
                self._verdicts[key] = cached
        return cached

    def short_hash(self, path: Path) -> str:
        """First 8 hex digits of the file's SHA-256 (of the weights file for a diffusers folder). Cached."""
        key = _stat_key(path)
        if key is None:
            raise AdapterLoadError(f"{path.name}: {_entry_problem(path) or 'cannot be read.'}")
        if key not in self._hashes:
            self._hashes[key] = file_sha256(_weights_file(path))[:8]
        return self._hashes[key]


def _inspect(path: Path) -> _Verdict:
    problem = _entry_problem(path)
    if problem:
        return _Verdict(reason=problem)
    try:
        info = identify_adapter(path)
    except NotAnAdapterError as e:
        return _Verdict(reason=error_reason(path, e), foreign=True)
    except AdapterLoadError as e:
        return _Verdict(reason=error_reason(path, e))
    except Exception as e:  # a bug must not take the model list down; the line names the file and the error class
        return _Verdict(
            reason=f"could not be read ({type(e).__name__}); try loading it with python -m t2i_ext inspect."
        )
    if not str(path).isprintable():  # the title would carry it into the list, the infotext (one line) and JSON
        return _Verdict(
            reason="an adapter, but its name has a control character or bytes that are not UTF-8 text, so it cannot "
            "be listed or named in an infotext; rename the file"
        )
    return _Verdict(info.kind, info.base)


def _names(title: str, info: ModelInfo) -> set[str]:
    """What a model answers to: its title, stem, file name and short hash (bare or in brackets)."""
    h = title.rsplit("[", 1)[-1].rstrip("]")
    return {title, info.stem, info.path.name, h, f"[{h}]"}


def _entry_problem(path: Path) -> str | None:
    """Why a folder entry cannot even be looked at (a dangling or looping link, a FIFO, a device), else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return os_reason(path, e)
    if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
        return None
    return special_file_reason(mode)


def _stat_key(path: Path) -> tuple | None:
    """(path, size, mtime) of the entry, its weights file and config (for a folder); None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
        if not stat.S_ISDIR(st.st_mode):
            return (str(path), st.st_size, st.st_mtime_ns)
        parts: list[Any] = [str(path)]
        for part in (path / "config.json", diffusers_weights(path)):
            if part is not None and os.path.lexists(part):
                st = os.stat(part)
                parts += [st.st_size, st.st_mtime_ns]
        return tuple(parts)
    except OSError:
        return None


def _weights_file(path: Path) -> Path:
    return (diffusers_weights(path) or path) if path.is_dir() else path


def _candidates(folder: Path) -> Iterable[Path]:
    """Entries that may be adapters: weight-named files (links, FIFOs… included, to be reported), folders with a
    ``config.json`` (diffusers), folders named like weight files (reported). Folder links are not followed.

    At most :data:`MAX_SCAN_ENTRIES` entries are looked at per folder: a models-folder setting that points at a drive
    or home folder by mistake must not stall the panel and the start-up for minutes."""
    seen = 0
    for root, dirs, files in os.walk(folder):
        seen += len(dirs) + len(files)
        if seen > MAX_SCAN_ENTRIES:
            LOG.warning(
                "T2I-Adapter: stopped scanning %s after %s entries; point the models folder setting at the folder "
                "that holds the adapters",
                printable(folder),
                f"{MAX_SCAN_ENTRIES:,}",
            )
            return
        root_path = Path(root)
        if "config.json" in files and _is_diffusers_folder(root_path, files):
            dirs[:] = []
            yield root_path
            continue
        for name in list(dirs):
            if name.lower().endswith(WEIGHT_SUFFIXES):
                dirs.remove(name)
                yield root_path / name
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.lower().endswith(WEIGHT_SUFFIXES) and not name.startswith("diffusion_pytorch_model"):
                yield root_path / name


def _is_diffusers_folder(folder: Path, files: list[str]) -> bool:
    """A folder with diffusers weights (any class: the core says what it is), or a T2IAdapter config.json."""
    if any(name.startswith("diffusion_pytorch_model") for name in files):
        return True
    try:
        return read_config(folder / "config.json").get("_class_name") == "T2IAdapter"
    except AdapterLoadError:
        return False


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open_regular(Path(path)) as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sniff_adapter(path: Path) -> tuple[str, str] | None:
    """``(kind, base)`` of an adapter file or folder from its tensor names and shapes; None when it is not one."""
    try:
        info = identify_adapter(path)
    except AdapterLoadError:
        return None
    return info.kind, info.base


# -- loaded adapters ---------------------------------------------------------------------------------------------------
class AdapterCache:
    """LRU of loaded adapters keyed by ``(path, size, mtime, dtype)``; ``size`` is read on every use (a setting).

    An adapter whose file changed or went away since it was loaded is evicted first; every eviction runs ``gc`` and
    ``on_evict`` (the host frees device memory)."""

    def __init__(
        self,
        loader: Callable[[Path], Any],
        size: Callable[[], int] | int = 2,
        on_evict: Callable[[], None] | None = None,
    ) -> None:
        limit = size if callable(size) else (lambda: size)

        def released() -> None:
            gc.collect()
            if on_evict:
                on_evict()

        self._loader = loader
        self._lru: LRU[tuple, Any] = LRU(
            lambda: max(1, int(limit())), stale=lambda key: _stat_key(Path(key[0][0])) != key[0], on_evict=released
        )

    @property
    def loads(self) -> int:
        return self._lru.misses

    def get(self, path: Path, tag: Any = None) -> Any:
        path = Path(path)
        stat_key = _stat_key(path)
        if stat_key is None:  # deleted or broken since it was listed
            raise AdapterLoadError(f"{path.name}: {_entry_problem(path) or 'cannot be read.'} Refresh the model list.")
        return self._lru.get_or_create((stat_key, tag), lambda: self._loader(path))

    def clear(self) -> None:
        self._lru.clear()

    def __len__(self) -> int:
        return len(self._lru)

"""What a weights file holds — tensor names, shapes, dtypes — read without loading a tensor or running pickled code.

The loader and the model store both start here, so a hostile or broken file is refused the same way by both:

- Only regular files are opened (a FIFO, a device or a folder is refused before any read can block).
- safetensors: the JSON header is bounded (:data:`MAX_HEADER_BYTES`, :data:`MAX_TENSORS`) and every entry is
  checked (dtype, shape, ``data_offsets`` inside the file) before anything trusts it.
- Pickles (torch zip archives and the legacy format): the zip's declared sizes are checked against the file
  before any entry is unpacked (zip bombs), then the pickle's opcodes are *interpreted symbolically* with
  ``pickletools`` — globals are names, calls are records, nothing is imported or executed. Only the globals
  torch writes for tensors are allowed; any other is named in the refusal.

Work is bounded by bytes and opcodes read, so the time and memory spent on a file are bounded by its real content.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import pickle
import pickletools
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import torch

from .errors import AdapterLoadError, UnsafePickleError

try:  # POSIX only; on Windows a models folder holds no FIFOs to fear and files open in binary mode
    import fcntl
except ImportError:
    fcntl = None
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

MAX_HEADER_BYTES = 4 << 20  # a safetensors header: ~10 KB for an adapter, ~300 KB for an SDXL checkpoint
MAX_TENSORS = 50_000  # entries of one file (an SDXL checkpoint has ~2,500)
MAX_NDIM = 8
MAX_PICKLE_BYTES = 16 << 20  # a state dict's pickle: ~10 KB for an adapter, ~300 KB for a checkpoint
MAX_PICKLE_OPS = 1_000_000
MAX_ZIP_ENTRIES = 100_000
ZIP_UNPACK_RATIO = 4  # all entries together may unpack to at most this many times the file (torch stores them)
MAX_CONFIG_BYTES = 1 << 20

SAFETENSORS_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U64": torch.uint64,
    "U32": torch.uint32,
    "U16": torch.uint16,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
# torch.<Name>Storage, as torch.save writes it into a pickle
_STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "DoubleStorage": torch.float64,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
    "ComplexFloatStorage": torch.complex64,
    "ComplexDoubleStorage": torch.complex128,
    "UntypedStorage": torch.uint8,
}
_TENSOR_REBUILDERS = {"torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor"}
_PARAMETER_REBUILDERS = {
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch.nn.parameter.Parameter",
}
# What torch.save writes for a (nested) dict of tensors; torch.load(weights_only=True) allows these too.
ALLOWED_GLOBALS = frozenset(
    {
        *_TENSOR_REBUILDERS,
        *_PARAMETER_REBUILDERS,
        "torch._tensor._rebuild_from_type_v2",
        "torch.Tensor",
        "torch.Size",
        "torch.device",
        "collections.OrderedDict",
        "builtins.set",
        "builtins.frozenset",
        "builtins.bytearray",
        "_codecs.encode",
        *(f"torch.{name}" for name in _STORAGE_DTYPES),
        "torch.storage.UntypedStorage",
        *(f"torch.{str(d).removeprefix('torch.')}" for d in (*_STORAGE_DTYPES.values(), torch.float8_e4m3fn)),
    }
)
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


@dataclass(frozen=True)
class TensorInfo:
    """A tensor's metadata, standing in for the tensor where only names and shapes are needed."""

    shape: tuple[int, ...]
    dtype: torch.dtype

    def numel(self) -> int:
        return math.prod(self.shape)


# -- opening -----------------------------------------------------------------------------------------------------------
def open_regular(path: Path) -> BinaryIO:
    """Open ``path`` for reading only if it is a regular file (following links); never opens a FIFO or device."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise AdapterLoadError(f"{path.name}: {special_file_reason(mode)}")
        # O_NONBLOCK and fstat: should it have been swapped for a FIFO since, opening it still cannot hang
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as e:
        raise AdapterLoadError(f"{path.name}: {os_reason(path, e)}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise AdapterLoadError(f"{path.name}: {special_file_reason(mode)}")
        if fcntl is not None:  # back to blocking reads for the regular file
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def os_reason(path: Path, e: OSError) -> str:
    """Why ``path`` cannot be opened, in words (no raw OS text, which may quote other paths)."""
    if e.errno == errno.ENOENT:
        if os.path.islink(path):
            return "a link whose target is missing (moved or on a drive that is not mounted); fix or remove the link."
        return "no such file."
    if e.errno == errno.ELOOP:
        return "a symbolic link that points back to itself (a loop); fix or remove the link."
    if e.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read (permission denied); check the file's owner and permissions."
    return f"cannot be read ({errno.errorcode.get(e.errno or 0, 'I/O error')}); check the file and its drive."


def error_reason(path: Path, error: Exception) -> str:
    """An error's message without the file name it starts with, for callers that name the file themselves."""
    message = str(error)
    for prefix in (f"{path}: ", f"{path.name}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def special_file_reason(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder, not a weights file (a diffusers adapter folder holds config.json and its weights)."
    what = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{what}, not a regular file; never read."


def file_size(f: BinaryIO) -> int:
    return os.fstat(f.fileno()).st_size


def container(f: BinaryIO, name: str) -> str:
    """``"safetensors"``, ``"zip"`` (torch's archive) or ``"pickle"`` (legacy torch.save), from the first bytes."""
    f.seek(0)
    head = f.read(16)
    f.seek(0)
    if not head:
        raise AdapterLoadError(f"{name}: the file is empty. Download it again.")
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head[:1] == b"\x80":
        return "pickle"
    head = f.read(512)
    f.seek(0)
    raise AdapterLoadError(f"{name}: {not_weights(head)}")


#: file signatures of what people pick by mistake instead of a weights file
_IMAGE_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF8", "GIF"))


def not_weights(head: bytes) -> str:
    """What a file that is no weights file is, from its first bytes, and what to do: the message names what the
    user gave (an image, a web page, a text file) instead of guessing at a broken download."""
    kind = next((k for sig, k in _IMAGE_SIGNATURES if head.startswith(sig)), None)
    if kind is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        kind = "WebP"
    if kind:
        return f"this is a {kind} image, not model weights; choose the model's .safetensors (or .pth/.ckpt) file."
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return (
            "this is an HTML web page, not model weights (a page saved in place of the download?); download the "
            "file itself from the model's page."
        )
    if text.startswith(b"version https://git-lfs"):
        return "this is a Git LFS pointer, not the weights; download the file itself (git lfs pull, or the model page)."
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError as e:  # a multi-byte character cut by the 512-byte window still counts as text
        decoded = head[: e.start].decode("utf-8") if e.start >= len(head) - 3 else None
    if decoded is not None and decoded.strip() and all(c.isprintable() or c in "\t\r\n" for c in decoded):
        return "this file is text, not model weights; choose the model's .safetensors (or .pth/.ckpt) file."
    return (
        "not a PyTorch or safetensors weights file (it starts with neither a safetensors header nor a pickle or "
        "zip signature): an incomplete download or another kind of file; download the file again."
    )


# -- safetensors -------------------------------------------------------------------------------------------------------
def safetensors_header(f: BinaryIO, name: str, strict: bool) -> dict[str, TensorInfo]:
    """Tensor name → :class:`TensorInfo` from a safetensors header, every entry checked against the file.

    ``strict`` (before loading the tensors) also requires each entry's byte range to hold exactly its shape.
    """
    size = file_size(f)
    f.seek(0)
    head = f.read(8)
    corrupt = f"{name}: the safetensors file is truncated or corrupt"
    if len(head) < 8:
        raise AdapterLoadError(f"{corrupt} (shorter than its 8-byte header length). Download it again.")
    (n,) = struct.unpack("<Q", head)
    if n > size - 8:
        raise AdapterLoadError(f"{corrupt} (its header claims {n:,} bytes, the file has {size:,}). Download it again.")
    if n > MAX_HEADER_BYTES:
        raise AdapterLoadError(
            f"{name}: a safetensors header of {n / 2**20:.1f} MiB, larger than any model's "
            f"(limit {MAX_HEADER_BYTES >> 20} MiB): refused, not an adapter."
        )
    try:
        header = json.loads(f.read(n))
    except (ValueError, RecursionError):  # includes UnicodeDecodeError
        raise AdapterLoadError(f"{corrupt} (its header is not valid JSON). Download it again.") from None
    if not isinstance(header, dict):
        raise AdapterLoadError(f"{corrupt} (its header is not a JSON object). Download it again.")
    header.pop("__metadata__", None)
    if len(header) > MAX_TENSORS:
        raise AdapterLoadError(f"{name}: holds {len(header):,} tensors (limit {MAX_TENSORS:,}): not an adapter.")
    data_len = size - 8 - n
    out = {}
    for key, entry in header.items():
        problem = _entry_problem(entry, data_len, strict)
        if problem:
            raise AdapterLoadError(f"{corrupt} (tensor {show_name(key)}: {problem}). Download it again.")
        out[key] = TensorInfo(tuple(entry["shape"]), SAFETENSORS_DTYPES[entry["dtype"]])
    return out


def _entry_problem(entry: Any, data_len: int, strict: bool) -> str | None:
    if not isinstance(entry, dict):
        return "not a tensor entry"
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPES:
        return "unknown dtype"
    if not isinstance(shape, list) or len(shape) > MAX_NDIM or not all(_is_count(d) for d in shape):
        return "shape is not a list of sizes"
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
        return "data_offsets is not a [begin, end] pair"
    begin, end = offsets
    if not begin <= end <= data_len:
        return f"data_offsets [{begin}, {end}] lie outside the file's {data_len:,} data bytes"
    if strict and math.prod(shape) * SAFETENSORS_DTYPES[dtype].itemsize != end - begin:
        return f"shape {tuple(shape)} does not fit its {end - begin:,} bytes"
    if not strict and any(d >= 1 << 40 for d in shape):
        return "absurd shape"
    return None


def _is_count(x: Any) -> bool:
    return type(x) is int and x >= 0


# -- pickles -----------------------------------------------------------------------------------------------------------
def pickle_contents(f: BinaryIO, name: str, kind: str) -> Any:
    """The object a torch pickle (``kind`` ``"zip"`` or ``"pickle"``) holds, tensors as :class:`TensorInfo`."""
    size = file_size(f)
    if kind == "zip":
        return _Interpreter(name, size).run(io.BytesIO(_zip_pickle(f, name, size)))
    # legacy torch.save: magic number, protocol, system info, then the object (then storage keys and data)
    data = io.BytesIO(f.read(MAX_PICKLE_BYTES))
    interpreter = _Interpreter(name, size)
    cut = size > MAX_PICKLE_BYTES
    if interpreter.run(data, cut) != _LEGACY_MAGIC:
        raise AdapterLoadError(f"{name}: a pickle, but not one written by torch.save; not an adapter file.")
    for _ in range(2):
        interpreter.run(data, cut)
    return interpreter.run(data, cut)


def _zip_pickle(f: BinaryIO, name: str, size: int) -> bytes:
    """``data.pkl`` of a torch zip archive, after checking every entry's declared sizes against the file."""
    corrupt = f"{name}: the file is truncated or corrupt"
    try:
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
        raise AdapterLoadError(f"{corrupt} (not a readable zip archive). Download it again.") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise AdapterLoadError(f"{name}: a zip archive of {len(entries):,} entries: not an adapter.")
        unpacked = 0
        for entry in entries:
            if entry.header_offset + entry.compress_size > size:
                raise AdapterLoadError(f"{corrupt} (an entry lies beyond the end of the file). Download it again.")
            unpacked += entry.file_size
        if unpacked > ZIP_UNPACK_RATIO * size + (1 << 20):
            raise AdapterLoadError(
                f"{name}: refused: its zip entries would unpack to {unpacked / 2**20:,.0f} MiB from a "
                f"{size / 2**20:,.1f} MiB file (a zip bomb; torch.save never compresses)."
            )
        pickles = [e for e in entries if e.filename.endswith("data.pkl") and e.filename.count("/") == 1]
        if len(pickles) != 1:
            raise AdapterLoadError(f"{name}: a zip archive, but not one written by torch.save; not an adapter file.")
        if pickles[0].file_size > MAX_PICKLE_BYTES:
            raise AdapterLoadError(f"{name}: a pickle of {pickles[0].file_size:,} bytes, too large for a state dict.")
        try:
            return archive.read(pickles[0])  # bounded by the declared size checked above
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
            raise AdapterLoadError(f"{corrupt} (its data.pkl cannot be unpacked). Download it again.") from None


@dataclass(frozen=True)
class _Global:
    name: str


@dataclass(frozen=True)
class _Storage:
    dtype: torch.dtype


@dataclass(frozen=True)
class _Opaque:
    """The result of calling an allowed global that is not a tensor (``torch.Size``, ``torch.device``, …)."""

    name: str


_MARK = object()


class _Interpreter:
    """Runs a pickle's opcodes on a stack of plain values, never importing or calling anything.

    Globals stay names; a call to a tensor-rebuild function becomes a :class:`TensorInfo`; a global outside
    :data:`ALLOWED_GLOBALS` stops the run with its name. Memory is bounded by the opcodes read (shared references
    stay shared, nothing is copied).
    """

    def __init__(self, name: str, size: int) -> None:
        self.name, self.size = name, size
        self.ops = 0

    def run(self, stream: io.BytesIO, cut: bool = False) -> Any:
        stack: list[Any] = []
        memo: dict[int, Any] = {}
        try:
            for op, arg, _ in pickletools.genops(stream):
                self.ops += 1
                if self.ops > MAX_PICKLE_OPS:
                    raise AdapterLoadError(
                        f"{self.name}: a pickle of over {MAX_PICKLE_OPS:,} operations: not a state dict."
                    )
                if op.name == "STOP":
                    return stack.pop()
                self._step(op.name, arg, stack, memo)
        except AdapterLoadError:
            raise
        except Exception:  # pickletools' ValueError on truncation, IndexError/TypeError on a malformed stack, …
            pass
        if cut:
            raise AdapterLoadError(f"{self.name}: a pickle larger than {MAX_PICKLE_BYTES >> 20} MiB: not a state dict.")
        raise AdapterLoadError(f"{self.name}: the file is truncated or corrupt (a damaged pickle). Download it again.")

    def _step(self, op: str, arg: Any, stack: list[Any], memo: dict[int, Any]) -> None:
        if op in _PUSH_ARG:
            stack.append(b"" if isinstance(arg, (bytes, bytearray)) else arg)
        elif op in _CONSTANTS:
            stack.append(_CONSTANTS[op])
        elif op == "PROTO":
            if not 0 <= arg <= pickle.HIGHEST_PROTOCOL:
                raise TypeError("protocol")
        elif op == "FRAME":
            pass
        elif op == "MARK":
            stack.append(_MARK)
        elif op == "POP":
            stack.pop()
        elif op == "POP_MARK":
            _pop_mark(stack)
        elif op == "DUP":
            stack.append(stack[-1])
        elif op == "EMPTY_LIST":
            stack.append([])
        elif op == "EMPTY_DICT":
            stack.append({})
        elif op in ("EMPTY_SET", "EMPTY_TUPLE"):
            stack.append(() if op == "EMPTY_TUPLE" else set())
        elif op in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(op[-1])
            items = tuple(stack[-n:])
            del stack[-n:]
            stack.append(items)
        elif op == "TUPLE":
            stack.append(tuple(_pop_mark(stack)))
        elif op == "LIST":
            stack.append(_pop_mark(stack))
        elif op == "DICT":
            items = _pop_mark(stack)
            stack.append(dict(zip(items[::2], items[1::2])))
        elif op == "FROZENSET":
            stack.append(frozenset(_pop_mark(stack)))
        elif op == "APPEND":
            value = stack.pop()
            _as(stack[-1], list).append(value)
        elif op == "APPENDS":
            items = _pop_mark(stack)
            _as(stack[-1], list).extend(items)
        elif op == "SETITEM":
            value, key = stack.pop(), stack.pop()
            _as(stack[-1], dict)[key] = value
        elif op == "SETITEMS":
            items = _pop_mark(stack)
            _as(stack[-1], dict).update(zip(items[::2], items[1::2]))
        elif op == "ADDITEMS":
            items = _pop_mark(stack)
            _as(stack[-1], set).update(items)
        elif op in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[int(arg)] = stack[-1]
        elif op == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif op in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo[int(arg)])
        elif op == "GLOBAL":
            stack.append(self._global(*arg.split(" ", 1)))
        elif op == "STACK_GLOBAL":
            name, module = stack.pop(), stack.pop()
            stack.append(self._global(_as(module, str), _as(name, str)))
        elif op in ("REDUCE", "NEWOBJ"):
            args, func = stack.pop(), stack.pop()
            stack.append(self._call(func, _as(args, tuple)))
        elif op == "NEWOBJ_EX":
            _kwargs, args, func = stack.pop(), stack.pop(), stack.pop()
            stack.append(self._call(func, _as(args, tuple)))
        elif op == "BUILD":
            stack.pop()  # the state set on an object: tensors' hooks and attributes, nothing a name or shape needs
        elif op in ("PERSID", "BINPERSID"):
            pid = arg if op == "PERSID" else stack.pop()
            stack.append(self._storage(pid))
        elif op in ("INST", "OBJ"):
            target = arg.replace(" ", ".") if isinstance(arg, str) else "a class named on the stack"
            self._refuse(target)
        elif op in ("EXT1", "EXT2", "EXT4"):
            self._refuse("copyreg's extension registry")
        else:
            raise AdapterLoadError(
                f"{self.name}: a pickle with an operation ({op}) no state dict uses: not an adapter."
            )

    def _global(self, module: str, name: str) -> _Global:
        full = f"{module}.{name}"
        if full not in ALLOWED_GLOBALS:
            self._refuse(full)
        return _Global(full)

    def _refuse(self, target: str) -> None:
        module, _, rest = target.partition(".")
        shown = show_name(f"os.{rest}" if module in ("posix", "nt") else target)  # os.system pickles as posix.system
        raise UnsafePickleError(
            f"{self.name}: a pickle that tries to run code ({shown}), refused to load. Adapter files hold "
            "only tensors and no code from a model file is ever run: get a .safetensors copy of this adapter.",
            shown,
        )

    def _call(self, func: Any, args: tuple) -> Any:
        name = _as(func, _Global).name
        if name in _TENSOR_REBUILDERS:
            storage, size = _as(args[0], _Storage), _as(args[2], tuple)
            if len(size) > MAX_NDIM or not all(_is_count(d) for d in size):
                raise TypeError("tensor size")
            return TensorInfo(size, storage.dtype)
        if name in _PARAMETER_REBUILDERS:
            return _as(args[0], TensorInfo)
        if name == "torch._tensor._rebuild_from_type_v2":
            return self._call(args[0], _as(args[2], tuple))
        if name == "collections.OrderedDict":
            return {}
        if name in ("builtins.set", "builtins.frozenset"):
            return set()
        return _Opaque(name)

    def _storage(self, pid: Any) -> _Storage:
        # ("storage", torch.<Type>Storage, key, location, numel[, view metadata])
        pid = _as(pid, tuple)
        if len(pid) < 5 or pid[0] != "storage":
            raise TypeError("persistent id")
        type_name = _as(pid[1], _Global).name.rsplit(".", 1)[-1]
        dtype = _STORAGE_DTYPES.get(type_name, torch.uint8)
        numel = pid[4]
        if not _is_count(numel):
            raise TypeError("storage size")
        if numel * dtype.itemsize > self.size:
            raise AdapterLoadError(
                f"{self.name}: the file is truncated or corrupt (a tensor declares {numel * dtype.itemsize:,} bytes, "
                f"the file has {self.size:,}). Download it again."
            )
        return _Storage(dtype)


_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_PUSH_ARG = {
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8",
}  # fmt: skip


def _pop_mark(stack: list[Any]) -> list[Any]:
    i = len(stack) - 1 - stack[::-1].index(_MARK)
    items = stack[i + 1 :]
    del stack[i:]
    return items


def _as(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise TypeError(kind.__name__)
    return value


# -- small helpers -----------------------------------------------------------------------------------------------------
def read_config(path: Path) -> dict[str, Any]:
    """A diffusers ``config.json``: a bounded read of a regular file that must hold a JSON object."""
    with open_regular(path) as f:
        text = f.read(MAX_CONFIG_BYTES + 1)
    if len(text) > MAX_CONFIG_BYTES:
        raise AdapterLoadError(f"{path}: over {MAX_CONFIG_BYTES >> 20} MiB, not a diffusers config.")
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError says where, never what
        where = f"line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else "nested too deeply"
        raise AdapterLoadError(f"{path}: not valid JSON ({where}).") from None
    if not isinstance(config, dict):
        raise AdapterLoadError(f"{path}: holds a JSON {type(config).__name__}, not an object: not a diffusers config.")
    return config


def printable(text: Any) -> str:
    """``text`` safe for one log line, a JSON string or a label: control characters (a newline in a file name) and
    undecodable bytes (surrogate escapes from a non-UTF-8 file name) written as escapes; other letters kept."""
    text = str(text)
    return text if text.isprintable() else "".join(map(_printable_char, text))


def _printable_char(c: str) -> str:
    if c.isprintable():
        return c
    if "\udc80" <= c <= "\udcff":  # os.fsdecode's escape of an undecodable byte: show the byte
        return f"\\x{ord(c) - 0xDC00:02x}"
    return ascii(c)[1:-1]


def show_name(name: Any, limit: int = 60) -> str:
    """A tensor or global name from a file, safe to show: printable ASCII, shortened."""
    text = ascii(str(name))[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"

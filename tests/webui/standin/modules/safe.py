"""Mirrors the rules of modules/safe.py@v1.10.1 (AUTOMATIC1111/stable-diffusion-webui, commit 82a973c0), in our
words: importing it (modules/paths.py does, first thing) replaces ``torch.load`` for the whole process.

What an extension can observe:
- ``torch.load(f, ...)`` first checks the file, then calls the original ``torch.load`` (``unsafe_torch_load``) with
  the same arguments. A file that fails the check is not loaded: the error is reported (``errors.report``) and
  ``torch.load`` **returns None** instead of raising.
- A zip archive (torch's format since 1.6) passes only if every entry name is ``<dir>/data.pkl``, ``<dir>/version``,
  ``<dir>/byteorder``, ``<dir>/data/<digits>`` or ``<dir>/<any char>data/serialization_id``
  (the ``allowed_zip_names_re`` regex), and exactly one ``data.pkl`` exists. torch 2.x also writes
  ``<dir>/.format_version`` and ``<dir>/.storage_alignment``, so everything it saves is refused.
- The pickle is then run through a restricted unpickler: only ``collections.OrderedDict``; ``torch._utils``
  ``_rebuild_tensor_v2``/``_rebuild_parameter``/``_rebuild_device_tensor_from_numpy``; the storages ``torch.Float/
  Half/Int/Long/Double/Byte/BFloat16Storage`` and ``torch.float32``; ``torch.nn.modules.container.ParameterDict``;
  ``numpy.core.multiarray.scalar``/``_reconstruct``; ``numpy.dtype``/``ndarray``; ``_codecs.encode``; PyTorch
  Lightning's ``ModelCheckpoint``; ``__builtin__.set``. Any other global is refused. Persistent ids must be
  ``storage`` ones (their data is not read by the check).
- A file that is not a zip is the legacy format: five pickles in a row, each through the same unpickler.
- ``--disable-safe-unpickle`` skips the check.
"""

from __future__ import annotations

import collections
import pickle
import re
import zipfile

import torch

from modules import errors

ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_device_tensor_from_numpy"),
    *(("torch", n) for n in ("FloatStorage", "HalfStorage", "IntStorage", "LongStorage", "DoubleStorage",
                             "ByteStorage", "float32", "BFloat16Storage")),
    ("torch.nn.modules.container", "ParameterDict"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("_codecs", "encode"),
    ("__builtin__", "set"),
}
ZIP_ENTRY = re.compile(r"^([^/]+)/((data/\d+)|version|byteorder|.data/serialization_id|(data\.pkl))$")
DATA_PKL = re.compile(r"^([^/]+)/data\.pkl$")


class _CheckingUnpickler(pickle.Unpickler):
    def persistent_load(self, saved_id):
        if saved_id[0] != "storage":
            raise pickle.UnpicklingError("persistent id is not a storage")
        return torch.UntypedStorage(0)  # a placeholder: the check never reads tensor data

    def find_class(self, module, name):
        if (module, name) not in ALLOWED_GLOBALS:
            raise Exception(f"global '{module}/{name}' is forbidden")
        if module == "__builtin__":
            return set
        if module == "collections":
            return collections.OrderedDict
        return super().find_class(module, name)


def _check(f) -> None:
    try:
        with zipfile.ZipFile(f) as z:
            names = z.namelist()
            for n in names:
                if not ZIP_ENTRY.match(n):
                    raise Exception(f"bad file inside {f}: {n}")
            pkls = [n for n in names if DATA_PKL.match(n)]
            if len(pkls) != 1:
                raise Exception(f"{len(pkls)} data.pkl found in {f}")
            with z.open(pkls[0]) as data:
                _CheckingUnpickler(data).load()
    except zipfile.BadZipFile:
        if hasattr(f, "seek"):
            f.seek(0)
        opened = open(f, "rb") if not hasattr(f, "read") else f  # noqa: SIM115
        unpickler = _CheckingUnpickler(opened)
        for _ in range(5):
            unpickler.load()
    finally:
        if hasattr(f, "seek"):
            f.seek(0)


def load(f, *args, **kwargs):
    from modules import shared

    try:
        if not getattr(shared.cmd_opts, "disable_safe_unpickle", False):
            _check(f)
    except Exception:
        errors.report(f"Error verifying pickled file from {f}\nThe file may be malicious, so the program is not "
                      "going to read it.", exc_info=True)
        return None
    return unsafe_torch_load(f, *args, **kwargs)


unsafe_torch_load = torch.serialization.load  # the original, even when a previous stand-in session patched torch.load
torch.load = load

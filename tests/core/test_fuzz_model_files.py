"""Property: whatever bytes a weights file holds, reading it (load_adapter, read_weights, identify_adapter) ends in
success or the project's own AdapterLoadError, in bounded time."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from hypothesis import given

import t2i_ext
from t2i_ext import AdapterLoadError
from t2i_ext.formats import read_weights
from t2i_ext.loading import identify_adapter

from .fuzz_files import FUZZ, coherent_safetensors_files, mutated, safetensors_files, tiny_legacy_pth

LEGACY = tiny_legacy_pth()


def only_adapter_errors(blob: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(blob)
        for read in (identify_adapter, read_weights, t2i_ext.load_adapter):
            start = time.perf_counter()
            try:
                read(path)
            except AdapterLoadError:
                pass
            assert time.perf_counter() - start < 5, read.__name__


@FUZZ
@given(safetensors_files())
def test_random_safetensors_headers_end_in_adapter_errors(blob):
    only_adapter_errors(blob, ".safetensors")


@FUZZ
@given(coherent_safetensors_files())
def test_well_formed_files_with_random_shapes_end_in_adapter_errors(blob):
    only_adapter_errors(blob, ".safetensors")


@FUZZ
@given(mutated(LEGACY))
def test_damaged_pickles_end_in_adapter_errors(blob):
    only_adapter_errors(blob, ".pth")

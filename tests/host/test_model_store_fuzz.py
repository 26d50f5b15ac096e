"""Property: whatever one file in a models folder holds, the scan lists the good adapter beside it and never raises
(the store asks the core's bounded sniffing; see tests/core/test_fuzz_model_files.py)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import save_file

from t2i_ext.nets import FullAdapter
from t2i_host.model_store import ModelStore
from tests.core.fuzz_files import FUZZ, coherent_safetensors_files, mutated, safetensors_files, tiny_legacy_pth

GOOD = FullAdapter(1, (8, 16, 32, 32)).state_dict()
FILES = st.one_of(
    safetensors_files().map(lambda b: ("fuzz.safetensors", b)),
    coherent_safetensors_files().map(lambda b: ("fuzz.safetensors", b)),
    mutated(tiny_legacy_pth()).map(lambda b: ("fuzz.pth", b)),
)


@FUZZ
@given(FILES, st.booleans())
def test_one_hostile_file_never_breaks_the_listing(named_blob, mixed):
    name, blob = named_blob
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        save_file(GOOD, str(folder / "good.safetensors"))
        (folder / name).write_bytes(blob)
        store = ModelStore([(folder, mixed)])
        start = time.perf_counter()
        models = store.refresh()
        assert time.perf_counter() - start < 5
        assert "good" in {info.stem for info in models.values()}
        listed = {info.path.name for info in models.values()}
        unusable = {path.name for path in store.unusable()}
        assert not (listed & unusable)
        if not mixed:  # in an own folder every entry is either listed or explained
            assert name in listed | unusable

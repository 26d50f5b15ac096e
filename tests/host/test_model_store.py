"""Model discovery across folders, adapters told from ControlNets by tensor names, short hashes, the LRU."""

import hashlib
import json
import struct
from pathlib import Path

import pytest
import torch

from t2i_host.model_store import AdapterCache, ModelStore, sniff_adapter
from t2i_host.unit_args import UnitArgsError


def fake_safetensors(path: Path, shapes: dict) -> Path:
    """A safetensors header with these tensor shapes (no data: discovery reads only the header)."""
    header = {k: {"dtype": "F16", "shape": list(v), "data_offsets": [0, 0]} for k, v in shapes.items()}
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    return path


FULL_SD1 = {"conv_in.weight": (320, 192, 3, 3), "body.0.block1.weight": (320, 320, 3, 3)}
FULL_XL = {"adapter.conv_in.weight": (320, 768, 3, 3), "adapter.body.0.resnets.0.block1.weight": (320, 320, 3, 3)}
CONTROLNET = {"input_hint_block.0.weight": (16, 3, 3, 3), "zero_convs.0.0.weight": (320, 320, 1, 1)}


def test_discovery_lists_adapters_and_skips_other_files_in_the_shared_controlnet_folder(tmp_path):
    own, shared = tmp_path / "T2I-Adapter", tmp_path / "ControlNet"
    fake_safetensors(own / "t2iadapter_canny_sd15v2.safetensors", FULL_SD1)
    fake_safetensors(own / "sub" / "t2i-adapter-xl.safetensors", FULL_XL)
    fake_safetensors(shared / "control_v11p_canny.safetensors", CONTROLNET)
    fake_safetensors(shared / "t2iadapter_style.safetensors", {"style_embedding": (1, 8, 1024), "proj": (1024, 768)})
    (shared / "notes.txt").write_text("not a model")
    store = ModelStore([(own, False), (shared, True), (tmp_path / "missing", False)])
    models = store.refresh()
    kinds = {info.stem: (info.kind, info.base) for info in models.values()}
    assert kinds == {
        "t2iadapter_canny_sd15v2": ("full", "SD1"),
        "t2i-adapter-xl": ("full", "SDXL"),
        "t2iadapter_style": ("style", "SD1"),
    }
    title = next(t for t in models if t.startswith("t2iadapter_canny"))
    digest = hashlib.sha256((own / "t2iadapter_canny_sd15v2.safetensors").read_bytes()).hexdigest()[:8]
    assert title == f"t2iadapter_canny_sd15v2 [{digest}]"
    for name in (title, "t2iadapter_canny_sd15v2", "t2iadapter_canny_sd15v2.safetensors", digest):
        assert store.find(name).stem == "t2iadapter_canny_sd15v2"
    assert store.find("nothing") is None


def test_pth_files_are_read_from_pickle_opcodes_without_loading(tmp_path):
    path = tmp_path / "t2iadapter_sketch_sd14v1.pth"
    torch.save({"conv_in.weight": torch.zeros(320, 64, 3, 3), "body.0.block1.weight": torch.zeros(1)}, path)
    assert sniff_adapter(path) == ("full", "SD1")
    cn = tmp_path / "control.pth"
    torch.save({"control_model.input_hint_block.0.weight": torch.zeros(1)}, cn)
    assert sniff_adapter(cn) is None


def test_sniff_results_and_hashes_are_cached_by_path_size_and_mtime(tmp_path):
    path = fake_safetensors(tmp_path / "a.safetensors", FULL_SD1)
    store = ModelStore([(tmp_path, False)])
    first = store.short_hash(path)
    assert store.short_hash(path) == first and len(store._hashes) == 1
    fake_safetensors(path, {**FULL_SD1, "extra": (1,)})
    assert store.short_hash(path) != first


def test_lru_keeps_the_configured_number_and_evicts_the_oldest(tmp_path):
    paths = [fake_safetensors(tmp_path / f"{i}.safetensors", FULL_SD1) for i in range(3)]
    loaded, evictions = [], []
    size = {"n": 2}
    cache = AdapterCache(
        lambda p: loaded.append(p.name) or object(), size=lambda: size["n"], on_evict=lambda: evictions.append(1)
    )
    a = cache.get(paths[0])
    cache.get(paths[1])
    assert cache.get(paths[0]) is a and cache.loads == 2  # hit, and 0 becomes the most recent
    cache.get(paths[2])  # evicts 1, the least recently used
    assert len(cache) == 2 and evictions
    cache.get(paths[0])
    assert cache.loads == 3
    cache.get(paths[1])
    assert cache.loads == 4 and loaded[-1] == "1.safetensors"
    size["n"] = 1
    cache.get(paths[1])
    assert len(cache) == 1


def test_a_name_resolves_to_its_exact_spelling_first_and_never_to_a_case_twin(tmp_path):
    upper = fake_safetensors(tmp_path / "Canny.safetensors", FULL_SD1)
    lower = fake_safetensors(tmp_path / "canny.safetensors", {**FULL_SD1, "body.1.block1.weight": (320, 320, 3, 3)})
    store = ModelStore([(tmp_path, False)])
    assert len(store.refresh()) == 2
    assert store.find("canny").path == lower and store.find("Canny").path == upper
    assert store.find("canny.safetensors").path == lower and store.find("Canny.safetensors").path == upper
    with pytest.raises(UnitArgsError, match="'CANNY' matches 2 adapter files: ") as info:
        store.find("CANNY")
    assert info.value.field == "model"
    assert all(store.title(store.find(n)) in str(info.value) for n in ("canny", "Canny"))


def test_a_case_insensitive_name_still_finds_a_unique_model(tmp_path):
    fake_safetensors(tmp_path / "t2iadapter_Canny.safetensors", FULL_SD1)
    store = ModelStore([(tmp_path, False)])
    assert store.find("T2IADAPTER_CANNY").stem == "t2iadapter_Canny"
    title = next(iter(store.models()))
    assert store.find(title.upper().replace("T2IADAPTER_CANNY", "t2iadapter_canny")).stem == "t2iadapter_Canny"


def test_one_name_in_two_folders_is_an_error_listing_both(tmp_path):
    fake_safetensors(tmp_path / "a" / "sketch.safetensors", FULL_SD1)
    fake_safetensors(tmp_path / "b" / "sketch.safetensors", {**FULL_SD1, "body.1.block1.weight": (320, 320, 3, 3)})
    store = ModelStore([(tmp_path / "a", False), (tmp_path / "b", False)])
    with pytest.raises(UnitArgsError, match="'sketch' matches 2 adapter files"):
        store.find("sketch")
    for title in store.models():  # each title is unique: the way out the message offers
        assert store.title(store.find(title)) == title

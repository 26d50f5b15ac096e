"""Issue 9, model folders: one bad entry is skipped with one logged line naming it and why, never breaking the list
(each test failed before its fix), and the torture folder through the store and the HTTP route."""

from __future__ import annotations

import json
import logging
import struct
import threading
import time

import pytest
import torch
from safetensors.torch import save_file

from t2i_ext import AdapterLoadError
from t2i_ext.nets import FullAdapter
from t2i_ext.sniff import printable
from t2i_host.model_store import AdapterCache, ModelStore

from . import hostile_models
from .hostile_models import BAD_OWN, BAD_SHARED, GOOD, WIDTHS


def refresh(store: ModelStore, timeout: float = 60.0) -> dict:
    """``store.refresh()`` in a daemon thread: a scan that blocks on a FIFO fails the test, not the suite."""
    out = {}
    thread = threading.Thread(target=lambda: out.update(models=store.refresh()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the scan hangs"
    assert "models" in out, "the scan raised"
    return out["models"]


def good_adapter(folder, name="t2iadapter_canny_sd14v1.safetensors"):
    folder.mkdir(parents=True, exist_ok=True)
    save_file(FullAdapter(1, WIDTHS).state_dict(), str(folder / name))
    return folder / name


def skipped_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "skipped" in r.getMessage()]


@pytest.mark.parametrize("mixed", [False, True], ids=["own folder", "ControlNet folder"])
def test_a_dangling_link_is_skipped_with_one_logged_line(tmp_path, caplog, mixed):
    folder = tmp_path / "models"
    good_adapter(folder)
    (folder / "moved.safetensors").symlink_to(tmp_path / "other-drive/moved.safetensors")
    store = ModelStore([(folder, mixed)])
    with caplog.at_level(logging.WARNING):
        assert [info.stem for info in refresh(store).values()] == ["t2iadapter_canny_sd14v1"]
        refresh(store)
    assert list(store.unusable()) == [folder / "moved.safetensors"]
    assert "a link whose target is missing" in store.unusable()[folder / "moved.safetensors"]
    (line,) = skipped_lines(caplog)  # once, not once per refresh
    assert str(folder / "moved.safetensors") in line and "target is missing" in line


@pytest.mark.parametrize(
    "header", [{"x": 5}, {"w": {"dtype": "F16", "shape": 5, "data_offsets": [0, 0]}}], ids=["x-5", "shape-5"]
)
def test_a_malformed_safetensors_header_does_not_break_the_list(tmp_path, header):
    folder = tmp_path / "models"
    good_adapter(folder)
    raw = json.dumps(header).encode()
    (folder / "bad.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw)
    store = ModelStore([(folder, True)])
    assert len(refresh(store)) == 1
    assert "truncated or corrupt" in store.unusable()[folder / "bad.safetensors"]


def test_a_fifo_named_like_weights_never_hangs_the_scan(tmp_path):
    import os

    folder = tmp_path / "models"
    good_adapter(folder)
    os.mkfifo(folder / "pipe.pth")
    store = ModelStore([(folder, False)])
    assert len(refresh(store, timeout=20)) == 1
    assert "a FIFO" in store.unusable()[folder / "pipe.pth"]


def test_a_code_payload_pickle_is_kept_out_of_the_list_with_what_it_is(tmp_path):
    folder = tmp_path / "models"
    good_adapter(folder)
    torch.save({"x": hostile_models._Payload(tmp_path / "pwned")}, folder / "evil.pth")
    store = ModelStore([(folder, False)])
    assert [info.kind for info in refresh(store).values()] == ["full"]  # no "?" entry for the pickle
    assert "a pickle that tries to run code (os.system), refused" in store.unusable()[folder / "evil.pth"]
    assert store.find("evil") is None and "os.system" in store.why_unusable("evil")
    assert not (tmp_path / "pwned").exists()


def test_a_file_removed_after_listing_is_an_adapter_error_not_an_os_error(tmp_path):
    path = good_adapter(tmp_path)
    cache = AdapterCache(lambda p: object())
    path.unlink()
    with pytest.raises(AdapterLoadError, match="no such file.*Refresh the model list"):
        cache.get(path)


def test_the_torture_folder_lists_both_good_adapters_and_reports_each_bad_entry_once(tmp_path, caplog, monkeypatch):
    own, shared, marker = hostile_models.build(tmp_path)
    hostile_models.deny_reading(monkeypatch, own / "locked.pth")
    store = ModelStore([(own, False), (shared, True)])
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING):
        models = refresh(store)
        refresh(store)  # cached: nothing is read or logged again
    elapsed = time.perf_counter() - start
    assert {info.stem: (info.kind, info.base) for info in models.values()} == GOOD
    unusable = {path.name: reason for path, reason in store.unusable().items()}
    assert set(unusable) == set(BAD_OWN) | set(BAD_SHARED)  # the ControlNet in the shared folder is no news
    for name, words in {**BAD_OWN, **BAD_SHARED}.items():
        assert words in unusable[name], (name, unusable[name])
    lines = skipped_lines(caplog)
    assert len(lines) == len(unusable)
    for name in unusable:
        assert sum(printable(name) in line for line in lines) == 1, name
    assert not any("\n" in line for line in lines)  # a newline in a file name cannot forge a log line
    assert not marker.exists()
    assert elapsed < 30, f"scan took {elapsed:.1f} s"


def test_the_torture_folder_through_the_models_route(tmp_path, monkeypatch):
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from t2i_host import http_api

    own, shared, _ = hostile_models.build(tmp_path)
    hostile_models.deny_reading(monkeypatch, own / "locked.pth")
    store = ModelStore([(own, False), (shared, True)])

    def models(refresh: bool) -> list[dict]:  # what scripts/t2i_adapter.py's api_models sends
        listed = store.refresh() if refresh else store.models()
        return [
            {"title": t, "name": m.stem, "hash": store.short_hash(m.path), "kind": m.kind, "base": m.base,
             "path": str(m.path)}
            for t, m in listed.items()
        ]  # fmt: skip

    app = fastapi.FastAPI()
    services = http_api.Services(
        models, lambda: [], lambda *a, **k: None, lambda units, request: None, store.unusable_items
    )  # as scripts/t2i_adapter.py mounts them
    http_api.mount(app, services)
    client = TestClient(app)
    for query in ("", "?refresh=true"):
        r = client.get(f"/t2i-adapter/models{query}")
        assert r.status_code == 200
        assert {(m["name"], m["kind"], m["base"]) for m in r.json()["models"]} == {
            (stem, *kind_base) for stem, kind_base in GOOD.items()
        }
        reasons = {u["path"].rsplit("/", 1)[-1]: u["reason"] for u in r.json()["unusable"]}
        for name, words in {**hostile_models.BAD_OWN, **hostile_models.BAD_SHARED}.items():
            assert words in reasons[printable(name)], (name, reasons.get(printable(name)))
    assert "canny-\\xe9t\\xe9.safetensors" in reasons and "canny\\nline.safetensors" in reasons  # the bytes, escaped


def test_a_folder_setting_pointing_at_a_whole_drive_stops_scanning_with_a_warning(tmp_path, caplog, monkeypatch):
    from t2i_host import model_store

    folder = tmp_path / "drive"
    good_adapter(folder)  # top level: found before the limit
    junk = folder / "photos"
    junk.mkdir()
    for i in range(60):
        (junk / f"{i}.jpg").write_bytes(b"")
    monkeypatch.setattr(model_store, "MAX_SCAN_ENTRIES", 40)
    with caplog.at_level(logging.WARNING):
        models = refresh(ModelStore([(folder, False)]))
    assert [info.stem for info in models.values()] == ["t2iadapter_canny_sd14v1"]
    assert any("stopped scanning" in r.getMessage() and "40" in r.getMessage() for r in caplog.records)

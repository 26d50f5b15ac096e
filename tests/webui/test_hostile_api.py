"""Issue 9 through the stand-in WebUI: a style unit whose CLIP vision weights are missing is the user's to fix —
a 422 naming the field (API) and the same error in the panel's job, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from t2i_host.unit_args import UnitArgsError

from .harness import _save
from .images import shapes
from .test_api import b64, post

pytest.importorskip("fastapi", reason="the API tests need fastapi (the WebUI ships fastapi==0.94.0)")


@pytest.fixture()
def style_model(webui, tmp_path, monkeypatch) -> Iterator[str]:
    """A style adapter for the tiny SD1 UNet (context 32) in the models folder, and no CLIP weights anywhere."""
    from annotators import weights
    from t2i_ext.nets import StyleAdapter

    name = "t2iadapter_style_tiny"
    path = webui.data_dir / "models" / "T2I-Adapter" / f"{name}.safetensors"
    _save(StyleAdapter(1024, 32, 8, 1, num_token=2), path, 4)
    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(tmp_path))
    monkeypatch.setattr(weights, "_mirror", "http://127.0.0.1:9")  # a download is refused at once
    webui.client().get("/t2i-adapter/models?refresh=true")
    yield name
    path.unlink()  # the stand-in is shared by the session: other tests list its models
    webui.client().get("/t2i-adapter/models?refresh=true")


def test_style_unit_without_clip_weights_is_422_naming_the_module(webui, style_model):
    client = webui.client()
    r = post(client, [{"model": style_model, "image": b64(shapes())}])
    assert r.status_code == 422, r.text
    assert "field 'module'" in r.json()["detail"] and "clip-vit-large-patch14.safetensors" in r.json()["detail"]
    with pytest.raises(UnitArgsError, match="clip-vit-large-patch14.safetensors") as info:  # the panel's job
        webui.txt2img([{"enabled": True, "model": style_model, "image": shapes()}])
    assert info.value.field == "module"
    assert post(client, [{"model": webui.adapters["canny"], "image": b64(shapes())}]).status_code == 200


@pytest.mark.parametrize("value", ["abc", None, float("nan"), [3], True])
def test_a_unit_count_or_cache_setting_that_is_not_a_number_falls_back_to_the_default(webui, value, monkeypatch):
    # /sdapi/v1/options stores any JSON value, and config.json can be edited by hand
    from .test_api import api_unit

    module = next(d.module for d in webui.scripts.scripts_data if d.path.endswith("t2i_adapter.py"))
    monkeypatch.setattr(webui.shared.opts, "t2i_adapter_unit_count", value, raising=False)
    monkeypatch.setattr(webui.shared.opts, "t2i_adapter_model_cache_size", value, raising=False)
    assert module.unit_count() == 3
    r = post(webui.client(), [api_unit(webui)])
    assert r.status_code == 200, r.text

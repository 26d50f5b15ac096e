"""Issue 9 through the stand-in WebUI: a style unit whose CLIP vision weights are missing is the user's to fix —
a 422 naming the field (API) and the same error in the panel's job, never a 500."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from t2i_host.unit_args import UnitArgsError

from .harness import _save
from .images import shapes
from .test_api import b64, post

pytest.importorskip("fastapi", reason="the API tests need fastapi (the WebUI ships fastapi==0.94.0)")


#: JSON integers written as digits beyond a float's range: /sdapi/v1/options stores them as Python ints
HUGE_INTS = (10**400, -(10**400))
HUGE = "1" + "0" * 400


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


@pytest.mark.parametrize(
    "value",
    ["abc", None, float("nan"), [3], True, *(pytest.param(v, id=f"{'-' if v < 0 else ''}1e400") for v in HUGE_INTS)],
)
def test_a_unit_count_or_cache_setting_that_is_not_a_number_falls_back_to_the_default(webui, value, monkeypatch):
    # /sdapi/v1/options stores any JSON value, and config.json can be edited by hand
    from t2i_webui import settings as module

    from .test_api import api_unit

    monkeypatch.setattr(webui.shared.opts, "t2i_adapter_unit_count", value, raising=False)
    monkeypatch.setattr(webui.shared.opts, "t2i_adapter_model_cache_size", value, raising=False)
    assert module.unit_count() == 3
    r = post(webui.client(), [api_unit(webui)])
    assert r.status_code == 200, r.text


def test_a_141_byte_strip_as_a_unit_image_is_422_naming_the_image_not_a_500(webui):
    from tests.host.test_image_intake import strip_png

    strip = base64.b64encode(strip_png(65535, 1)).decode()
    client = webui.client()
    r = post(client, [{"model": webui.adapters["canny"], "module": "canny", "image": strip}])
    assert r.status_code == 422 and "field 'image'" in r.json()["detail"], r.text
    assert "65535×1" in r.json()["detail"]
    r = client.post("/t2i-adapter/detect", json={"module": "canny", "images": [strip]})
    assert r.status_code == 422 and r.json()["field"] == "images[0]", r.text
    with pytest.raises(UnitArgsError, match="65535×1") as info:  # the panel's job: the image arrives decoded
        webui.txt2img([{"enabled": True, "model": webui.adapters["canny"], "module": "canny", "image": strip}])
    assert info.value.field == "image"


@pytest.mark.parametrize("field", ["weight", "processor_res", "threshold_a"])
def test_a_unit_number_beyond_float_range_is_422_naming_the_field(webui, field):
    from .test_api import JOB

    unit = f'{{"model": "{webui.adapters["canny"]}", "module": "canny", "image": "{b64(shapes())}", "{field}": {HUGE}}}'
    scripts = f'"alwayson_scripts": {{"t2i-adapter": {{"args": [{unit}]}}}}'
    body = json.dumps({**JOB, "steps": 2}).rstrip("}") + f", {scripts}}}"
    r = webui.client().post("/sdapi/v1/txt2img", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and f"field '{field}'" in r.json()["detail"], r.text

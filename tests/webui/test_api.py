"""The HTTP API as a user's script calls it: ``/sdapi/v1/txt2img`` / ``img2img`` with
``alwayson_scripts: {"t2i-adapter": {"args": [unit, ...]}}`` on the stand-in's FastAPI app (modules/api/api.py
behaviour: defaults from ``ui()``, arg slicing, ``api_middleware`` error answers), and the ``/t2i-adapter/*``
routes."""

from __future__ import annotations

import base64
import io
import json
import threading

import numpy as np
import pytest
from PIL import Image

from tests.controlnet_client import controlnet_unit

from .harness import JOB_DEFAULTS, unet_hook_count
from .images import pixels, shapes

pytest.importorskip("fastapi", reason="the API tests need fastapi (the WebUI ships fastapi==0.94.0)")
pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")

# the API payload of the harness's default job (batch fields left to the API's own defaults)
JOB = {k: v for k, v in JOB_DEFAULTS.items() if k not in ("batch_size", "n_iter")}


def b64(array: np.ndarray, prefix: bool = False) -> str:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    text = base64.b64encode(buf.getvalue()).decode()
    return f"data:image/png;base64,{text}" if prefix else text


def decode(text: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"), dtype=np.int16)


@pytest.fixture()
def client(webui):
    return webui.client()


def post(client, units, route="txt2img", key="t2i-adapter", **job):
    payload = {**JOB, **job}
    if units is not None:
        payload["alwayson_scripts"] = {key: {"args": units}}
    return client.post(f"/sdapi/v1/{route}", json=payload)


def api_unit(webui, **fields):
    base = {"model": webui.adapters["canny"], "module": "none", "image": b64(shapes())}
    base.update(fields)
    return base


def test_txt2img_with_a_unit_equals_the_same_job_from_the_panel(webui, client):
    r = post(client, [api_unit(webui, weight=0.9)])
    assert r.status_code == 200, r.text
    ui = webui.txt2img(
        [{"enabled": True, "model": webui.adapters["canny"], "module": "none", "image": shapes(), "weight": 0.9}]
    )
    assert np.array_equal(decode(r.json()["images"][0]), pixels(ui))
    plain = post(client, None)
    assert not np.array_equal(decode(plain.json()["images"][0]), decode(r.json()["images"][0]))
    assert "T2I-Adapter 0" in r.json()["info"]
    assert unet_hook_count(webui.unet) == 0


def test_base64_with_and_without_data_prefix_give_the_same_image(webui, client):
    a = post(client, [api_unit(webui, image=b64(shapes(), prefix=False))])
    b = post(client, [api_unit(webui, image=b64(shapes(), prefix=True))])
    assert a.status_code == b.status_code == 200
    assert np.array_equal(decode(a.json()["images"][0]), decode(b.json()["images"][0]))


def test_omitted_fields_take_their_defaults(webui, client):
    short = post(client, [{"model": webui.adapters["canny"], "image": b64(shapes())}])
    full = post(
        client,
        [
            {
                "enabled": True,
                "model": webui.adapters["canny"],
                "module": "none",
                "image": b64(shapes()),
                "weight": 1.0,
                "guidance_start": 0.0,
                "guidance_end": 1.0,
                "resize_mode": "Crop and Resize",
                "processor_res": -1,
                "threshold_a": -1,
                "threshold_b": -1,
                "control_mode": "Balanced",
                "pixel_perfect": False,
                "low_vram": False,
            }
        ],
    )
    assert short.status_code == full.status_code == 200, short.text
    assert np.array_equal(decode(short.json()["images"][0]), decode(full.json()["images"][0]))


def test_script_key_is_matched_case_insensitively_like_the_webui(webui, client):
    a = post(client, [api_unit(webui)], key="T2I-Adapter")
    b = post(client, [api_unit(webui)], key="t2i-adapter")
    assert a.status_code == b.status_code == 200
    assert np.array_equal(decode(a.json()["images"][0]), decode(b.json()["images"][0]))


def test_second_unit_slot_is_used_when_the_first_is_disabled(webui, client):
    a = post(client, [{"enabled": False}, api_unit(webui)])
    b = post(client, [api_unit(webui)])
    assert a.status_code == b.status_code == 200
    assert np.array_equal(decode(a.json()["images"][0]), decode(b.json()["images"][0]))


BAD_UNITS = {
    "model": {"model": "no_such_adapter"},
    "module": {"module": "no_such_annotator"},
    "image": {"image": "this is not base64 !!"},
    "weight": {"weight": "heavy"},
    "weight ": {"weight": 5.0},  # out of range (0..2)
    "guidance_start": {"guidance_start": 1.5},
    "control_mode": {"control_mode": "whatever"},
    "wieght": {"wieght": 1.0},  # unknown field
}


@pytest.mark.parametrize("field", list(BAD_UNITS))
def test_bad_unit_answers_4xx_naming_the_field_and_the_next_request_succeeds(webui, client, field):
    reference = post(client, [api_unit(webui)])
    bad = post(client, [api_unit(webui, **BAD_UNITS[field])])
    assert 400 <= bad.status_code < 500, (bad.status_code, bad.text)
    assert field.strip() in bad.text
    good = post(client, [api_unit(webui)])
    assert good.status_code == 200
    assert np.array_equal(decode(good.json()["images"][0]), decode(reference.json()["images"][0]))
    assert unet_hook_count(webui.unet) == 0


def test_unit_that_is_not_an_object_answers_4xx(webui, client):
    r = post(client, ["not a unit"])
    assert 400 <= r.status_code < 500, r.text


def test_wrong_family_adapter_answers_4xx_naming_the_model(webui, client):
    r = post(client, [api_unit(webui, model=webui.adapters["xl_canny"], image=b64(shapes()))])
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert "model" in r.text and "SDXL" in r.text
    assert post(client, [api_unit(webui)]).status_code == 200


def test_after_a_refiner_job_the_family_is_checked_against_the_checkpoint_the_job_will_load(webui, client):
    """A refiner job leaves the refiner loaded; the next job's ``process_images`` swaps back to the selected checkpoint
    first. The guard must not refuse an adapter of the selected checkpoint's family meanwhile."""
    reference = post(client, [api_unit(webui)])
    assert reference.status_code == 200
    selected = webui.shared.sd_model
    webui.shared.sd_model = webui.models["sdxl"]  # what a refiner swap leaves behind; the selection is unchanged
    try:
        r = post(client, [api_unit(webui)])
        assert r.status_code == 200, r.text
        assert webui.shared.sd_model is selected  # swapped back before sampling
        assert np.array_equal(decode(r.json()["images"][0]), decode(reference.json()["images"][0]))
        webui.shared.sd_model = webui.models["sdxl"]
        wrong = post(client, [api_unit(webui, model=webui.adapters["xl_canny"])])  # checked after the swap back
        assert wrong.status_code == 422 and "SDXL adapter" in wrong.json()["detail"]
    finally:
        webui.use("sd1")
    assert unet_hook_count(webui.models["sdxl"].model.diffusion_model) == 0


def test_img2img_unit_without_image_uses_the_init_image(webui, client):
    init = shapes(seed=3)
    r = post(
        client,
        [{"model": webui.adapters["canny"], "module": "none"}],
        route="img2img",
        init_images=[b64(init)],
        denoising_strength=0.75,
    )
    assert r.status_code == 200, r.text
    ui = webui.img2img([Image.fromarray(init)], [{"enabled": True, "model": webui.adapters["canny"], "module": "none"}])
    assert np.array_equal(decode(r.json()["images"][0]), pixels(ui))


def test_infotext_restores_the_units_and_the_request_fills_in_the_image(webui, client):
    first = post(client, [api_unit(webui, weight=0.7, guidance_end=0.6, control_mode="My prompt is more important")])
    assert first.status_code == 200, first.text
    infotext = json.loads(first.json()["info"])["infotexts"][0]
    assert "T2I-Adapter 0" in infotext
    again = post(client, [{"image": b64(shapes())}], infotext=infotext)
    assert again.status_code == 200, again.text
    assert np.array_equal(decode(again.json()["images"][0]), decode(first.json()["images"][0]))
    assert not np.array_equal(
        decode(post(client, [api_unit(webui)]).json()["images"][0]), decode(first.json()["images"][0])
    )
    # no image anywhere: the restored unit is refused naming the field, in txt2img
    bare = post(client, None, infotext=infotext)
    assert bare.status_code == 422 and "field 'image'" in bare.json()["detail"]
    assert unet_hook_count(webui.unet) == 0


def test_img2img_infotext_alone_restores_the_unit_on_the_input_image(webui, client):
    init = b64(shapes(seed=3))
    job = dict(route="img2img", init_images=[init], denoising_strength=0.75)
    first = post(client, [{"model": webui.adapters["canny"], "module": "none", "weight": 0.8}], **job)
    assert first.status_code == 200, first.text
    infotext = json.loads(first.json()["info"])["infotexts"][0]
    again = post(client, None, infotext=infotext, **job)
    assert again.status_code == 200, again.text
    assert np.array_equal(decode(again.json()["images"][0]), decode(first.json()["images"][0]))
    broken = infotext.replace("weight: 0.8", "weight: 7")
    assert broken != infotext
    r = post(client, None, infotext=broken, **job)
    assert r.status_code == 422 and "field 'infotext'" in r.json()["detail"] and "weight" in r.json()["detail"]


def test_under_api_auth_units_are_refused_after_authentication_and_infotexts_still_restore(webui, monkeypatch):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from modules import shared
    from modules.api.api import Api

    monkeypatch.setattr(shared.cmd_opts, "api_auth", "user:secret")
    app = FastAPI()
    Api(app, threading.Lock())
    webui.script_callbacks.app_started_callback(None, app)
    client = TestClient(app, raise_server_exceptions=False)
    bad = post(client, [api_unit(webui, weight=5)])
    # not answered by the middleware (it would answer before authentication) but by the job, with the same 422
    assert bad.status_code == 422 and "field 'weight'" in bad.json()["detail"]
    assert bad.json()["error"] != "T2IAdapterArgsError"
    first = post(client, [api_unit(webui, weight=0.7)])
    infotext = json.loads(first.json()["info"])["infotexts"][0]
    again = post(client, [{"image": b64(shapes())}], infotext=infotext)
    assert again.status_code == 200, again.text
    assert np.array_equal(decode(again.json()["images"][0]), decode(first.json()["images"][0]))
    assert unet_hook_count(webui.unet) == 0


def test_img2img_inpaint_only_masked_through_the_api(webui, client):
    init = np.full((128, 128, 3), 90, np.uint8)
    mask = np.zeros((128, 128, 3), np.uint8)
    mask[32:96, 64:128] = 255
    r = post(
        client,
        [api_unit(webui, image=b64(shapes(128, seed=5)))],
        route="img2img",
        init_images=[b64(init, prefix=True)],
        mask=b64(mask),
        inpaint_full_res=True,
        mask_blur=0,
        inpainting_fill=1,
        denoising_strength=0.75,
    )
    assert r.status_code == 200, r.text
    assert decode(r.json()["images"][0]).shape == (128, 128, 3)


def test_script_info_lists_one_argument_per_unit(webui, client):
    info = client.get("/sdapi/v1/script-info").json()
    mine = [s for s in info if s["name"] == "t2i-adapter"]
    assert {s["is_img2img"] for s in mine} == {False, True}
    assert all(len(s["args"]) == 3 and s["is_alwayson"] for s in mine)


def test_routes_version_models_annotators(webui, client):
    assert client.get("/t2i-adapter/version").status_code == 200
    assert "version" in client.get("/t2i-adapter/version").json()
    models = client.get("/t2i-adapter/models", params={"refresh": "true"}).json()["models"]
    names = {m["name"]: m for m in models}
    assert set(webui.adapters.values()) <= set(names)
    assert names[webui.adapters["xl_canny"]]["base"] == "SDXL"
    assert names[webui.adapters["canny"]]["base"] == "SD1"
    annotators = {a["name"] for a in client.get("/t2i-adapter/annotators").json()["annotators"]}
    assert "canny" in annotators


def test_detect_returns_one_map_per_image(webui, client):
    images = [b64(shapes()), b64(shapes(seed=2), True)]
    r = client.post(
        "/t2i-adapter/detect", json={"module": "canny", "images": images, "threshold_a": 50, "threshold_b": 150}
    )
    assert r.status_code == 200, r.text
    maps = [decode(x) for x in r.json()["images"]]
    assert len(maps) == 2 and maps[0].shape[:2] == (64, 64)
    assert maps[0].max() == 255  # edges found


@pytest.mark.parametrize(
    "body,field",
    [
        ({"module": "no_such_annotator", "images": []}, "module"),
        ({"module": "canny", "images": ["%%%"]}, "images"),
        ({"module": "canny", "images": [], "wieght": 1}, "wieght"),
    ],
)
def test_detect_errors_answer_4xx_naming_the_field(webui, client, body, field):
    if body.get("images") == []:
        body = {**body, "images": [b64(shapes())]}
    r = client.post("/t2i-adapter/detect", json=body)
    assert 400 <= r.status_code < 500, r.text
    assert field in r.text
    assert client.get("/t2i-adapter/version").status_code == 200


def test_unit_dict_from_a_controlnet_client_ports_unchanged(webui, client):
    """The issue's porting promise: a unit as the widely used ``webuiapi`` client's ``ControlNetUnit.to_dict()``
    builds it (ControlNet field names, including ``mask: None`` and ``hr_option``) works under our key."""
    cn_unit = controlnet_unit(b64(shapes()), webui.adapters["canny"])
    r = post(client, [cn_unit])
    assert r.status_code == 200, r.text
    ours = post(client, [api_unit(webui, resize_mode="Resize and Fill", control_mode="Adapter is more important")])
    assert np.array_equal(decode(r.json()["images"][0]), decode(ours.json()["images"][0]))


def test_routes_are_documented_in_the_openapi_schema(webui, client):
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/t2i-adapter/version", "/t2i-adapter/models", "/t2i-adapter/annotators", "/t2i-adapter/detect"):
        assert route in paths
    assert "requestBody" in paths["/t2i-adapter/detect"]["post"]

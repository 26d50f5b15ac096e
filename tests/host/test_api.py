"""The /t2i-adapter routes and the 422 guard for alwayson units, on FastAPI 0.94 / pydantic 1 (the WebUI's)."""

import base64
import io
import warnings

import numpy as np
import pytest
from PIL import Image

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

import annotators  # noqa: E402
from t2i_host import http_api  # noqa: E402
from t2i_host.unit_args import UnitArgs, UnitArgsError  # noqa: E402


def png_b64(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def validate(units, request=None):
    for i, unit in enumerate(units):
        args = UnitArgs.parse(unit, i, set(annotators.names()))
        if args.enabled and args.model != "known [12345678]":
            raise UnitArgsError(f"no adapter model '{args.model}'", "model", i)


@pytest.fixture()
def client():
    app = fastapi.FastAPI()
    runs = []

    @app.post("/sdapi/v1/txt2img")
    async def txt2img(request: dict):
        runs.append(request)
        return {"images": [], "ran": len(runs)}

    services = http_api.Services(
        models=lambda refresh: [
            {
                "title": "known [12345678]",
                "name": "known",
                "hash": "12345678",
                "kind": "full",
                "base": "SD1",
                "path": "/x/known.safetensors",
            }
        ],
        annotators=annotators.list_annotators,
        annotate=annotators.run,
        validate_units=validate,
    )
    http_api.mount(app, services)
    app.middleware_stack = app.build_middleware_stack()  # as if the server had already started
    assert http_api.install_guard(app, validate, title="T2I-Adapter")
    assert not http_api.install_guard(app, validate, title="T2I-Adapter")  # once only
    return TestClient(app)


def test_version_models_annotators(client):
    assert client.get("/t2i-adapter/version").json()["version"]
    assert client.get("/t2i-adapter/models").json()["models"][0]["title"] == "known [12345678]"
    listed = {a["name"]: a for a in client.get("/t2i-adapter/annotators").json()["annotators"]}
    assert listed["canny"]["threshold_a"] == "low_threshold" and listed["canny"]["threshold_b"] == "high_threshold"


def test_detect_returns_base64_maps(client):
    image = (np.random.default_rng(0).random((32, 48, 3)) * 255).astype(np.uint8)
    r = client.post(
        "/t2i-adapter/detect",
        json={
            "module": "canny",
            "images": ["data:image/png;base64," + png_b64(image)],
            "threshold_a": 50,
            "threshold_b": 100,
        },
    )
    assert r.status_code == 200
    out = np.asarray(Image.open(io.BytesIO(base64.b64decode(r.json()["images"][0]))))
    assert out.shape[:2] == (32, 48)


@pytest.mark.parametrize(
    "body, words",
    [
        ({"module": "cany", "images": []}, "field 'module'"),
        ({"module": "canny", "images": ["%%%"]}, "images[0]"),
        ({"module": "canny", "images": [png_b64(np.zeros((8, 8, 3), np.uint8))], "threshold_a": 999}, "low_threshold"),
        ({"module": "clip_vision", "images": ["aGk="]}, "tokens"),
    ],
)
def test_detect_rejects_bad_input_with_422_naming_the_field(client, body, words):
    r = client.post("/t2i-adapter/detect", json=body)
    assert r.status_code == 422 and words in r.json()["detail"]


def test_detect_refuses_unknown_request_fields(client):
    assert client.post("/t2i-adapter/detect", json={"module": "canny", "images": [], "bogus": 1}).status_code == 422


def test_bad_alwayson_unit_gets_422_and_the_server_keeps_serving(client):
    bad = {"prompt": "x", "alwayson_scripts": {"t2i-adapter": {"args": [{"weight": "heavy"}]}}}
    r = client.post("/sdapi/v1/txt2img", json=bad)
    assert r.status_code == 422 and r.json()["field"] == "weight" and "unit 0" in r.json()["detail"]
    r = client.post(
        "/sdapi/v1/txt2img",
        json={"prompt": "x", "alwayson_scripts": {"T2I-Adapter": {"args": [{"enabled": False}, {"model": "missing"}]}}},
    )
    assert r.status_code == 422 and "unit 1" in r.json()["detail"]
    ok = {"prompt": "x", "alwayson_scripts": {"t2i-adapter": {"args": [{"model": "known [12345678]"}]}}}
    r = client.post("/sdapi/v1/txt2img", json=ok)
    assert r.status_code == 200 and r.json()["ran"] == 1  # the body reached the WebUI intact
    assert client.post("/sdapi/v1/txt2img", json={"prompt": "plain"}).json()["ran"] == 2


def detect(client, **body):
    image = png_b64(np.zeros((8, 8, 3), np.uint8))
    return client.post("/t2i-adapter/detect", json={"module": "canny", "images": [image], **body})


def test_detect_refuses_a_decompression_bomb_with_422_naming_the_image(client):
    from tests.host.test_unit_args import bomb_png_b64

    r = detect(client, images=[bomb_png_b64()])
    assert r.status_code == 422 and r.json()["field"] == "images[0]" and "megapixel" in r.json()["detail"]


def test_detect_refuses_a_fractional_processor_res_naming_it(client):
    r = detect(client, processor_res=1.5)
    assert r.status_code == 422 and r.json()["field"] == "processor_res", r.text
    assert detect(client, module="lineart_standard", processor_res=64.0).status_code == 200


def test_detect_with_a_missing_weight_file_is_422_naming_the_module(client, tmp_path, monkeypatch):
    from annotators import weights

    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(tmp_path))  # no pidinet weights here
    monkeypatch.setattr(weights, "_mirror", "http://127.0.0.1:9")  # and no download (refused at once)
    r = detect(client, module="pidinet")
    assert r.status_code == 422 and r.json()["field"] == "module" and "table5_pidinet.pth" in r.json()["detail"]


@pytest.mark.parametrize(
    "image, words",
    [("bomb", "megapixel"), ("data:text/plain;base64,aGk=", "not an image")],
)
def test_alwayson_unit_with_a_bad_image_is_422_naming_the_image(client, image, words):
    from tests.host.test_unit_args import bomb_png_b64

    unit = {"model": "known [12345678]", "image": bomb_png_b64() if image == "bomb" else image}
    r = client.post("/sdapi/v1/txt2img", json={"prompt": "x", "alwayson_scripts": {"t2i-adapter": {"args": [unit]}}})
    assert r.status_code == 422 and r.json()["field"] == "image" and words in r.json()["detail"]


def test_concurrent_detections_run_one_at_a_time():
    import threading
    import time

    running, most = [0], [0]
    lock = threading.Lock()

    def annotate(module, image, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return image[..., 0]

    app = fastapi.FastAPI()
    services = http_api.Services(lambda refresh: [], annotators.list_annotators, annotate, validate)
    http_api.mount(app, services)
    client = TestClient(app)
    body = {"module": "canny", "images": [png_b64(np.zeros((8, 8, 3), np.uint8))]}
    codes = []
    threads = [
        threading.Thread(target=lambda: codes.append(client.post("/t2i-adapter/detect", json=body))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in codes] == [200] * 4 and most[0] == 1


#: a JSON integer beyond a float's range, written as digits (valid JSON: integers have no size limit)
HUGE = "1" + "0" * 400


def raw_post(client, path: str, text: str):
    return client.post(path, content=text, headers={"content-type": "application/json"})


@pytest.mark.parametrize("field", ["processor_res", "threshold_a", "threshold_b"])
def test_detect_refuses_an_integer_beyond_float_range_naming_the_field(client, field):
    image = png_b64(np.zeros((8, 8, 3), np.uint8))
    r = raw_post(client, "/t2i-adapter/detect", f'{{"module": "canny", "images": ["{image}"], "{field}": {HUGE}}}')
    assert r.status_code == 422, r.text
    (error,) = r.json()["detail"]
    assert error["loc"][-1] == field and "finite number" in error["msg"]


def test_detect_refuses_an_annotator_parameter_beyond_float_range_naming_it(client):
    image = png_b64(np.zeros((8, 8, 3), np.uint8))
    body = f'{{"module": "canny", "images": ["{image}"], "annotator_params": {{"low_threshold": {HUGE}}}}}'
    r = raw_post(client, "/t2i-adapter/detect", body)
    assert r.status_code == 422 and r.json()["field"] == "annotator_params", r.text
    assert "'low_threshold' must be a finite number" in r.json()["detail"]


@pytest.mark.parametrize("field", ["weight", "guidance_start", "guidance_end", "processor_res", "threshold_b"])
def test_an_alwayson_unit_number_beyond_float_range_is_422_naming_the_field(client, field):
    unit = f'{{"model": "known [12345678]", "{field}": {HUGE}}}'
    r = raw_post(client, "/sdapi/v1/txt2img", f'{{"alwayson_scripts": {{"T2I-Adapter": {{"args": [{unit}]}}}}}}')
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert "finite number" in r.json()["detail"]


def test_mounting_the_routes_warns_of_nothing():
    """Forge's pydantic 2 warned at start-up that ``model_list``/``default_model`` (sd-webui-controlnet's names)
    clash with its protected ``model_`` prefix; the WebUI's console shows no warning of ours."""
    services = http_api.Services(
        models=lambda refresh: [], annotators=list, annotate=annotators.run, validate_units=validate
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # pydantic 2 on the `class Config` spelling
        http_api.mount(fastapi.FastAPI(), services)

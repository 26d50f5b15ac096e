"""An OpenAPI fuzzer against the stand-in WebUI's FastAPI app (issue 9): request bodies drawn with
hypothesis-jsonschema from the app's own ``/openapi.json`` for the ``/t2i-adapter/*`` routes, and random
``alwayson_scripts["t2i-adapter"]`` unit lists for ``/sdapi/v1/txt2img``. No answer may be a 5xx, every request
finishes within a per-request timeout, a 422 names the offending field, and afterwards the server still gives a
good request the same image as before the fuzzing.

(schemathesis 4.x would move the pinned anyio/pytest and hypothesis-jsonschema does not run on the pinned
hypothesis: :func:`from_schema` covers the JSON-schema subset FastAPI 0.94 writes for these models.)"""

from __future__ import annotations

import base64
import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.host.test_unit_args import bomb_png_b64
from tests.test_fuzz_inputs import unit_dicts

from .images import shapes
from .test_api import JOB, b64

pytest.importorskip("fastapi", reason="the API tests need fastapi (the WebUI ships fastapi==0.94.0)")

REQUEST_TIMEOUT_S = 60  # one tiny generation takes well under a second; a hang fails the test instead of the suite
FUZZ = settings(
    derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck), max_examples=40
)


def png(array: np.ndarray, mode: str | None = None) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


#: real images, good and hostile, mixed into the generated bodies (random strings are almost never images)
IMAGES = [
    b64(shapes()),
    b64(shapes(), prefix=True),
    png(np.zeros((1, 1, 3), np.uint8)),
    png(np.full((9, 7), 200, np.uint16)),  # 16-bit PNG, opened as mode I
    png(np.zeros((16, 16, 4), np.uint8), "RGBA"),
    bomb_png_b64(),
    "data:text/html;base64," + b64(shapes()),
    "",
]
images = st.sampled_from(IMAGES)


def send(client, method: str, path: str, **kwargs):
    """One request with a per-request timeout (the app runs in-process: a hang would stop the whole suite)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(getattr(client, method), path, **kwargs).result(timeout=REQUEST_TIMEOUT_S)


def check(r) -> None:
    assert r.status_code < 500, (r.status_code, r.text[:500])
    if r.status_code == 422:
        body = r.json()
        if isinstance(body.get("detail"), list):  # FastAPI's own validation error: the field is in "loc"
            assert all(item.get("loc") for item in body["detail"]), body
        elif "field" in body:  # our error shape (routes and the API guard)
            assert body["field"], body
        else:  # raised during the job: the WebUI's handler keeps only the message, which names the field
            assert "field '" in body["detail"], body


#: JSON integers have no size limit: ones beyond a float's range (±1.8e308), written as digits
huge_ints = st.integers(10**308, 10**420) | st.integers(-(10**420), -(10**308))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | huge_ints | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)


def from_schema(schema: dict, openapi: dict) -> st.SearchStrategy:
    """Values valid for ``schema`` (types, properties, required, $ref; what FastAPI 0.94 emits), plus, for objects,
    bodies with one field of a wrong type or an unknown field, so validation paths are fuzzed too."""
    if "$ref" in schema:
        return from_schema(openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]], openapi)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return st.one_of([from_schema(s, openapi) for s in schema[key]])
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        props = {name: from_schema(s, openapi) for name, s in schema["properties"].items()}
        required = set(schema.get("required", ()))
        valid = st.fixed_dictionaries(
            {k: v for k, v in props.items() if k in required},
            optional={k: v for k, v in props.items() if k not in required},
        )
        keys = st.sampled_from([*props, "x"])
        broken = st.builds(lambda body, key, value: {**body, key: value}, valid, keys, json_values)
        return valid | broken
    simple = {
        "string": st.text(max_size=20),
        "integer": st.integers(-(2**40), 2**40) | huge_ints,
        "number": st.floats(allow_nan=False) | st.integers(-5000, 5000) | huge_ints,
        "boolean": st.booleans(),
        "object": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    }
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), openapi), max_size=3)
    return simple.get(kind, json_values)


@pytest.fixture()
def client(webui):
    return webui.client()


def good_request(webui) -> dict:
    unit = {"model": webui.adapters["canny"], "module": "none", "image": b64(shapes()), "weight": 0.8}
    return {**JOB, "steps": 3, "alwayson_scripts": {"t2i-adapter": {"args": [unit]}}}


def test_routes_and_txt2img_survive_fuzzing_and_keep_serving(webui, client):
    before = send(client, "post", "/sdapi/v1/txt2img", json=good_request(webui))
    assert before.status_code == 200, before.text
    openapi = send(client, "get", "/openapi.json").json()
    detect_schema = openapi["paths"]["/t2i-adapter/detect"]["post"]["requestBody"]["content"]["application/json"]
    detect_bodies = from_schema(detect_schema["schema"], openapi)
    modules = st.sampled_from(["canny", "invert", "threshold", "clip_vision", "none", "nope", "CANNY"])
    with_images = st.builds(
        lambda body, imgs, module: {**body, "images": imgs, "module": module},
        detect_bodies,
        st.lists(images, max_size=2),
        modules,
    )

    @FUZZ
    @given(detect_bodies | with_images)
    def fuzz_detect(body):
        check(send(client, "post", "/t2i-adapter/detect", json=body))

    @settings(FUZZ, max_examples=10)
    @given(st.sampled_from(["/t2i-adapter/version", "/t2i-adapter/annotators", "/t2i-adapter/models"]), st.text())
    def fuzz_gets(path, refresh):
        check(send(client, "get", path, params={"refresh": refresh}))

    plausible_units = st.fixed_dictionaries(
        {"model": st.sampled_from([*webui.adapters.values(), "", "missing", 3])},
        optional={
            "image": images | st.lists(images, max_size=3),
            "module": modules,
            "weight": st.floats(-1, 3) | st.sampled_from(["0.5", None]) | huge_ints,
            "guidance_start": st.floats(0, 1) | huge_ints,
            "guidance_end": st.floats(0, 1),
            "processor_res": st.sampled_from([-1, 64, 1.5, "64"]) | huge_ints,
            "threshold_a": st.floats(-1, 300) | huge_ints,
            "annotator_params": st.dictionaries(st.sampled_from(["low_threshold", "x"]), json_values, max_size=2),
            "resize_mode": st.sampled_from([0, 1, 2, 3, "Just Resize"]),
            "control_mode": st.sampled_from([0, 2, "Balanced", "x"]),
            "enabled": st.booleans(),
        },
    )

    @settings(FUZZ, max_examples=25)
    @given(st.lists(plausible_units | unit_dicts, max_size=3))
    def fuzz_txt2img(units):
        body = {**JOB, "steps": 2, "alwayson_scripts": {"t2i-adapter": {"args": units}}}
        text = json.dumps(body, default=lambda o: o.item())  # numpy scalars of the unit fuzzer as JSON numbers
        check(send(client, "post", "/sdapi/v1/txt2img", content=text, headers={"content-type": "application/json"}))

    fuzz_detect()
    fuzz_gets()
    fuzz_txt2img()
    after = send(client, "post", "/sdapi/v1/txt2img", json=good_request(webui))
    assert after.status_code == 200 and after.json()["images"] == before.json()["images"]


def test_no_stored_setting_breaks_a_job(webui, client, monkeypatch):
    """The settings route: ``/sdapi/v1/options`` stores any JSON value for our options (the stand-in has no such
    route: the value is stored where the route would put it). Every job afterwards still answers 200."""
    before = send(client, "post", "/sdapi/v1/txt2img", json=good_request(webui))
    assert before.status_code == 200, before.text

    @settings(FUZZ, max_examples=15)
    @example(10**400, -(10**400))
    @given(json_values, json_values)
    def fuzz_settings(count, cache):
        monkeypatch.setattr(webui.shared.opts, "t2i_adapter_unit_count", count, raising=False)
        monkeypatch.setattr(webui.shared.opts, "t2i_adapter_model_cache_size", cache, raising=False)
        r = send(client, "post", "/sdapi/v1/txt2img", json=good_request(webui))
        assert r.status_code == 200 and r.json()["images"] == before.json()["images"], r.text[:300]

    fuzz_settings()

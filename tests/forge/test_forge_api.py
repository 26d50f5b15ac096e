"""The HTTP API on Forge: the same ``alwayson_scripts["t2i-adapter"]`` units and ``/t2i-adapter/*`` routes as on
A1111 (the same FastAPI app code; under Forge's pins this file runs with fastapi 0.104 and pydantic 2)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.webui.images import shapes
from tests.webui.test_api import JOB, b64, decode

pytest.importorskip("fastapi", reason="the API tests need fastapi")
pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")


@pytest.fixture()
def client(forge):
    return forge.client()


def post(client, units, **job):
    payload = {**JOB, **job}
    if units is not None:
        payload["alwayson_scripts"] = {"t2i-adapter": {"args": units}}
    return client.post("/sdapi/v1/txt2img", json=payload)


def api_unit(forge, **fields):
    return {"model": forge.adapters["canny"], "module": "none", "image": b64(shapes()), **fields}


def test_a_unit_changes_the_image_weight_zero_equals_plain_and_repeats_are_identical(forge, client):
    plain = post(client, None)
    guided = post(client, [api_unit(forge)])
    zero = post(client, [api_unit(forge, weight=0.0)])
    again = post(client, [api_unit(forge)])
    assert {r.status_code for r in (plain, guided, zero, again)} == {200}
    first = lambda r: decode(r.json()["images"][0])  # noqa: E731
    assert np.abs(first(plain) - first(guided)).max() > 8
    assert np.array_equal(first(plain), first(zero))
    assert np.array_equal(first(guided), first(again))
    assert "T2I-Adapter 0" in guided.json()["info"]
    assert forge.patchers["sd1"].patch_count() == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"model": "nope"}, "model"), ({"weight": 7}, "weight"), ({"image": "not base64!"}, "image"), ({"x": 1}, "x")],
)
def test_bad_units_answer_422_naming_the_field_and_the_next_job_is_clean(forge, client, fields, field):
    plain = post(client, None)
    r = post(client, [api_unit(forge, **fields)])
    assert r.status_code == 422, r.text
    assert field in r.text
    after = post(client, None)
    assert np.array_equal(decode(plain.json()["images"][0]), decode(after.json()["images"][0]))


def test_routes_answer_and_are_in_the_openapi_schema(forge, client):
    assert client.get("/t2i-adapter/version").status_code == 200
    models = client.get("/t2i-adapter/models").json()
    assert any(m["name"].startswith("t2iadapter_canny") for m in models["models"])
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/t2i-adapter/models", "/t2i-adapter/detect"} <= set(paths)

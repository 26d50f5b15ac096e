"""The ASGI guard on its own: chunked bodies are replayed intact, other routes and bodies pass untouched."""

import asyncio
import json

from t2i_host.api_guard import AlwaysonArgsGuard


def run(guard, path, chunks, method="POST"):
    received, sent = [], []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            received.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    guard.app = app
    asyncio.run(guard({"type": "http", "method": method, "path": path}, receive, send))
    return b"".join(received), sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def refuse_heavy(units, request):
    for unit in units:
        if unit.get("weight") == "heavy":
            raise ValueError("field 'weight': must be a number")


def test_chunked_body_reaches_the_app_intact():
    body = json.dumps({"prompt": "x" * 1000, "alwayson_scripts": {"T2I-Adapter": {"args": [{"weight": 1}]}}}).encode()
    guard = AlwaysonArgsGuard(None, validate=refuse_heavy)
    received, status, _ = run(guard, "/sdapi/v1/txt2img", [body[:300], body[300:700], body[700:]])
    assert status == 200 and received == body


def test_bad_unit_is_refused_with_422_json():
    body = json.dumps({"alwayson_scripts": {"t2i-adapter": {"args": [{"weight": "heavy"}]}}}).encode()
    received, status, answer = run(AlwaysonArgsGuard(None, validate=refuse_heavy), "/sdapi/v1/img2img", [body])
    assert status == 422 and received == b"" and "weight" in json.loads(answer)["detail"]


def test_other_routes_methods_and_non_json_bodies_pass():
    guard = AlwaysonArgsGuard(None, validate=refuse_heavy)
    bad = json.dumps({"alwayson_scripts": {"t2i-adapter": {"args": [{"weight": "heavy"}]}}}).encode()
    assert run(guard, "/sdapi/v1/options", [bad])[1] == 200
    assert run(guard, "/sdapi/v1/txt2img", [b"not json"])[1] == 200
    assert run(guard, "/sdapi/v1/txt2img", [b"[" * 100_000])[1] == 200  # too deep for json: FastAPI answers it
    assert run(guard, "/sdapi/v1/txt2img", [b"\xff\xfe"])[1] == 200
    assert run(guard, "/sdapi/v1/txt2img", [json.dumps({"prompt": "x"}).encode()])[1] == 200
    wrong_shape = json.dumps({"alwayson_scripts": {"t2i-adapter": ["not", "an", "object"]}}).encode()
    assert run(guard, "/sdapi/v1/txt2img", [wrong_shape])[1] == 422


def test_completed_request_reaches_the_app_and_is_validated():
    def complete(request):
        if "infotext" not in request:
            return None
        return {**request, "alwayson_scripts": {"t2i-adapter": {"args": [{"weight": request["infotext"]}]}}}

    guard = AlwaysonArgsGuard(None, validate=refuse_heavy, complete=complete)
    body = json.dumps({"prompt": "x", "infotext": 0.5}).encode()
    received, status, _ = run(guard, "/sdapi/v1/txt2img", [body[:5], body[5:]])
    assert status == 200
    assert json.loads(received)["alwayson_scripts"] == {"t2i-adapter": {"args": [{"weight": 0.5}]}}
    heavy = json.dumps({"infotext": "heavy"}).encode()
    received, status, answer = run(guard, "/sdapi/v1/txt2img", [heavy])
    assert status == 422 and received == b"" and "weight" in json.loads(answer)["detail"]
    untouched = json.dumps({"prompt": "y"}).encode()
    assert run(guard, "/sdapi/v1/txt2img", [untouched])[:2] == (untouched, 200)


def test_an_error_while_completing_answers_422_without_validation():
    def complete(request):
        raise ValueError("field 'infotext': it records an invalid unit")

    received, status, answer = run(AlwaysonArgsGuard(None, complete=complete), "/sdapi/v1/img2img", [b"{}"])
    assert status == 422 and received == b"" and json.loads(answer)["detail"].startswith("field 'infotext'")

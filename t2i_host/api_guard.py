"""The T2I-Adapter units of ``/sdapi/v1/txt2img`` and ``/img2img`` requests, settled before the WebUI runs them.

Pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``: reading the body there makes the endpoint hang in
Starlette 0.26) that reads the request body and finds the ``alwayson_scripts`` entry whose key is the script title
(case-insensitive, as the WebUI matches it), then:

1. ``complete(request)`` (optional) may return a changed request, e.g. with units restored from the request's
   ``infotext``: the WebUI itself restores only widgets it knows from an API ``infotext``, and ours are one
   ``gr.State`` per unit. The changed body is what the WebUI receives.
2. ``validate(units, request)`` (optional) answers 422 with a JSON body naming the unit and field: the WebUI runs
   script hooks inside try/except, so a unit error found during generation could only stop the job late.

Otherwise the body is replayed unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

#: validate(units, request) raises an exception with a message (and optional status_code, field) on bad units;
#: ``request`` is the whole decoded body (e.g. to see an ``override_settings`` checkpoint switch).
Validate = Callable[[list, dict], None]
#: complete(request) returns a changed copy of the decoded body, or None to keep it; raises like ``validate``.
Complete = Callable[[dict], "dict | None"]
GUARDED_PATHS = ("/sdapi/v1/txt2img", "/sdapi/v1/img2img")


class AlwaysonArgsGuard:
    """ASGI middleware: ``AlwaysonArgsGuard(app, title="t2i-adapter", validate=fn)``."""

    def __init__(
        self,
        app: Any,
        title: str = "t2i-adapter",
        validate: Validate | None = None,
        paths: Sequence[str] = GUARDED_PATHS,
        complete: Complete | None = None,
    ) -> None:
        self.app = app
        self.title = title.lower()
        self.validate = validate
        self.complete = complete
        self.paths = tuple(paths)

    async def __call__(self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable) -> None:
        if scope.get("type") != "http" or scope.get("method") != "POST" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        messages, body = [], b""
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] == "http.request":
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
            else:  # disconnect
                break
        request = _decode(body)
        try:
            changed = self.complete(request) if self.complete is not None and isinstance(request, dict) else None
            if changed is not None:
                request, body = changed, json.dumps(changed).encode()
                messages = [{"type": "http.request", "body": body, "more_body": False}]
            error = self.check(request)
        except Exception as e:  # complete's message names the field
            error = _refusal(e)
        if error is not None:
            status, payload = error
            data = json.dumps(payload).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": data})
            return
        replay = list(messages)

        async def replay_receive() -> dict:
            if replay:
                return replay.pop(0)
            return await receive()

        await self.app(scope, replay_receive, send)

    def entry(self, request: Any) -> Any:
        """The request's ``alwayson_scripts`` value for this script (None when absent)."""
        scripts = request.get("alwayson_scripts") if isinstance(request, dict) else None
        if not isinstance(scripts, dict):
            return None
        return next((v for k, v in scripts.items() if isinstance(k, str) and k.lower() == self.title), None)

    def check(self, request: Any) -> tuple[int, dict] | None:
        """``(status, json)`` for a request to refuse; None to let the WebUI handle it (also for bodies it rejects)."""
        if self.validate is None:
            return None
        entry = self.entry(request)
        if entry is None:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("args", []), list):
            msg = f'alwayson_scripts["{self.title}"] must be an object {{"args": [unit, ...]}}'
            return 422, error_body(msg, "args")
        try:
            self.validate(entry.get("args", []), request)
        except Exception as e:  # the validator's message names the unit and field
            return _refusal(e)
        return None


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (ValueError, RecursionError):  # ValueError includes UnicodeDecodeError
        return None  # not JSON (or nested too deeply to parse): FastAPI answers that itself


def _refusal(e: Exception) -> tuple[int, dict]:
    status = getattr(e, "status_code", 422)
    status = status if isinstance(status, int) and 400 <= status < 500 else 422
    return status, error_body(str(e), getattr(e, "field", ""))


def error_body(message: str, field: str = "") -> dict:
    """The WebUI API's error shape (``modules/api/api.py`` ``handle_exception``) plus the offending field."""
    return {"error": "T2IAdapterArgsError", "detail": message, "body": "", "errors": message, "field": field}

"""Reject bad T2I-Adapter units in ``/sdapi/v1/txt2img`` and ``/img2img`` requests with 422 before the WebUI runs them.

The WebUI runs script hooks inside try/except, so a unit error found during generation could only stop the job
late (after prompts and latents were prepared). This pure ASGI middleware reads the request body, validates the
``alwayson_scripts`` entry whose key is the script title (case-insensitive, as the WebUI matches it), and either
answers 422 with a JSON body naming the unit and field, or replays the body unchanged to the WebUI. Pure ASGI
(not Starlette's ``BaseHTTPMiddleware``) because reading the body there makes the endpoint hang in Starlette 0.26.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

#: validate(units, request) raises an exception with a message (and optional status_code, field) on bad units;
#: ``request`` is the whole decoded body (e.g. to see an ``override_settings`` checkpoint switch).
Validate = Callable[[list, dict], None]
GUARDED_PATHS = ("/sdapi/v1/txt2img", "/sdapi/v1/img2img")


class AlwaysonArgsGuard:
    """ASGI middleware: ``AlwaysonArgsGuard(app, title="t2i-adapter", validate=fn)``."""

    def __init__(
        self,
        app: Any,
        title: str = "t2i-adapter",
        validate: Validate | None = None,
        paths: Sequence[str] = GUARDED_PATHS,
    ) -> None:
        self.app = app
        self.title = title.lower()
        self.validate = validate
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
        error = self.check(body)
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

    def check(self, body: bytes) -> tuple[int, dict] | None:
        """``(status, json)`` for a request to refuse; None to let the WebUI handle it (also for bodies it rejects)."""
        if self.validate is None:
            return None
        try:
            request = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            return None  # not JSON: FastAPI answers that itself
        scripts = request.get("alwayson_scripts") if isinstance(request, dict) else None
        if not isinstance(scripts, dict):
            return None
        entry = next((v for k, v in scripts.items() if isinstance(k, str) and k.lower() == self.title), None)
        if entry is None:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("args", []), list):
            msg = f'alwayson_scripts["{self.title}"] must be an object {{"args": [unit, ...]}}'
            return 422, error_body(msg, "args")
        try:
            self.validate(entry.get("args", []), request)
        except Exception as e:  # the validator's message names the unit and field
            status = getattr(e, "status_code", 422)
            return (status if isinstance(status, int) and 400 <= status < 500 else 422), error_body(
                str(e), getattr(e, "field", "")
            )
        return None


def error_body(message: str, field: str = "") -> dict:
    """The WebUI API's error shape (``modules/api/api.py`` ``handle_exception``) plus the offending field."""
    return {"error": "T2IAdapterArgsError", "detail": message, "body": "", "errors": message, "field": field}

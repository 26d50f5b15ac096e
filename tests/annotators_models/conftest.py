"""Shared fixtures: a bounded local HTTP server for the downloader tests."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes: /good/NAME (whole file), /truncated/NAME (announces the full length, sends half, closes),
    /wrong/NAME (same length, different bytes), anything else 404."""

    files: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        parts = self.path.strip("/").split("/", 1)
        if len(parts) != 2 or parts[1] not in self.files:
            self.send_error(404)
            return
        mode, name = parts
        body = self.files[name]
        if mode == "wrong":
            body = bytes(reversed(body))
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.files[name])))
        self.end_headers()
        if mode == "truncated":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """(base URL, files dict to fill). Serves on 127.0.0.1 in a daemon thread; shut down after the test."""
    files: dict[str, bytes] = {}
    handler = type("Handler", (_Handler,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

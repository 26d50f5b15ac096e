"""The docs' API snippets (``<!-- docs: api -->``, see tests/test_docs.py) run as written against the stand-in WebUI,
served over HTTP on 127.0.0.1 in place of the WebUI's 7860."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from tests.test_docs import DOCS, ROOT, blocks, environment, lay_out_scratch, run_python

API_BLOCKS = [b for path in DOCS for b in blocks(path) if b.mode == "api"]


@pytest.fixture()
def served(webui):
    import uvicorn

    webui.client()  # builds the app: the WebUI's API and our routes
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(webui.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the stand-in's HTTP server did not start"
    yield port
    server.should_exit = True
    thread.join(10)


def test_the_docs_have_api_snippets():
    assert API_BLOCKS, "no <!-- docs: api --> block found: the API examples would go untested"


@pytest.mark.parametrize("block", API_BLOCKS, ids=str)
def test_api_snippet_runs_against_the_standin(block, served, tmp_path):
    lay_out_scratch(tmp_path)
    edges = np.zeros((64, 64), np.uint8)
    edges[16:48, 30:34] = 255
    Image.fromarray(edges).save(tmp_path / "edges.png")  # the condition image the snippets open
    run_python(block, tmp_path, environment(tmp_path), api_port=served)
    assert (ROOT / block.path).is_file()

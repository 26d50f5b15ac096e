"""Fixtures for the WebUI tests: the stand-in ``modules`` package goes on ``sys.path`` for this directory's tests
only and is removed from ``sys.modules`` afterwards; adapter files at the tiny UNets' widths go into the stand-in's
models folder."""

from __future__ import annotations

import pytest
import torch

from .harness import standin_session


@pytest.fixture(scope="session")
def standin(tmp_path_factory):
    pytest.importorskip("gradio", reason="the stand-in builds the extension's UI: needs gradio==3.41.2 (the WebUI's)")
    # one thread: the tiny UNets gain nothing from two, and OpenMP spinning on a shared 2-core machine costs a lot
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with standin_session(tmp_path_factory.mktemp("webui_data")) as ui:
            yield ui
    finally:
        torch.set_num_threads(threads)


@pytest.fixture()
def webui(standin):
    """The session's stand-in with SD1 loaded, default options, no interruption and no reported errors."""
    from modules import errors, shared

    standin.use("sd1")
    saved = dict(shared.opts.data)
    errors.reported.clear()
    shared.state.interrupted = False
    yield standin
    shared.opts.data.clear()
    shared.opts.data.update(saved)
    standin.use("sd1")

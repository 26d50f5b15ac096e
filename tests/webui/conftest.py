"""Fixtures for the WebUI tests: the stand-in ``modules`` package goes on ``sys.path`` for this directory's tests
only and is removed from ``sys.modules`` afterwards; adapter files at the tiny UNets' widths go into the stand-in's
models folder."""

from __future__ import annotations

import pytest

from .harness import fresh_job_state, one_torch_thread, standin_session


@pytest.fixture(scope="session")
def standin(tmp_path_factory):
    pytest.importorskip("gradio", reason="the stand-in builds the extension's UI: needs gradio==3.41.2 (the WebUI's)")
    with one_torch_thread(), standin_session(tmp_path_factory.mktemp("webui_data")) as ui:
        yield ui


@pytest.fixture()
def webui(standin):
    """The session's stand-in with SD1 loaded, default options, no interruption and no reported errors."""
    with fresh_job_state(standin) as ui:
        yield ui

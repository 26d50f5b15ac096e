"""Fixtures for the Forge tests: the A1111 stand-in with the Forge stand-in laid over it (tests/forge/standin)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest
import torch

from tests.webui.harness import standin_session

FORGE_STANDIN_DIR = Path(__file__).resolve().parent / "standin"


@contextlib.contextmanager
def forge_session(data_dir: Path):
    """What Forge changes, over the A1111 stand-in: ``modules_forge`` importable (the extension then takes its
    Forge path), the CFG denoiser through ``sampling_function``, ``forge_objects`` on every checkpoint, restored
    before every ``process_before_every_sampling``."""
    sys.path.insert(0, str(FORGE_STANDIN_DIR))
    try:
        import forge_standin as forge

        with standin_session(data_dir, families=("sd1", "sdxl")) as ui:
            from modules import scripts, sd_samplers_cfg_denoiser

            sd_samplers_cfg_denoiser.CFGDenoiser.forward = forge.forge_cfg_denoiser_forward
            before_sampling = scripts.ScriptRunner.process_before_every_sampling

            def process_before_every_sampling(self, p, **kwargs):
                forge.restore_forge_objects(p)
                return before_sampling(self, p, **kwargs)

            scripts.ScriptRunner.process_before_every_sampling = process_before_every_sampling
            ui.forge = forge
            ui.patchers = {name: forge.make_forge_model(model).shared_patcher for name, model in ui.models.items()}
            yield ui
    finally:
        sys.path.remove(str(FORGE_STANDIN_DIR))
        for name in ("forge_standin", "modules_forge"):
            sys.modules.pop(name, None)


@pytest.fixture(scope="package")
def forge_standin(tmp_path_factory):
    pytest.importorskip("gradio", reason="the stand-in builds the extension's UI: needs gradio")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with forge_session(tmp_path_factory.mktemp("forge_data")) as ui:
            yield ui
    finally:
        torch.set_num_threads(threads)


@pytest.fixture()
def forge(forge_standin):
    from modules import errors, shared

    forge_standin.use("sd1")
    saved = dict(shared.opts.data)
    errors.reported.clear()
    shared.state.interrupted = False
    forge_standin.forge.MAX_ENTRIES_PER_CALL = None
    yield forge_standin
    shared.opts.data.clear()
    shared.opts.data.update(saved)
    forge_standin.use("sd1")

"""Fixtures for the Forge tests: the A1111 stand-in with the Forge stand-in laid over it (tests/forge/standin)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

from tests.webui.harness import fresh_job_state, one_torch_thread, standin_session

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
            from modules import scripts, sd_models, sd_samplers_cfg_denoiser

            sd_models.forge_model_reload = forge.forge_model_reload

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
    with one_torch_thread(), forge_session(tmp_path_factory.mktemp("forge_data")) as ui:
        yield ui


@pytest.fixture()
def forge(forge_standin):
    """The Forge stand-in with SD1 loaded, default options, and every compatible cond entry in one UNet call."""
    forge_standin.forge.MAX_ENTRIES_PER_CALL = None
    with fresh_job_state(forge_standin) as ui:
        yield ui

"""The Train tab in a fresh WebUI process, as the real AUTOMATIC1111 v1.10.1 runs it: the extension's folder is on
``sys.path`` only while its scripts load (so a click handler that imports the trainer then fails), and ``torch.load``
is the WebUI's checking loader (which returns None for what torch 2.x saves). Driven by ``tab_in_fresh_webui.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gradio", reason="the stand-in builds the extension's UI")
pytest.importorskip("accelerate", reason="the trainer runs through accelerate")

HERE = Path(__file__).resolve().parent


def test_train_interrupt_resume_and_list_in_a_fresh_webui_process(tmp_path):
    from t2i_train.tiny import write_tiny_checkpoint
    from tests.train.helpers import write_pairs

    pairs = write_pairs(tmp_path / "pairs", 4)
    ckpt = write_tiny_checkpoint(tmp_path / "tiny-sd15.safetensors")  # only an older tab read the file
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "tab_in_fresh_webui.py"), str(tmp_path / "webui"), str(pairs), str(ckpt)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["repo_on_sys_path"] == "False"
    assert out["train"].startswith("Done"), out["train"]
    assert out["api_lists_it"] == "True"
    assert out["interrupt"].startswith("Interrupted"), out["interrupt"]
    assert out["resume"].startswith("Done"), out["resume"]

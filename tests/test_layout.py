"""The package boundaries the README promises: data flows glue → host layer → core, never back.

Each package is imported, with every module in it, in a fresh interpreter; the test fails when one of them pulled
in a module it must not know.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

WEBUI = ("modules", "gradio", "ldm", "sgm", "backend", "modules_forge")
WEB_STACK = ("fastapi", "starlette", "pydantic", "uvicorn")


def imported_top_level(package: str) -> set[str]:
    """Top-level module names in ``sys.modules`` after importing every module of ``package``."""
    code = f"""
import json, pkgutil, importlib, sys
import {package}
for m in pkgutil.walk_packages({package}.__path__, "{package}."):
    if not m.name.endswith("__main__"):  # runs the CLI
        importlib.import_module(m.name)
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_core_imports_only_torch_numpy_safetensors():
    mods = imported_top_level("t2i_ext")
    forbidden = {*WEBUI, *WEB_STACK, "annotators", "t2i_host", "PIL", "cv2", "transformers", "diffusers"}
    assert not mods & forbidden, f"t2i_ext imported {sorted(mods & forbidden)}"


def test_host_layer_never_imports_a_webui_or_the_annotators():
    mods = imported_top_level("t2i_host")
    forbidden = {*WEBUI, "annotators", "cv2"}
    assert not mods & forbidden, f"t2i_host imported {sorted(mods & forbidden)}"


@pytest.mark.parametrize("package", ["t2i_ext", "t2i_host"])
def test_web_stack_is_imported_only_when_routes_are_built(package):
    # the HTTP routes import fastapi/pydantic inside the function that builds them: importing the package is free
    assert not imported_top_level(package) & set(WEB_STACK)


def test_host_layer_modules_are_not_left_in_the_core():
    core = {p.stem for p in (ROOT / "t2i_ext").glob("*.py")}
    host = {p.stem for p in (ROOT / "t2i_host").glob("*.py")} - {"__init__"}
    assert not core & host, json.dumps(sorted(core & host))

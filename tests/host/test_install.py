"""install.py with a fake ``launch`` module: nothing when present, exact pinned commands when missing, no upgrades."""

import importlib.util
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_install():
    spec = importlib.util.spec_from_file_location("t2i_install", ROOT / "install.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run(monkeypatch, installed: set, protobuf: str | None):
    calls = []
    launch = types.ModuleType("launch")
    launch.is_installed = lambda name: name in installed
    launch.run_pip = lambda command, desc=None, live=False: calls.append(command)
    monkeypatch.setitem(sys.modules, "launch", launch)
    install = load_install()
    monkeypatch.setattr(install, "protobuf_version", lambda: protobuf)
    install.main()
    return calls, install


def test_everything_present_installs_nothing(monkeypatch):
    calls, install = run(monkeypatch, {"mediapipe", *(r.name for r in load_install().MEDIAPIPE_STACK)}, "4.25.9")
    assert calls == []


def test_webui_protobuf_blocks_mediapipe_and_is_never_upgraded(monkeypatch, capsys):
    calls, _ = run(monkeypatch, set(), "3.20.0")
    assert calls == []
    assert "protobuf 3.20.0" in capsys.readouterr().out


def test_missing_packages_get_exact_pinned_no_deps_commands(monkeypatch):
    install = load_install()
    have = {r.name for r in install.MEDIAPIPE_STACK} - {"mediapipe", "flatbuffers"}
    calls, _ = run(monkeypatch, have, "4.25.3")
    assert calls == ['install --no-deps "flatbuffers==24.3.25"', 'install --no-deps "mediapipe==0.10.21"']


@pytest.mark.parametrize("protobuf", ["3.20.0", "5.26.1", None])
def test_no_command_ever_upgrades_or_unpins(monkeypatch, protobuf):
    calls, _ = run(monkeypatch, set(), protobuf)
    for command in run(monkeypatch, set(), "4.25.9")[0] + calls:
        assert "==" in command and "--no-deps" in command and "-U" not in command and "--upgrade" not in command
        assert "protobuf" not in command and "numpy" not in command

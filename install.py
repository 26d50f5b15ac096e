"""Installs what this extension needs and the AUTOMATIC1111 WebUI (v1.10.1) lacks — and nothing else.

Run by the WebUI at launch as ``python install.py`` with the WebUI root on ``PYTHONPATH`` (so ``launch`` imports).
Rules: a package the WebUI already has is never upgraded, downgraded or replaced (``launch.is_installed`` first);
whatever is added is pinned (``==``) and installed with ``--no-deps``, each dependency listed here explicitly,
so pip cannot pull newer numpy/opencv/protobuf into the WebUI's environment.

Everything the adapters and the built-in annotators need (torch, numpy, safetensors, opencv, Pillow,
transformers) ships with the WebUI. The one optional extra is MediaPipe for the ``openpose_mediapipe`` and
``keypose_mediapipe`` annotators: mediapipe 0.10.21 (the last release that ships its pose model) needs
protobuf >= 4.25.3, < 5, while the WebUI pins protobuf 3.20.0; with 3.20 ``import mediapipe`` works but building
the pose graph fails ("ValidatedGraphConfig Initialization failed"). Upgrading protobuf could break the WebUI's
other users of it, so MediaPipe is installed only when the protobuf already present is compatible; otherwise
this prints why and the two annotators report the same reason when used (the OpenPose annotator, which needs no
MediaPipe, covers poses).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass

MEDIAPIPE = "mediapipe==0.10.21"
PROTOBUF_RANGE = ((4, 25, 3), (5, 0, 0))  # mediapipe 0.10.21's requirement: >=4.25.3,<5


@dataclass(frozen=True)
class Requirement:
    name: str  # distribution name as launch.is_installed takes it
    version: str
    why: str


#: MediaPipe and the runtime packages its pose solution imports (versions contemporary with WebUI v1.10.1 that
#: keep numpy 1.26.2), each installed only when missing.
MEDIAPIPE_STACK = (
    Requirement("absl-py", "2.1.0", "mediapipe"),
    Requirement("flatbuffers", "24.3.25", "mediapipe"),
    Requirement("attrs", "23.2.0", "mediapipe"),
    Requirement("matplotlib", "3.9.4", "mediapipe drawing utilities"),
    Requirement("contourpy", "1.3.0", "matplotlib"),
    Requirement("cycler", "0.12.1", "matplotlib"),
    Requirement("fonttools", "4.53.1", "matplotlib"),
    Requirement("kiwisolver", "1.4.7", "matplotlib"),
    Requirement("pyparsing", "3.1.4", "matplotlib"),
    Requirement("python-dateutil", "2.9.0.post0", "matplotlib"),
    Requirement("mediapipe", "0.10.21", "openpose_mediapipe / keypose_mediapipe annotators"),
)


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def protobuf_version() -> str | None:
    try:
        return importlib.metadata.version("protobuf")
    except importlib.metadata.PackageNotFoundError:
        return None


def mediapipe_blocker(protobuf: str | None) -> str | None:
    """Why MediaPipe cannot be installed next to this protobuf (None: it can)."""
    if protobuf is None:
        return "protobuf is not installed (the WebUI normally ships it)"
    lo, hi = PROTOBUF_RANGE
    if not lo <= _version_tuple(protobuf) < hi:
        return (
            f"it needs protobuf >=4.25.3,<5 but the WebUI has protobuf {protobuf}, which this installer will not "
            "replace; the OpenPose annotator works without it"
        )
    return None


def plan(is_installed: Callable[[str], bool], protobuf: str | None) -> tuple[list[str], list[str]]:
    """(pip commands to run, notes to print) for the current environment."""
    commands, notes = [], []
    if is_installed("mediapipe"):
        return commands, notes
    blocker = mediapipe_blocker(protobuf)
    if blocker:
        notes.append(f"T2I-Adapter: MediaPipe pose annotators unavailable: {blocker}.")
        return commands, notes
    for req in MEDIAPIPE_STACK:
        if not is_installed(req.name):
            commands.append(f'install --no-deps "{req.name}=={req.version}"')
    return commands, notes


def main() -> None:
    import launch

    commands, notes = plan(launch.is_installed, protobuf_version())
    for note in notes:
        print(note)
    for command in commands:
        launch.run_pip(command, desc=f"T2I-Adapter requirement: {command.split()[-1].strip(chr(34))}")


if __name__ == "__main__":
    main()

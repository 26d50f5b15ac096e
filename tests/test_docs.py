"""Every code block in the README and in docs/ runs, so a snippet cannot rot.

A markdown file is run top to bottom in one scratch folder, as a reader would follow it:

- a ```` ```console ```` block is a shell session: each ``$ `` line (with ``\\`` continuations) runs in bash, and the
  lines under it are its expected output, matched in order (``…`` inside a line matches anything; output lines not
  shown are allowed);
- a ```` ```python ```` block runs as a script in a fresh interpreter of the test environment;
- an HTML comment right above a fence says how else to run it: ``<!-- docs: api -->`` sends the snippet's
  ``requests`` calls to the stand-in WebUI instead of ``127.0.0.1:7860``; ``<!-- docs: webui-folder -->`` runs a
  console block inside a scratch folder laid out like a WebUI's; ``<!-- docs: not-run (reason) -->`` is allowed
  only for the suite itself (``./dev.sh test``), the main job (its own test runs it) and for what needs a GPU, a
  real WebUI or a download — the reason is shown and checked against that list, so it stays rare.

Code shown by indentation instead of a fence would escape all this, so it is refused.

``./dev.sh`` in a block is the repository's own script, called through a link in the scratch folder.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "annotators" / "README.md"]
FENCE = re.compile(r"(?:<!-- docs: (?P<mode>[^>]*?) -->\n)?```(?P<lang>[a-z]*)\n(?P<body>.*?)\n```", re.S)
NOT_RUN_ALLOWED = ("the test suite itself", "the main job", "needs a real WebUI", "needs a GPU", "downloads")
TIMEOUT_S = 300


@dataclass
class Block:
    path: Path
    line: int
    lang: str
    mode: str
    body: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} ({self.lang or 'plain'})"


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    return [Block(path, text.count("\n", 0, m.start("lang")) + 1, m["lang"], (m["mode"] or "").strip(), m["body"])
            for m in FENCE.finditer(text)]


def commands(session: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines (joined across ``\\`` continuations) with the output lines shown under each."""
    out: list[tuple[str, list[str]]] = []
    pending = ""
    for line in session.splitlines():
        if pending:
            pending += "\n" + line
            if not line.endswith("\\"):
                out.append((pending, []))
                pending = ""
        elif line.startswith("$ "):
            if line.endswith("\\"):
                pending = line[2:]
            else:
                out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"output before any $ command: {line!r}")
    return out


def matches(expected: list[str], output: str) -> str | None:
    """None when every expected line is found in ``output`` in order; else the first one that is not."""
    lines = output.splitlines()
    i = 0
    for want in (w for w in expected if w.strip()):
        pattern = re.compile(".*".join(re.escape(part) for part in want.strip().split("…")))
        while i < len(lines) and not pattern.search(lines[i]):
            i += 1
        if i == len(lines):
            return want
        i += 1
    return None


def environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    env["HOME"] = str(scratch / "home")  # nothing the docs do reaches the user's own caches
    env["REPO"] = str(ROOT)  # "the address of this repository" in the install instructions: this clone
    env.pop("PYTHONWARNINGS", None)
    return env


def run_console(block: Block, cwd: Path, env: dict[str, str]) -> None:
    for command, expected in commands(block.body):
        done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
        shown = done.stdout + done.stderr
        assert done.returncode == 0, f"{block}: `{command}` exited {done.returncode}:\n{shown[-3000:]}"
        assert "Traceback (most recent call last)" not in shown, f"{block}: `{command}` printed a traceback"
        missing = matches(expected, shown)
        assert missing is None, f"{block}: `{command}` did not print {missing!r}; it printed:\n{shown[-3000:]}"


def run_python(block: Block, cwd: Path, env: dict[str, str], api_port: int | None = None) -> None:
    code = block.body
    if api_port is not None:
        code = code.replace("127.0.0.1:7860", f"127.0.0.1:{api_port}")
    script = cwd / f"snippet_{block.line}.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, script.name], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S)
    assert done.returncode == 0, f"{block} failed:\n{(done.stdout + done.stderr)[-3000:]}"


def lay_out_scratch(scratch: Path) -> None:
    (scratch / "home").mkdir()
    (scratch / "dev.sh").symlink_to(ROOT / "dev.sh")
    (scratch / "docs").symlink_to(ROOT / "docs")  # the pictures the docs use as inputs, as in a clone


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_code_block_runs(path: Path, tmp_path: Path) -> None:
    lay_out_scratch(tmp_path)
    env = environment(tmp_path)
    for block in blocks(path):
        mode = block.mode
        if mode.startswith("not-run"):
            assert any(reason in mode for reason in NOT_RUN_ALLOWED), f"{block}: not run without an allowed reason"
            continue
        assert block.lang in ("console", "python"), f"{block}: a code block must be console or python to be run"
        if block.lang == "console":
            cwd = tmp_path
            if mode == "webui-folder":
                cwd = tmp_path / "stable-diffusion-webui"
                (cwd / "extensions").mkdir(parents=True, exist_ok=True)
            run_console(block, cwd, env)
        elif mode == "api":
            continue  # tests/webui/test_docs_api.py runs these against the stand-in WebUI
        else:
            run_python(block, tmp_path, env)


INDENTED_CODE = re.compile(r"\n\n( {4,}(?:\$ |\./|python|accelerate|git |import |from )[^\n]*)")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_is_shown_by_indentation(path: Path) -> None:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    found = INDENTED_CODE.findall(text)
    assert not found, f"{path.relative_to(ROOT)}: put these in a ```console or ```python block: {found}"


def test_the_harness_reads_sessions_and_output() -> None:
    session = "$ echo a \\\n  b\na b\n$ true"
    assert commands(session) == [("echo a \\\n  b", ["a b"]), ("true", [])]
    assert matches(["x … z"], "w\nx y z\n") is None
    assert matches(["x … z", "w"], "w\nx y z\n") == "w"  # order matters
    assert shlex.split("a 'b c'") == ["a", "b c"]

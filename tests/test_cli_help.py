"""Every command line's ``--help``: defaults shown, and every example it gives runs as written.

The examples are read from the help texts themselves (the lines under ``examples:``), so an example can no longer
name a flag that does not exist (``t2i_train --help`` once said ``python -m annotators list``). They run in a
fresh folder in the order given, in-process; a training example runs with ``--dry-run`` (the same validation as
the real run, which ``tests/train`` runs) so the suite stays fast.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: module → (main, its sub-commands); the order is the order their examples run in (training's data first)
CLIS = ("t2i_train", "annotators", "t2i_ext")
SUBCOMMANDS = {"t2i_train": ("demo-data", "train"), "annotators": (),
               "t2i_ext": ("inspect", "convert", "random-adapter", "selftest")}
NOISE = ("xformers", "making attention of type", "Working with z of shape", "TensorFlow Lite", "absl::",
         "Created TensorFlow", "Warning", "warn(")


def _main(module: str):
    import importlib

    return importlib.import_module(f"{module}.__main__" if module != "t2i_ext" else "t2i_ext.cli").main


def _run(module: str, argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = _main(module)(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 0
    return rc, out.getvalue(), err.getvalue()


def _help(module: str, sub: str | None = None) -> str:
    rc, out, err = _run(module, [sub, "--help"] if sub else ["--help"])
    assert rc == 0, err
    return out


def examples(text: str) -> list[list[str]]:
    lines = text.split("examples:", 1)[1].splitlines() if "examples:" in text else []
    return [shlex.split(line.strip()) for line in lines if line.strip().startswith("python -m ")]


@pytest.mark.parametrize(("module", "sub"), [(m, s) for m in CLIS for s in (None, *SUBCOMMANDS[m])])
def test_help_shows_the_defaults_and_examples(module, sub):
    text = _help(module, sub)
    if (module, sub) != ("t2i_train", None):  # the trainer's top level has sub-commands only, no options
        assert "(default: " in text, text
    assert examples(text), f"python -m {module} {sub or ''} --help gives no examples"


def test_every_example_in_every_help_runs_as_written(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # the tokenizer is built offline, as on a fresh machine
    seen: list[list[str]] = []
    for module in CLIS:
        for argv in examples(_help(module)):
            if argv not in seen:
                seen.append(argv)
    assert {argv[2] for argv in seen} == set(CLIS)  # each CLI gives examples
    for argv in seen:
        module, args = argv[2], argv[3:]
        if module == "annotators" and not Path("photo.png").exists():  # the examples' own inputs: demo images
            Path("photos").mkdir()
            for p in sorted(Path("demo/pairs/images").glob("*.png"))[:2]:
                Image.open(p).save(Path("photos") / p.name)
            Image.open(next(Path("photos").iterdir())).save("photo.png")
        if args[:1] == ["train"] and "--dry-run" not in args:
            args = [*args, "--dry-run"]
        rc, out, err = _run(module, args)
        assert rc == 0, f"{shlex.join(argv)} → {rc}\n{out}\n{err}"


@pytest.mark.parametrize("argv", [
    ["t2i_train", "--help"],
    ["t2i_train", "demo-data", "{tmp}/demo"],
    ["annotators", "{tmp}/demo/pairs/images", "-a", "keypose_mediapipe", "-o", "{tmp}/maps"],
    ["t2i_ext", "selftest", "--size", "64", "--steps", "1", "--repeats", "1"],
])
def test_commands_show_only_their_own_lines(tmp_path, argv):
    from t2i_train.toy import write_demo_pairs

    if "annotators" in argv:
        write_demo_pairs(tmp_path / "demo" / "pairs", 2)
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    run = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    noisy = [line for line in (run.stdout + run.stderr).splitlines() if any(n in line for n in NOISE)]
    assert not noisy, noisy


@pytest.mark.parametrize("verbose", [False, True])
def test_other_libraries_output_is_silenced_unless_verbose(capfd, verbose):
    import logging
    import os

    from t2i_ext.console import quiet_libraries

    with quiet_libraries(verbose) as (out, err):
        print("making attention of type 'vanilla'")  # a library's print
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate\n")  # a C library's line on descriptor 2
        logging.getLogger("some_library").warning("a library log line")
        logging.getLogger("annotators").warning("no person found")  # ours
        print("our line", file=out)
    captured = capfd.readouterr()
    text = captured.out + captured.err
    assert "our line" in captured.out and "no person found" in text
    for noise in ("making attention", "TensorFlow Lite", "a library log line"):
        assert (noise in text) == verbose, (noise, text)

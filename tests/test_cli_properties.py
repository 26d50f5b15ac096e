"""A property of every command line: whatever the arguments, it ends with exit code 0, 1 or 2 — never a Python
traceback — and no input file changes.

Hypothesis draws argument lists from each CLI's options with good, wrong and absurd values, and paths that are
missing, files of the wrong kind, folders, a read-only folder and a full filesystem (both as root: tmpfs mounts;
see ``tests/cli_fs.py``). The CLIs run in-process (``main(argv)``, ``SystemExit`` caught) to stay fast; training
always adds ``--dry-run`` (the real run's own edges are tested in ``tests/train/test_cli.py``). A few runs of the
real entry points (``python -m …``) close the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
SETTINGS = dict(max_examples=20, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Inputs of every kind, and places to write to (fresh, read-only, full, a file, an input folder)."""
    import torch
    from safetensors.torch import save_file

    from annotators import weights
    from t2i_ext.nets import FullAdapter
    from t2i_train.tiny import write_tiny_checkpoint
    from t2i_train.toy import write_demo_pairs

    from .cli_fs import full_folder, readonly_folder

    root = tmp_path_factory.mktemp("cli_world")
    inputs = root / "in"
    pairs = write_demo_pairs(inputs / "pairs", 2)
    write_tiny_checkpoint(inputs / "tiny-sd1.safetensors", "sd1")
    save_file(FullAdapter(1, (32, 64, 128, 128)).state_dict(), str(inputs / "adapter.safetensors"))
    torch.save({"x": torch.zeros(2)}, inputs / "not-an-adapter.pth")
    (inputs / "notes.txt").write_text("not a model, not an image")
    (inputs / "empty").mkdir()
    paths = {
        "missing": str(root / "missing"), "pairs": str(pairs), "images": str(pairs / "images"),
        "image": str(pairs / "images" / "000.png"), "base": str(inputs / "tiny-sd1.safetensors"),
        "adapter": str(inputs / "adapter.safetensors"), "pth": str(inputs / "not-an-adapter.pth"),
        "text": str(inputs / "notes.txt"), "empty": str(inputs / "empty"), "": "",
    }
    with contextlib.ExitStack() as stack:
        outs = {"file": str(inputs / "notes.txt"), "input folder": str(pairs / "images")}
        with contextlib.suppress(pytest.skip.Exception):
            outs["read-only"] = str(stack.enter_context(readonly_folder(root / "ro")) / "out")
        with contextlib.suppress(pytest.skip.Exception):
            outs["full"] = str(stack.enter_context(full_folder(root / "full")) / "out")
        old_env = os.environ.get(weights.ENV_MODELS_DIR)
        os.environ[weights.ENV_MODELS_DIR] = str(root / "models")  # no annotator weights, and no download:
        weights.set_mirror("http://127.0.0.1:9")  # nothing listens there
        try:
            yield {"root": root, "inputs": inputs, "paths": paths, "outs": outs, "count": itertools.count()}
        finally:
            weights.set_mirror(None)
            if old_env is None:
                os.environ.pop(weights.ENV_MODELS_DIR, None)
            else:
                os.environ[weights.ENV_MODELS_DIR] = old_env


def _digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _resolve(world, argv: list[str]) -> list[str]:
    """``{path:NAME}``/``{out:NAME}`` placeholders → real paths; ``{out:fresh}`` is new for every example."""
    out = []
    for a in argv:
        if a.startswith("{path:"):
            a = world["paths"][a[6:-1]]
        elif a.startswith("{out:"):
            name = a[5:-1]
            a = world["outs"].get(name) or str(world["root"] / f"fresh-{next(world['count'])}")
        out.append(a)
    return out


def _check(world, main, argv: list[str]) -> None:
    argv = _resolve(world, argv)
    before = _digest(world["inputs"])
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    text = err.getvalue()
    assert rc in (0, 1, 2), (argv, rc, text)
    assert TRACEBACK not in text, (argv, text)
    after = _digest(world["inputs"])
    assert {k: after.get(k) for k in before} == before, argv  # no input file changed (new files may appear)


PATHS = st.sampled_from(["{path:missing}", "{path:pairs}", "{path:images}", "{path:image}", "{path:base}",
                         "{path:adapter}", "{path:pth}", "{path:text}", "{path:empty}", "{path:}"])
OUTS = st.sampled_from(["{out:fresh}", "{out:file}", "{out:input folder}", "{out:read-only}", "{out:full}"])
NUMBERS = st.sampled_from(["0", "1", "-1", "3", "64", "100000", "1e400", "nan", "inf", "-inf", "abc", "",
                           "9" * 30, "0.5"])


def _flags(options: dict[str, st.SearchStrategy]) -> st.SearchStrategy[list[str]]:
    """Some of ``options``, each with a drawn value (``None``: a flag without a value)."""
    def one(name: str) -> st.SearchStrategy[list[str]]:
        values = options[name]
        return st.just([name]) if values is None else values.map(lambda v: [name, v])

    if not options:
        return st.just([])
    return st.lists(st.sampled_from(sorted(options)), max_size=4, unique=True).flatmap(
        lambda names: st.tuples(*(one(n) for n in names)).map(lambda parts: [a for p in parts for a in p]))


ANNOTATOR_OPTIONS = {
    "-a": st.sampled_from(["canny", "invert", "binary", "cany", "pidinet", "clip_vision", ""]),
    "-o": OUTS, "--low-threshold": NUMBERS, "--resolution": NUMBERS, "--param": st.sampled_from(
        ["low_threshold=50", "nope=1", "=", "low_threshold", "resolution=1e400"]), "--bogus": NUMBERS,
    "--list": None, "--verbose": None,
}


@settings(**SETTINGS)
@given(argv=st.tuples(st.lists(PATHS, max_size=2), _flags(ANNOTATOR_OPTIONS)).map(lambda t: t[0] + t[1]))
@example(argv=["{path:image}", "-a", "invert", "-o", "{out:input folder}"])  # once wrote a map over its input
def test_annotators_cli_never_tracebacks_nor_changes_an_input(world, argv):
    from annotators.__main__ import main

    _check(world, main, argv)


EXT_COMMANDS = {
    "inspect": {"--json": None},
    "convert": {"--to": st.sampled_from(["safetensors", "diffusers", "onnx", ""]), "--half": None, "--out": OUTS},
    "random-adapter": {"--arch": st.sampled_from(["light", "nope", ""]),  # light: the smallest published one
                       "--in-channels": NUMBERS, "--seed": NUMBERS, "--half": None, "-o": OUTS},
    # sizes and steps stay small when valid: a real self-test runs
    "selftest": {"--size": st.sampled_from(["0", "64", "100", "-64", "100000", "x", "1e400"]),
                 "--steps": st.sampled_from(["0", "1", "-1", "nan", "1000000"]),
                 "--repeats": st.sampled_from(["0", "1", "-3", "x"])},
}


@st.composite
def ext_argv(draw) -> list[str]:
    command = draw(st.sampled_from([*EXT_COMMANDS, "bogus"]))
    positional = draw(st.lists(PATHS, max_size=1)) if command in ("inspect", "convert", "bogus") else []
    return [command, *positional, *draw(_flags(EXT_COMMANDS.get(command, {})))]


@settings(**{**SETTINGS, "max_examples": 12})  # some draws run a real self-test or write an 18.7 M-param adapter
@given(argv=ext_argv())
@example(argv=["selftest", "--size", "0"])  # once a traceback
@example(argv=["convert", "{path:adapter}", "--to", "safetensors", "--out", "{out:full}"])  # once SafetensorError
def test_t2i_ext_cli_never_tracebacks_nor_changes_an_input(world, argv):
    from t2i_ext.cli import main

    _check(world, main, argv)


TRAIN_OPTIONS = {
    "--seed": NUMBERS, "--lr": NUMBERS, "--resolution": NUMBERS, "--min-size": NUMBERS, "--steps": NUMBERS,
    "--batch-size": NUMBERS, "--grad-accumulation": NUMBERS, "--sample-every": NUMBERS, "--sample-steps": NUMBERS,
    "--checkpoint-every": NUMBERS, "--in-channels": NUMBERS, "--buckets": None, "--architecture": st.sampled_from(
        ["full", "light", "heavy"]), "--annotator": st.sampled_from(["canny", "cany", "pidinet", "clip_vision"]),
    "--annotator-params": st.sampled_from(['{"low":100}', '{"low_threshold": 50}', "[1]", "{", "1e400", "{}"]),
    "--init-adapter": PATHS, "--tokenizer": PATHS, "--resume": st.sampled_from(["latest", "{path:missing}",
                                                                                 "{path:empty}"]),
    "--cache": OUTS, "--prediction-type": st.sampled_from(["auto", "v", "x"]),
}


@st.composite
def train_argv(draw) -> list[str]:
    if draw(st.integers(0, 9)) == 0:
        return ["demo-data", draw(OUTS), *draw(st.sampled_from([[], ["--pairs", "0"], ["--pairs", "2"]]))]
    base, data = draw(st.sampled_from(["{path:base}", "{path:base}", "{path:adapter}", "{path:text}",
                                       "{path:missing}", "{path:pairs}"])), draw(PATHS)
    flags = draw(_flags(TRAIN_OPTIONS))
    return ["train", base, data, "-o", draw(OUTS), "--resolution", "64", *flags, "--dry-run"]


@settings(**{**SETTINGS, "max_examples": 15})
@given(argv=train_argv())
@example(argv=["train", "{path:base}", "{path:pairs}", "-o", "{out:fresh}", "--resolution", "64", "--annotator",
               "cany", "--dry-run"])  # once a traceback
@example(argv=["train", "{path:base}", "{path:pairs}", "-o", "{out:fresh}", "--resolution", "64", "--init-adapter",
               "{path:text}", "--dry-run"])
def test_t2i_train_cli_never_tracebacks_nor_changes_an_input(world, argv):
    from t2i_train.__main__ import main

    _check(world, main, argv)


@pytest.mark.parametrize(("argv", "code"), [
    (["t2i_train", "train", "missing.safetensors", "missing-folder", "--seed", "-1"], 2),
    (["annotators", "missing-folder", "-a", "cany", "-o", "maps"], 2),
    (["t2i_ext", "selftest", "--size", "0"], 2),
])
def test_the_real_entry_points_answer_in_one_line(tmp_path, argv, code):
    run = subprocess.run([sys.executable, "-m", *argv], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert run.returncode == code and TRACEBACK not in run.stderr, run.stderr
    assert run.stderr.strip().splitlines()[-1].split(": error: ")[-1].startswith(("error", "argument", "unknown",
                                                                                    "seed"))

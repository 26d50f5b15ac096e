"""The command line: --dry-run validates and plans without training; a short run writes every output."""

import pytest
from PIL import Image

from t2i_train.__main__ import main
from t2i_train.tiny import write_tiny_checkpoint

from .helpers import write_pairs


@pytest.fixture(scope="module")
def sd1_file(tmp_path_factory):
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-sd1.safetensors", "sd1")


def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, sd1_file, tokenizer_cache, capsys):
    data = write_pairs(tmp_path / "d", 3, size=(64, 96))
    rc = main(["train", str(sd1_file), str(data), "-o", str(tmp_path / "out"), "--resolution", "64", "--steps", "10",
               "--batch-size", "2", "--grad-accumulation", "2", "--buckets", "--cache", str(tokenizer_cache),
               "--dry-run"])
    out = capsys.readouterr().out
    assert rc == 0 and "10 steps × batch 2 × accumulation 2 × 1 process(es) = 4 images a step" in out
    assert "SD1 · full · 3-channel" in out and "memory" in out and "80×48: 3" in out
    assert not (tmp_path / "out" / "adapter.safetensors").exists() and not (tmp_path / "out" / "checkpoints").exists()


def test_bad_data_and_unknown_models_fail_before_any_work(tmp_path, sd1_file, tokenizer_cache, capsys):
    data = write_pairs(tmp_path / "d", 2)
    (data / "conditions" / "000.png").unlink()
    rc = main(["train", str(sd1_file), str(data), "-o", str(tmp_path / "out"), "--resolution", "64"])
    assert rc == 2 and "000.png has no condition map" in capsys.readouterr().err
    (tmp_path / "lora.safetensors").write_bytes(b"")
    import torch
    from safetensors.torch import save_file

    save_file({"lora_unet_x.lora_down.weight": torch.zeros(2)}, str(tmp_path / "lora.safetensors"))
    Image.new("L", (64, 64)).save(data / "conditions" / "000.png")
    rc = main(["train", str(tmp_path / "lora.safetensors"), str(data), "-o", str(tmp_path / "out"),
               "--resolution", "64", "--cache", str(tokenizer_cache)])
    assert rc == 2 and "LoRA" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_short_run_writes_adapter_diffusers_folder_loss_curve_and_sample_grids(tmp_path, sd1_file):
    import t2i_ext

    data = write_pairs(tmp_path / "d", 2)
    out = tmp_path / "out"
    rc = main(["train", str(sd1_file), str(data), "-o", str(out), "--resolution", "64", "--steps", "2",
               "--in-channels", "1", "--sample-every", "2", "--sample-count", "1", "--sample-steps", "2",
               "--checkpoint-every", "1", "--save-diffusers", "--lr", "1e-4"])
    assert rc == 0
    adapter = t2i_ext.load_adapter(out / "adapter.safetensors")
    assert adapter.in_channels == 1 and adapter.base == "SD1"
    assert t2i_ext.load_adapter(out / "adapter-diffusers").in_channels == 1
    grid = Image.open(out / "samples" / "step-000002.png")
    assert grid.size[0] >= 3 * 64 and grid.size[1] >= 64  # condition | without adapter | with adapter, labelled
    assert Image.open(out / "loss.png").size[0] > 100
    assert (out / "checkpoints" / "step-000001" / "state.json").exists()
    assert len(list((out / "cache").glob("latents-*/*.safetensors"))) == 2  # one cache file per pair
    assert (out / "cache" / "clip_tokenizer" / "vocab.json").exists()  # built offline from open_clip's BPE file


# -- every option checked before any work: what the dry run accepts, the real run accepts ----------------------
def _train(sd1_file, data, out, *extra, cache=None):
    args = ["train", str(sd1_file), str(data), "-o", str(out), "--resolution", "64", "--in-channels", "1"]
    return main(args + (["--cache", str(cache)] if cache else []) + [str(e) for e in extra])


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.replace("\r", "\n").splitlines()
             if line.strip() and "%|" not in line and not line.startswith(("checkpoint: ", "samples: "))]
    assert "Traceback" not in err and len(lines) == 1, err  # the progress lines aside: one line
    return lines[0]


@pytest.mark.parametrize(("extra", "says"), [
    (["--seed", "-1"], "seed must be a whole number from 0"),
    (["--lr", "inf"], "learning_rate must be a finite number"),
    (["--lr", "nan"], "learning_rate must be a finite number"),
    (["--resolution", "100000", "--min-size", "1"], "resolution must be a whole number from 8 to 4096"),
    (["--annotator", "cany"], "did you mean 'canny'"),
    (["--annotator", "canny", "--annotator-params", '{"low":100}'], "has no parameter 'low'"),
    (["--annotator", "canny", "--annotator-params", '{"low_threshold": 1e400}'], "low_threshold"),
    (["--annotator-params", '{"low_threshold": 100}'], "without an annotator"),
    (["--sample-steps", "0"], "sample_steps"),
])
@pytest.mark.parametrize("dry_run", [True, False])
def test_bad_options_are_refused_in_one_line_before_any_work(tmp_path, sd1_file, tokenizer_cache, capsys, extra,
                                                            says, dry_run):
    data = write_pairs(tmp_path / "d", 1)
    rc = _train(sd1_file, data, tmp_path / "out", *extra, *(["--dry-run"] if dry_run else []), cache=tokenizer_cache)
    assert rc == 2 and says in _one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_an_annotator_without_its_weights_is_refused_up_front_saying_where_to_put_them(tmp_path, sd1_file,
                                                                                      tokenizer_cache, capsys,
                                                                                      monkeypatch):
    from annotators import weights

    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(tmp_path / "models"))
    weights.set_mirror("http://127.0.0.1:9")  # nothing listens there: the download fails at once
    try:
        rc = _train(sd1_file, write_pairs(tmp_path / "d", 1), tmp_path / "out", "--annotator", "pidinet",
                    "--dry-run", cache=tokenizer_cache)
    finally:
        weights.set_mirror(None)
    assert rc == 2 and f"save it as {tmp_path / 'models' / 'table5_pidinet.pth'}" in _one_line_error(capsys)


def test_an_output_that_cannot_be_written_is_refused_by_the_dry_run(tmp_path, sd1_file, tokenizer_cache, capsys):
    from tests.cli_fs import readonly_folder

    data = write_pairs(tmp_path / "d", 1)
    (tmp_path / "file").write_text("x")
    assert _train(sd1_file, data, tmp_path / "file", "--dry-run", cache=tokenizer_cache) == 2
    assert "is a file" in _one_line_error(capsys)
    with readonly_folder(tmp_path / "ro") as ro:
        assert _train(sd1_file, data, ro / "out", "--dry-run", cache=tokenizer_cache) == 2
        assert "not writable" in _one_line_error(capsys)


def test_a_full_disk_during_the_run_is_one_line_and_leaves_no_partial_file(tmp_path, sd1_file, tokenizer_cache,
                                                                         capsys, monkeypatch):
    import t2i_train.export as export

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "out" / "adapter.safetensors"))

    monkeypatch.setattr(export, "save_safetensors", full)
    rc = _train(sd1_file, write_pairs(tmp_path / "d", 1), tmp_path / "out", "--steps", "1", cache=tokenizer_cache)
    err = _one_line_error(capsys)
    assert rc == 1 and "No space left on device" in err and "--resume latest" in err
    assert not (tmp_path / "out" / "adapter.safetensors").exists()


def test_an_init_adapter_whose_pickle_carries_code_is_refused_in_one_line_and_nothing_runs(tmp_path, sd1_file,
                                                                                         tokenizer_cache, capsys):
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    import torch

    torch.save({"weight": Payload()}, tmp_path / "evil.pth", pickle_module=pickle)
    rc = _train(sd1_file, write_pairs(tmp_path / "d", 1), tmp_path / "out", "--init-adapter", tmp_path / "evil.pth",
                "--dry-run", cache=tokenizer_cache)
    assert rc == 2 and "evil.pth" in _one_line_error(capsys) and not marker.exists()


def test_a_tokenizer_whose_vocab_is_not_json_is_refused_in_one_line(tmp_path, sd1_file, capsys):
    tok = tmp_path / "tok"
    tok.mkdir()
    (tok / "vocab.json").write_text("{not json")
    (tok / "merges.txt").write_text("#version: 0.2\n")
    rc = _train(sd1_file, write_pairs(tmp_path / "d", 1), tmp_path / "out", "--tokenizer", tok, "--dry-run")
    assert rc == 2 and "vocab.json is not JSON" in _one_line_error(capsys)


def test_a_non_finite_loss_stops_at_once_keeps_the_last_good_checkpoint_and_writes_no_adapter(
        tmp_path, sd1_file, tokenizer_cache, capsys, monkeypatch):
    import t2i_train.loop as loop

    real, calls = loop.adapter_loss, []

    def diverging(*args, **kwargs):
        calls.append(1)
        loss = real(*args, **kwargs)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(loop, "adapter_loss", diverging)
    out = tmp_path / "out"
    rc = _train(sd1_file, write_pairs(tmp_path / "d", 1), out, "--steps", "5", "--checkpoint-every", "2",
                cache=tokenizer_cache)
    err = _one_line_error(capsys)
    assert rc == 1 and "nan at step 3" in err and "step-000002" in err and "--learning-rate" in err
    assert len(calls) == 3  # stopped at once
    assert not (out / "adapter.safetensors").exists()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000002"]


def _raise_on_call(n: int, real=None):
    calls = []

    def fn(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    return fn


@pytest.mark.parametrize(("phase", "module", "name", "call", "kept"), [
    ("loading", "t2i_train.api", "load_base_model", 1, "no checkpoint"),
    ("precompute", "t2i_train.api", "precompute", 1, "no checkpoint"),
    ("a step", "t2i_train.loop", "adapter_loss", 2, "step-000001"),
    ("a checkpoint", "t2i_train.loop", "save_checkpoint", 1, "step-000001"),
    ("the loss plot", "t2i_train.report", "save_loss_curve", 1, "step-000001"),
    ("the export", "t2i_train.export", "export_adapter", 1, "step-000002"),
])
def test_ctrl_c_at_any_moment_ends_in_one_line_saying_what_was_kept_and_how_to_resume(
        tmp_path, sd1_file, tokenizer_cache, capsys, monkeypatch, phase, module, name, call, kept):
    import importlib

    mod = importlib.import_module(module)
    monkeypatch.setattr(mod, name, _raise_on_call(call, getattr(mod, name)))
    out = tmp_path / "out"
    rc = _train(sd1_file, write_pairs(tmp_path / "d", 1), out, "--steps", "2", "--checkpoint-every", "1",
                cache=tokenizer_cache)
    err = [_one_line_error(capsys)]
    assert rc == 130 and len(err) == 1 and err[0].startswith("interrupted") and kept in err[0], (phase, err)
    assert ("--resume latest" in err[0]) == (kept != "no checkpoint")
    assert not (out / "adapter.safetensors").exists() and not list(out.rglob("*.tmp*"))
    monkeypatch.undo()
    resume = ["--resume", "latest"] if kept != "no checkpoint" else []
    assert _train(sd1_file, tmp_path / "d", out, "--steps", "2", "--checkpoint-every", "1", *resume,
                  cache=tokenizer_cache) == 0
    assert (out / "adapter.safetensors").is_file()


def test_resume_latest_on_a_finished_run_trains_on_and_replaces_its_adapter(tmp_path, sd1_file, tokenizer_cache,
                                                                          capsys):
    from safetensors.torch import load_file

    data, out = write_pairs(tmp_path / "d", 1), tmp_path / "out"
    assert _train(sd1_file, data, out, "--steps", "1", "--lr", "1e-3", cache=tokenizer_cache) == 0
    first = load_file(str(out / "adapter.safetensors"))
    assert _train(sd1_file, data, out, "--steps", "2", "--lr", "1e-3", "--resume", "latest",
                  cache=tokenizer_cache) == 0
    second = load_file(str(out / "adapter.safetensors"))
    assert any(not (first[k] == second[k]).all() for k in first)
    assert (out / "checkpoints" / "step-000002").is_dir() and not list(out.glob(".adapter*"))
    capsys.readouterr()
    assert _train(sd1_file, data, out, "--steps", "2", "--resume", "latest", cache=tokenizer_cache) == 2
    assert "already finished at step 2" in _one_line_error(capsys)


def test_the_progress_rate_counts_real_steps_from_the_first_one():
    import io
    import time

    from t2i_train.__main__ import ProgressBar
    from t2i_train.loop import Progress

    bar = ProgressBar(io.StringIO())
    bar(Progress(1, 10, 0.5, 0.0, 0.0))
    assert bar.bar.format_dict["rate"] is None and bar.bar.n == 1  # one step seen: no rate yet
    time.sleep(0.05)
    bar(Progress(2, 10, 0.5, 0.0, 0.0))
    d = bar.bar.format_dict  # tqdm shows its smoothed rate, or (n - initial) / elapsed before it has one
    rate = d["rate"] or (d["n"] - d["initial"]) / max(1e-9, d["elapsed"])
    assert rate < 25  # one step in ≥ 50 ms; the old bar showed thousands of steps a second
    bar.close()


def test_demo_data_gives_a_base_model_and_pairs_that_train(tmp_path, tokenizer_cache, capsys):
    assert main(["demo-data", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "python -m t2i_train train" in out
    demo = tmp_path / "demo"
    assert len(list((demo / "pairs" / "images").glob("*.png"))) == 8
    assert _train(demo / "tiny-sd1.safetensors", demo / "pairs", tmp_path / "run", "--steps", "2",
                  cache=tokenizer_cache) == 0
    assert (tmp_path / "run" / "adapter.safetensors").is_file()
    assert main(["demo-data", str(demo)]) == 2  # never over an existing folder


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_run_whose_memory_estimate_exceeds_the_device_is_refused_before_any_work(tmp_path, sd1_file, tokenizer_cache,
                                                                                  capsys, monkeypatch, dry_run):
    import t2i_train.api as api

    monkeypatch.setattr(api, "device_memory", lambda: 1024**2)  # a device of 1 MiB: nothing fits
    data = write_pairs(tmp_path / "d", 1)
    rc = _train(sd1_file, data, tmp_path / "out", *(["--dry-run"] if dry_run else []), cache=tokenizer_cache)
    assert rc == 2 and "lower --resolution or --batch-size" in _one_line_error(capsys)
    assert not (tmp_path / "out" / "adapter.safetensors").exists()

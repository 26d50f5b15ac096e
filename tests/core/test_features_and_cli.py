"""One adapter pass with offload, CoAdapter fusion into a unit, and the command line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from diffusers import T2IAdapter

import t2i_ext
from t2i_ext.cli import main
from t2i_ext.nets import CoAdapterFuser, FullAdapter, StyleAdapter

from .reference import TINY_CHANNELS, diffusers_adapter, to_original_keys


def test_compute_features_casts_to_the_unet_dtype_and_offloads_the_weights():
    adapter = FullAdapter(1, TINY_CHANNELS).eval()
    cond = torch.rand(1, 1, 64, 64)
    feats = t2i_ext.compute_features(adapter, cond, device="cpu", dtype=torch.float16, offload=True)
    assert [f.dtype for f in feats] == [torch.float16] * 4
    assert all(p.device.type == "cpu" for p in adapter.parameters())
    assert torch.allclose(feats[0].float(), adapter(cond)[0], atol=1e-2)


def test_compute_features_runs_a_channels_last_condition_in_the_standard_layout():
    adapter = FullAdapter(3, TINY_CHANNELS).eval()
    cond = torch.rand(1, 3, 64, 64)
    feats = t2i_ext.compute_features(adapter, cond.to(memory_format=torch.channels_last))
    assert all(f.is_contiguous() for f in feats)
    assert all(torch.equal(f, g) for f, g in zip(feats, t2i_ext.compute_features(adapter, cond)))


def test_compute_features_returns_style_tokens_for_the_style_adapter():
    style = StyleAdapter(64, 32, 4, 1).eval()
    tokens = t2i_ext.compute_features(style, torch.randn(1, 257, 64))
    assert tokens.shape == (1, 8, 32)
    assert t2i_ext.AdapterUnit(features=tokens).tokens is tokens


def test_fuse_builds_one_unit_from_weighted_adapter_outputs():
    fuser = CoAdapterFuser(TINY_CHANNELS, width=32, num_head=4, layers=1).eval()
    a = FullAdapter(1, TINY_CHANNELS).eval()(torch.rand(1, 1, 64, 64))
    b = FullAdapter(3, TINY_CHANNELS).eval()(torch.rand(1, 3, 64, 64))
    tokens = torch.randn(1, 8, 32)
    unit = t2i_ext.fuse(fuser, [("sketch", a, 0.5), ("depth", b, 1.5), ("style", tokens, 1.0)], end=0.5)
    # an untrained fuser is a plain sum of the weighted outputs
    assert all(torch.allclose(f, 0.5 * x + 1.5 * y, atol=1e-6) for f, x, y in zip(unit.maps, a, b))
    assert torch.allclose(unit.tokens, tokens) and unit.weight == 1.0 and unit.end == 0.5


REPO = Path(__file__).resolve().parents[2]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "t2i_ext", *map(str, args)], capture_output=True, text=True, cwd=REPO)


def test_inspect_says_kind_base_channels_parameters_and_format(tmp_path):
    ref = diffusers_adapter("xl_1ch")
    ref.half().save_pretrained(tmp_path / "sketch-xl", variant="fp16")
    out = _run("inspect", tmp_path / "sketch-xl", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["kind"] == "full" and info["base"] == "SDXL" and info["input_channels"] == 1
    assert info["parameters"] == 77_553_600 and info["size_multiple"] == 16
    assert info["format"] == "diffusers folder (safetensors)" and info["stored_dtype"] == ["float16"]
    text = _run("inspect", tmp_path / "sketch-xl").stdout
    assert "SDXL · full · 1-channel · 77.6 M params · sizes ×16" in text


def test_inspect_of_a_non_adapter_fails_with_the_reason(tmp_path):
    (tmp_path / "x.pth").write_bytes(b"not weights at all")
    out = _run("inspect", tmp_path / "x.pth")
    assert out.returncode == 1 and "not model weights" in out.stderr


@pytest.mark.parametrize("name", ["full_3ch", "light", "xl_3ch"])
@pytest.mark.parametrize("half", [False, True])
def test_convert_to_diffusers_loads_in_diffusers_with_the_same_outputs(tmp_path, name, half):
    ref = diffusers_adapter(name, TINY_CHANNELS)
    sd = to_original_keys(ref.state_dict(), name == "light", ref.config.num_res_blocks)
    torch.save(sd, tmp_path / "a.pth")
    argv = ["convert", str(tmp_path / "a.pth"), "--to", "diffusers", "--out", str(tmp_path / "out")] + (
        ["--half"] if half else []
    )
    assert main(argv) == 0
    # as the README says it loads: no variant argument, also for the fp16 export
    loaded = T2IAdapter.from_pretrained(tmp_path / "out").float().eval()
    ours = t2i_ext.load_adapter(tmp_path / "a.pth")
    if half:
        ours = t2i_ext.load_adapter({k: v.half() for k, v in sd.items()})
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert max((a - b).abs().max().item() for a, b in zip(loaded(x), ours(x))) <= 1e-5


def test_convert_to_safetensors_round_trips_and_never_overwrites(tmp_path, capsys):
    adapter = FullAdapter(1, TINY_CHANNELS)
    torch.save(adapter.state_dict(), tmp_path / "canny.pth")
    assert main(["convert", str(tmp_path / "canny.pth"), "--to", "safetensors", "--half"]) == 0
    out = tmp_path / "canny-fp16.safetensors"
    loaded = t2i_ext.load_adapter(out, dtype=torch.float16)
    assert all(torch.equal(loaded.state_dict()[k], v.half()) for k, v in adapter.state_dict().items())
    assert main(["convert", str(tmp_path / "canny.pth"), "--to", "safetensors", "--half"]) == 1
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canny-fp16.safetensors", "canny.pth"]  # no temp leftovers


def test_style_adapters_cannot_become_diffusers_folders(tmp_path, capsys):
    torch.save(StyleAdapter(64, 32, 4, 1).state_dict(), tmp_path / "style.pth")
    assert main(["convert", str(tmp_path / "style.pth"), "--to", "diffusers"]) == 1
    assert "diffusers has no class for a SD1 style adapter" in capsys.readouterr().err


def test_selftest_runs_with_no_download_and_reports_effect_and_cost():
    out = _run("selftest", "--size", "128", "--steps", "3", "--repeats", "1")
    assert out.returncode == 0, out.stderr
    assert "UNet bit-identical afterwards: yes" in out.stdout and "result: OK" in out.stdout
    effect = float(out.stdout.split("adapter effect on the latent : ")[1].split("%")[0])
    assert effect > 0.1


def test_convert_on_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path, capsys):
    from tests.cli_fs import full_folder

    torch.save(FullAdapter(1, TINY_CHANNELS).state_dict(), tmp_path / "canny.pth")
    with full_folder(tmp_path / "full") as full:
        for to in ("safetensors", "diffusers"):
            assert main(["convert", str(tmp_path / "canny.pth"), "--to", to, "--out", str(full / "x")]) == 1
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and "No space left on device" in err and "Traceback" not in err
            assert [p.name for p in full.iterdir()] == ["filler"]


def test_convert_refuses_to_write_over_its_input(tmp_path, capsys):
    save = tmp_path / "canny.safetensors"
    from safetensors.torch import save_file

    save_file(FullAdapter(1, TINY_CHANNELS).state_dict(), str(save))
    before = save.read_bytes()
    assert main(["convert", str(save), "--to", "safetensors", "--out", str(save)]) == 1
    assert "is the input itself" in capsys.readouterr().err and save.read_bytes() == before


@pytest.mark.parametrize("argv", [["--size", "0"], ["--size", "100000"], ["--size", "100"], ["--steps", "0"],
                                  ["--repeats", "0"]])
def test_selftest_options_out_of_range_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(["selftest", *argv])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "error: argument --" in err and "Traceback" not in err


@pytest.mark.parametrize(("arch", "reference"), [("full", "full_1ch"), ("light", "light"), ("xl", "xl_1ch")])
def test_random_adapter_has_the_published_key_names_and_shapes(tmp_path, arch, reference):
    ref = diffusers_adapter(reference)  # diffusers' class at the published widths
    want = to_original_keys(ref.state_dict(), arch == "light", ref.config.num_res_blocks)
    in_channels = 3 if arch == "light" else 1
    assert main(["random-adapter", "--arch", arch, "--in-channels", str(in_channels), "--half",
                 "-o", str(tmp_path / "a.safetensors")]) == 0
    from safetensors.torch import load_file

    got = load_file(str(tmp_path / "a.safetensors"))
    assert {k: tuple(v.shape) for k, v in got.items()} == {k: tuple(v.shape) for k, v in want.items()}
    assert {v.dtype for v in got.values()} == {torch.float16}


@pytest.mark.parametrize(("arch", "kind", "params"), [("style", "style", 38_587_392), ("fuser", "fuser", 27_285_184)])
def test_random_style_and_fuser_adapters_load_as_what_they_are(tmp_path, arch, kind, params):
    assert main(["random-adapter", "--arch", arch, "-o", str(tmp_path / "a.safetensors")]) == 0
    adapter = t2i_ext.load_adapter(tmp_path / "a.safetensors")
    assert adapter.kind == kind and adapter.num_parameters == params  # the published counts
    assert main(["random-adapter", "--arch", arch, "-o", str(tmp_path / "a.safetensors")]) == 1  # never over a file


def test_random_adapter_refuses_in_channels_for_an_adapter_without_a_condition_image(tmp_path, capsys):
    from t2i_ext.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["random-adapter", "--arch", "style", "--in-channels", "1", "-o", str(tmp_path / "s.safetensors")])
    assert exit_.value.code == 2 and "takes no condition image" in capsys.readouterr().err
    assert not (tmp_path / "s.safetensors").exists()

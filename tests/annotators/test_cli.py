"""`python -m annotators` run as a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.annotators.conftest import OFFLINE_ANNOTATORS

REPO = Path(__file__).resolve().parents[2]
OFFLINE = (*OFFLINE_ANNOTATORS, "openpose_mediapipe", "keypose_mediapipe")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "annotators", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def folder(tmp_path: Path, astronaut) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(astronaut).save(src / "a_astronaut.png")
    Image.fromarray(astronaut).convert("L").resize((333, 517)).save(src / "c_grey.jpg")
    (src / "b_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    (src / "notes.txt").write_text("not an image, ignored")
    return src


def test_folder_with_a_corrupt_image_processes_the_rest_reports_it_and_exits_1(folder, tmp_path, astronaut):
    out = tmp_path / "out"
    result = _cli(str(folder), "--annotator", "canny", "--out", str(out))
    assert result.returncode == 1
    assert "b_corrupt.png" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a_astronaut.png", "c_grey.png"]
    written = np.array(Image.open(out / "a_astronaut.png"))
    np.testing.assert_array_equal(written, cv2.Canny(astronaut, 100, 200))
    assert np.array(Image.open(out / "c_grey.png")).shape == (517, 333)


def test_parameters_as_flags_and_as_param_name_value(tmp_path, astronaut):
    src = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(src)
    result = _cli(
        str(src), "-a", "canny", "--low-threshold", "40", "--param", "high_threshold=120", "--out", str(tmp_path / "o")
    )
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "o" / "astronaut.png")), cv2.Canny(astronaut, 40, 120))


def test_out_of_range_parameter_is_a_usage_error_naming_it(tmp_path, astronaut):
    src = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(src)
    result = _cli(str(src), "-a", "canny", "--low-threshold", "999", "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "low_threshold" in result.stderr and "[1, 255]" in result.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_annotator_is_a_usage_error_listing_the_names(tmp_path):
    result = _cli(str(tmp_path), "-a", "cany", "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "unknown annotator 'cany'" in result.stderr and "canny" in result.stderr


def test_list_prints_every_annotator_with_params_weights_and_suits():
    result = _cli("--list")
    assert result.returncode == 0, result.stderr
    # Names as a fresh process registers them (this test process may hold extra test-only registrations).
    fresh = subprocess.run(
        [sys.executable, "-c", "import annotators; print(' '.join(annotators.names()))"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    assert set(OFFLINE) <= set(fresh)
    for name in fresh:
        assert f"\n{name}  [" in "\n" + result.stdout
    assert "--low-threshold: low_threshold=100 [1..255, step 1]" in result.stdout
    assert "weights: none (offline)" in result.stdout
    assert "suits: canny" in result.stdout


def test_pose_cli_writes_an_rgb_skeleton(tmp_path, astronaut):
    src = tmp_path / "astronaut.png"
    Image.fromarray(astronaut).save(src)
    result = _cli(str(src), "-a", "openpose_mediapipe", "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    out = np.array(Image.open(tmp_path / "o" / "astronaut.png"))
    assert out.shape == (512, 512, 3) and out.any()


def test_exif_rotation_is_applied_before_annotating(tmp_path, astronaut):
    src = tmp_path / "rotated.jpg"
    img = Image.fromarray(astronaut).resize((320, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    img.save(src, exif=exif)
    result = _cli(str(src), "-a", "canny", "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    assert np.array(Image.open(tmp_path / "o" / "rotated.png")).shape == (320, 200)  # displayed as portrait


def test_out_that_is_an_existing_file_is_a_one_line_usage_error(tmp_path, astronaut, capsys):
    from annotators.__main__ import main

    src, out = tmp_path / "a.png", tmp_path / "taken.txt"
    Image.fromarray(astronaut).save(src)
    out.write_text("not a folder")
    assert main([str(src), "--annotator", "canny", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a file, not a folder" in err and "Traceback" not in err


def test_a_fifo_as_input_is_a_usage_error_not_a_hang(tmp_path, capsys):
    import os

    from annotators.__main__ import main

    os.mkfifo(tmp_path / "pipe.png")  # Image.open would wait for a writer forever
    assert main([str(tmp_path / "pipe.png"), "--annotator", "canny", "--out", str(tmp_path / "maps")]) == 2
    assert "not an image file or a folder" in capsys.readouterr().err


# -- outputs never destroy inputs; weights once, up front; every write whole or not at all ----------------------
def _digests(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _pairs(tmp_path: Path, n: int = 2) -> Path:
    src = tmp_path / "imgs"
    src.mkdir()
    for i in range(n):
        Image.fromarray(np.full((32, 48, 3), 40 * i, np.uint8)).save(src / f"{i}.png")
    return src


@pytest.mark.parametrize("single_file", [False, True])
def test_an_output_folder_that_would_overwrite_an_input_is_refused_and_nothing_changes(tmp_path, capsys,
                                                                                      single_file):
    from annotators.__main__ import main

    src = _pairs(tmp_path)
    before = _digests(src)
    given = src / "0.png" if single_file else src
    assert main([str(given), "-a", "invert", "-o", str(src)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "would overwrite the input" in err and "0.png" in err
    assert _digests(src) == before


def test_missing_weights_are_reported_once_up_front_with_where_to_put_them(tmp_path, capsys, monkeypatch):
    from annotators import weights
    from annotators.__main__ import main

    monkeypatch.setenv(weights.ENV_MODELS_DIR, str(tmp_path / "models"))
    weights.set_mirror("http://127.0.0.1:9")  # nothing listens there: the download fails at once
    try:
        rc = main([str(_pairs(tmp_path, 3)), "-a", "pidinet", "-o", str(tmp_path / "maps")])
    finally:
        weights.set_mirror(None)
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1
    assert f"save it as {tmp_path / 'models' / 'table5_pidinet.pth'}" in err
    assert not (tmp_path / "maps").exists()


def test_a_failed_write_keeps_the_older_map_whole_leaves_no_partial_file_and_stops_in_one_line(
        tmp_path, capsys, monkeypatch):
    import errno

    from PIL import Image as PILImage

    from annotators.__main__ import main

    src, out = _pairs(tmp_path), tmp_path / "maps"
    out.mkdir()
    (out / "0.png").write_bytes(b"the older map")
    real_save = PILImage.Image.save

    def disk_full(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)  # some bytes reach the disk, then it is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PILImage.Image, "save", disk_full)
    assert main([str(src), "-a", "invert", "-o", str(out)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "img/s" not in line and line.strip()]
    assert len(err) == 1 and "No space left on device" in err[0] and str(out / "0.png") in err[0]
    assert _digests(out) == {"0.png": b"the older map"}  # untouched, and no temporary file left


def test_a_full_or_read_only_output_folder_is_one_line_and_leaves_nothing(tmp_path, capsys):
    from annotators.__main__ import main
    from tests.cli_fs import full_folder, readonly_folder

    src = _pairs(tmp_path)
    with readonly_folder(tmp_path / "ro") as ro:
        assert main([str(src), "-a", "invert", "-o", str(ro)]) == 1
        err = [line for line in capsys.readouterr().err.splitlines() if "img/s" not in line and line.strip()]
        assert len(err) == 1 and ("Read-only" in err[0] or "Permission denied" in err[0])
        assert not list(ro.iterdir())
    with full_folder(tmp_path / "full") as full:
        assert main([str(src), "-a", "invert", "-o", str(full)]) == 1
        err = [line for line in capsys.readouterr().err.splitlines() if "img/s" not in line and line.strip()]
        assert len(err) == 1 and "No space left on device" in err[0]
        assert [p.name for p in full.iterdir()] == ["filler"]


def test_ctrl_c_keeps_the_maps_written_so_far_whole_and_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    import annotators
    from annotators.__main__ import main

    real, calls = annotators.run, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(annotators, "run", interrupted)
    out = tmp_path / "maps"
    assert main([str(_pairs(tmp_path, 3)), "-a", "invert", "-o", str(out)]) == 130
    err = [line for line in capsys.readouterr().err.splitlines() if "img/s" not in line and line.strip()]
    assert len(err) == 1 and err[0].startswith("interrupted: 1 of 3")
    assert [p.name for p in out.iterdir()] == ["0.png"] and Image.open(out / "0.png").size == (48, 32)

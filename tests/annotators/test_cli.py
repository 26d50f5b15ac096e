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
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path / "pipe.png"), "--annotator", "canny", "--out", str(tmp_path / "maps")])
    assert e.value.code == 2 and "not an image file or a folder" in capsys.readouterr().err

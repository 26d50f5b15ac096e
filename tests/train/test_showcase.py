"""The main job (``./dev.sh run``): a photo's condition map steers a tiny UNet through an adapter fitted on the spot.

One quick run as a user would start it; its picture, its report and its stderr are checked. The IoU check is the
honest one: the report's "with" figure must beat its "without" figure, photo by photo, measured in that run.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from t2i_train import showcase

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("showcase") / "picture.png"
    proc = subprocess.run([sys.executable, "-m", "t2i_train.showcase", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    return proc, out


def test_quick_run_writes_a_picture_with_three_titled_columns_of_cells(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = Image.open(out)
    rows = len(showcase.PHOTOS)
    assert image.size == showcase.figure_size(rows)
    assert image.text["columns"].split(" | ") == list(showcase.COLUMNS)
    pixels = np.asarray(image.convert("L"))
    for left, top, right, _bottom in showcase.column_boxes(rows):
        title = pixels[top - showcase.TITLE : top, left:right]
        assert (title < 100).sum() > 50, "a column has no title"
        for r in range(rows):
            y = top + r * (showcase.CELL + showcase.CAPTION + showcase.GAP)
            cell = pixels[y : y + showcase.CELL, left:right]
            assert cell.std() > 20, "a cell is blank"  # black and white blobs, not a flat fill
    assert not list(out.parent.glob("*.tmp")), "a temporary file was left behind"


def test_quick_run_reports_iou_gain_cost_interval_and_ok(quick_run):
    proc, out = quick_run
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "OK", proc.stdout
    ious = {m[1]: (float(m[2]), float(m[3])) for m in re.finditer(r"^\s+(\w+\.png)\s+([\d.]+) -> ([\d.]+)$",
                                                                     proc.stdout, re.M)}
    assert set(ious) == {f"{name}.png" for name, _ in showcase.PHOTOS}
    for name, (without, with_adapter) in ious.items():
        assert with_adapter > without, f"{name}: the adapter did not raise the IoU ({without} -> {with_adapter})"
    cost = re.search(r"with / without the adapter.*: ×([\d.]+), (\d+)% interval ×([\d.]+)–×([\d.]+) \(median of (\d+) "
                     r"paired rounds\)", proc.stdout)
    assert cost, proc.stdout
    median, low, high = (float(cost[i]) for i in (1, 3, 4))
    assert 0 < low <= median <= high
    assert int(cost[5]) == showcase.QUICK.rounds
    assert str(out) in proc.stdout


def test_quick_run_says_nothing_that_reads_as_a_problem(quick_run):
    proc, _ = quick_run
    noise = re.compile(r"error|warn|traceback|exception|fail|making attention|xformers", re.I)
    assert not [line for line in (proc.stdout + proc.stderr).splitlines() if noise.search(line)]
    # progress: one bar per phase, each finished
    for phase in ("annotate photos", "teach the tiny UNet", "fit the adapter", "generate", "time with / without"):
        assert re.search(re.escape(phase) + r"\s+100%", proc.stderr), phase


def test_photos_are_read_from_the_installed_package_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the showcase tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    for name, _ in showcase.PHOTOS:
        photo = showcase.load_photo(name)
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
        assert showcase.photo_path(name).is_file()


def _folder_named_png(tmp: Path) -> Path:
    (tmp / "x.png").mkdir()
    return tmp / "x.png"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "picture.jpg", "ending in .png"),
        (lambda tmp: tmp / "no_such_folder" / "p.png", "does not exist"),
        (_folder_named_png, "that is a folder"),
        (lambda tmp: showcase.photo_path("camera"), "input photos"),
    ],
)
def test_bad_output_paths_are_refused_before_any_work(tmp_path, make, message, capsys):
    with pytest.raises(SystemExit) as exc:
        showcase.main(["--out", str(make(tmp_path))])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "".join(err)


@pytest.mark.filterwarnings("error")
def test_condition_maps_and_their_outline_raise_no_warning():
    # our own warnings are not silenced by the quiet boundary's filter in tests; torch warned on a read-only array
    condition = showcase.condition_map(showcase.load_photo("camera"), {"dark_lines": True}, 128)
    assert condition.shape == (128, 128) and condition.dtype == np.uint8 and 0 < condition.mean() < 255
    assert showcase._outline(condition).any()
    assert showcase.iou(torch.zeros(1, 4, 16, 16), condition).item() == 0.0


@pytest.mark.parametrize("seed", ["-1", "x", str(2**32)])
def test_a_bad_seed_is_a_usage_error(seed, capsys):
    with pytest.raises(SystemExit) as exc:
        showcase.main(["--seed", seed])
    assert exc.value.code == 2
    assert "--seed" in capsys.readouterr().err


def test_a_failed_write_leaves_the_old_picture_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "picture.png"
    path.write_bytes(b"the old picture")

    class Broken:
        def save(self, f, **kwargs):
            f.write(b"half")
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        showcase.save_png(Broken(), path)
    assert path.read_bytes() == b"the old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["picture.png"]

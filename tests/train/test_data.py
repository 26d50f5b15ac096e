"""Training folders: validation report, crops and buckets, annotator cache."""

import pytest
from PIL import Image

from t2i_train import DatasetError
from t2i_train.data import annotate, bucket_sizes, load_pair, place, scan_folder

from .helpers import write_pairs


def test_folder_report_lists_every_problem_at_once(tmp_path):
    root = write_pairs(tmp_path / "d", 3)
    Image.new("RGB", (64, 64)).save(root / "images" / "lonely.png")  # no condition map
    Image.new("L", (64, 64)).save(root / "conditions" / "orphan.png")  # no image
    (root / "images" / "broken.png").write_bytes(b"not a png at all")
    Image.new("L", (64, 64)).save(root / "conditions" / "broken.png")
    Image.new("RGB", (32, 40)).save(root / "images" / "small.png")
    Image.new("L", (32, 40)).save(root / "conditions" / "small.png")
    Image.new("L", (48, 64)).save(root / "conditions" / "001.png")  # map size differs from its image
    with pytest.raises(DatasetError) as err:
        scan_folder(root, min_size=64)
    text = str(err.value)
    assert len(err.value.problems) == 5
    for name in ("lonely.png", "orphan.png", "broken.png", "small.png is 32×40", "001.png is 48×64"):
        assert name in text


def test_valid_folder_gives_pairs_with_captions(tmp_path):
    samples = scan_folder(write_pairs(tmp_path / "d", 2), min_size=64)
    assert [s.caption for s in samples] == ["picture 0", "picture 1"]
    image, cond = load_pair(samples[0], place(samples[0].size, 64, 8, False), channels=1)
    assert image.shape == (3, 64, 64) and cond.shape == (1, 64, 64)
    assert -1 <= image.min() and image.max() <= 1 and set(cond.ravel().tolist()) <= {0.0, 1.0}


def test_captions_that_are_not_utf8_text_are_reported_and_a_bom_is_dropped(tmp_path):
    import os

    root = write_pairs(tmp_path / "d", 4)
    (root / "images" / "000.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))  # saved by another tool
    (root / "images" / "001.txt").unlink()
    os.mkfifo(root / "images" / "001.txt")  # would hang a plain read
    (root / "images" / "002.txt").write_bytes("\ufeffa red house".encode("utf-8"))  # Notepad's byte-order mark
    with pytest.raises(DatasetError) as err:
        scan_folder(root, min_size=64)
    assert len(err.value.problems) == 2
    assert "000.txt is not a UTF-8 text file" in str(err.value) and "001.txt" in str(err.value)
    (root / "images" / "000.txt").write_text("café au lait", encoding="utf-8")
    (root / "images" / "001.txt").unlink()
    assert [s.caption for s in scan_folder(root, min_size=64)][:3] == ["café au lait", "", "a red house"]


@pytest.mark.parametrize("multiple", [8, 16])
def test_centre_crop_and_buckets_give_the_families_size_multiples(multiple):
    crop = place((300, 500), 128, multiple, buckets=False)
    assert crop.target == (128, 128) and crop.resized == (128, 213) and crop.left == (213 - 128) // 2
    wide = place((300, 600), 128, multiple, buckets=True)
    assert wide.target[1] > wide.target[0]
    for h, w in bucket_sizes(128, multiple):
        assert h % multiple == 0 and w % multiple == 0 and h * w <= 128 * 128
    assert wide.resized[0] >= wide.target[0] and wide.resized[1] >= wide.target[1]


def test_annotator_maps_are_made_once_and_cached(tmp_path, monkeypatch):
    import annotators

    root = tmp_path / "d"
    write_pairs(root, 2)
    samples = scan_folder(root, min_size=64, with_annotator=True)
    calls = []
    real = annotators.run
    monkeypatch.setattr(annotators, "run", lambda name, im, **kw: calls.append(name) or real(name, im, **kw))
    first = annotate(samples, "invert", {}, tmp_path / "cache")
    second = annotate(samples, "invert", {}, tmp_path / "cache")
    assert calls == ["invert", "invert"] and [s.condition for s in first] == [s.condition for s in second]
    with pytest.raises(ValueError, match="unknown annotator"):
        annotate(samples, "no-such-annotator", {}, tmp_path / "cache")


@pytest.mark.parametrize("where", ["images", "conditions"])
def test_two_files_for_one_sample_are_reported_with_both_names(tmp_path, where):
    root = write_pairs(tmp_path / "d", 2)
    mode = "RGB" if where == "images" else "L"
    Image.new(mode, (64, 64)).save(root / where / "000.jpg")  # beside 000.png: which one is the sample?
    Image.new(mode, (64, 64)).save(root / where / "Ab.png")
    Image.new(mode, (64, 64)).save(root / where / "aB.webp")  # one file on Windows and macOS
    with pytest.raises(DatasetError) as err:
        scan_folder(root, min_size=64)
    text = str(err.value)
    assert "000.jpg" in text and "000.png" in text and "Ab.png" in text and "aB.webp" in text


def test_an_image_whose_header_claims_too_many_pixels_is_refused_before_decoding(tmp_path):
    root = write_pairs(tmp_path / "d", 1)
    Image.new("1", (9000, 9000)).save(root / "images" / "000.png")  # a few kB that decode to 81 megapixels
    with pytest.raises(DatasetError, match="000.png .*megapixel"):
        scan_folder(root, min_size=64)

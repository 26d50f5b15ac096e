"""img2img batch: the processed picture's file is found by content; the condition by file stem."""

import numpy as np
from PIL import Image

from t2i_host.batch_match import InputFolderIndex, find_by_stem


def test_input_file_found_by_content_and_condition_by_stem(tmp_path):
    inputs, conditions = tmp_path / "in", tmp_path / "cond"
    inputs.mkdir()
    conditions.mkdir()
    rng = np.random.default_rng(0)
    pictures = {name: (rng.random((12, 16, 3)) * 255).astype(np.uint8) for name in ("cat", "dog")}
    for name, array in pictures.items():
        Image.fromarray(array).save(inputs / f"{name}.png")
        Image.fromarray(255 - array).save(conditions / f"{name}.jpg")
    (inputs / "notes.txt").write_text("x")
    index = InputFolderIndex()
    found = index.find(inputs, pictures["dog"])
    assert found.name == "dog.png"
    assert find_by_stem(conditions, found.stem).name == "dog.jpg"
    assert index.find(inputs, np.zeros((12, 16, 3), np.uint8)) is None
    assert find_by_stem(conditions, "bird") is None and find_by_stem(tmp_path / "missing", "dog") is None


def test_webui_signals_for_the_input_name():
    from t2i_host.batch_match import job_index, natural_sort_key, stem_from_pattern

    assert stem_from_pattern("photo_01-[generation_number]") == "photo_01"
    assert stem_from_pattern("photo_01") == "photo_01"
    assert stem_from_pattern("[seed]-[prompt_spaces]") is None and stem_from_pattern(None) is None
    assert job_index("3 out of 10") == 2 and job_index("standin") is None
    assert sorted(["img10", "img2", "Img1"], key=natural_sort_key) == ["Img1", "img2", "img10"]


def test_walk_images_follows_the_batch_tabs_order(tmp_path):
    from t2i_host.batch_match import walk_images

    for name in ("b10.png", "b2.png", "a.txt", "c.JPG"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a1.png").write_bytes(b"")
    assert [p.name for p in walk_images(tmp_path)] == ["b2.png", "b10.png", "c.JPG", "a1.png"]

"""img2img batch: the processed picture's file is found by content; the condition by file stem."""

import numpy as np
from PIL import Image

from t2i_ext.batch_match import InputFolderIndex, find_by_stem


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

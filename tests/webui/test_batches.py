"""Batches: one condition shared by every image, or one condition per image (list, or the img2img batch tab's
folder matched by file name)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import t2i_ext

from .images import pixels, shapes
from .oracle import UNetRecorder, assert_calls_match, features_for

PROMPTS = ["a house by a lake", "a tree on a hill at noon"]
NEGATIVES = ["blurry", "dark and grainy"]


def canny(webui):
    return webui.data_dir / "models/T2I-Adapter" / (webui.adapters["canny"] + ".safetensors")


def unit(webui, image):
    return {"enabled": True, "model": webui.adapters["canny"], "module": "none", "image": image}


@pytest.mark.parametrize("layout", ["batched", "separate", "long_prompt"])
def test_one_condition_per_image_reaches_that_images_rows(webui, layout):
    from modules import shared

    prompts = list(PROMPTS)
    if layout == "separate":
        shared.opts.batch_cond_uncond = False
    if layout == "long_prompt":
        prompts[1] = " ".join(f"word{i}" for i in range(90))
    a, b = shapes(seed=10), shapes(seed=11)
    with UNetRecorder(webui.unet) as rec:
        webui.txt2img([unit(webui, [a, b])], batch_size=2, prompt=prompts, negative_prompt=NEGATIVES)
    assert_calls_match(
        webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=features_for(canny(webui), [a, b]))], [0, 1]
    )


def test_each_image_of_a_batch_equals_its_own_single_job(webui):
    a, b = shapes(seed=10), shapes(seed=11)
    batch = webui.txt2img([unit(webui, [a, b])], batch_size=2, prompt=PROMPTS, negative_prompt=NEGATIVES)
    one = webui.txt2img([unit(webui, a)], prompt=PROMPTS[0], negative_prompt=NEGATIVES[0], seed=1234)
    two = webui.txt2img([unit(webui, b)], prompt=PROMPTS[1], negative_prompt=NEGATIVES[1], seed=1235)
    # batch.images[0] is the grid
    assert int(np.abs(pixels(batch, 1) - pixels(one)).max()) <= 1
    assert int(np.abs(pixels(batch, 2) - pixels(two)).max()) <= 1


def test_one_condition_is_shared_by_every_image(webui):
    a = shapes(seed=10)
    with UNetRecorder(webui.unet) as rec:
        webui.txt2img([unit(webui, a)], batch_size=2, prompt=PROMPTS, negative_prompt=NEGATIVES)
    assert_calls_match(webui.unet, rec.calls, [t2i_ext.AdapterUnit(features=features_for(canny(webui), [a]))], [0, 1])


def test_the_same_image_sent_once_per_batch_image_is_one_shared_condition(webui):
    a = shapes(seed=10)
    from t2i_webui.caches import FEATURES as cache

    cache.clear()
    before = cache.passes
    shared = webui.txt2img([unit(webui, a)], batch_size=2, prompt=PROMPTS, negative_prompt=NEGATIVES)
    twice = webui.txt2img([unit(webui, [a, a.copy()])], batch_size=2, prompt=PROMPTS, negative_prompt=NEGATIVES)
    assert cache.passes - before == 1  # the second job found the shared condition's features: same content, one pass
    assert all(np.array_equal(pixels(shared, i), pixels(twice, i)) for i in (1, 2))


def test_wrong_number_of_condition_images_is_an_error_before_sampling(webui):
    imgs = [shapes(seed=i) for i in range(3)]
    with UNetRecorder(webui.unet) as rec, pytest.raises(Exception, match="image"):
        webui.txt2img([unit(webui, imgs)], batch_size=2, prompt=PROMPTS, negative_prompt=NEGATIVES)
    assert rec.calls == []


def test_img2img_batch_tab_takes_condition_images_from_a_folder_by_file_name(webui, tmp_path):
    inputs, conds = tmp_path / "in", tmp_path / "cond"
    inputs.mkdir()
    conds.mkdir()
    init = np.full((64, 64, 3), 90, np.uint8)
    for name, seed in (("a", 20), ("b", 21)):
        Image.fromarray(init).save(inputs / f"{name}.png")
        Image.fromarray(shapes(seed=seed)).save(conds / f"{name}.png")
    with UNetRecorder(webui.unet) as rec:
        results = webui.img2img_batch(
            str(inputs),
            [{"enabled": True, "model": webui.adapters["canny"], "module": "none", "batch_folder": str(conds)}],
        )
    assert len(results) == 2
    per_job = len(rec.calls) // 2
    for k, seed in enumerate((20, 21)):
        calls = rec.calls[k * per_job : (k + 1) * per_job]
        assert_calls_match(
            webui.unet, calls, [t2i_ext.AdapterUnit(features=features_for(canny(webui), [shapes(seed=seed)]))], [0]
        )


def test_a_batch_folder_condition_image_over_the_pixel_limit_or_unreadable_is_an_error_naming_the_folder(
    webui, tmp_path, monkeypatch
):
    from t2i_host import images

    inputs, conds = tmp_path / "in", tmp_path / "cond"
    inputs.mkdir()
    conds.mkdir()
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(inputs / "a.png")
    Image.fromarray(shapes(seed=20)).save(conds / "a.png")
    unit = {"enabled": True, "model": webui.adapters["canny"], "module": "none", "batch_folder": str(conds)}
    monkeypatch.setattr(images, "MAX_PIXELS", 64 * 63)  # the 64×64 condition stands for a decompression bomb
    with UNetRecorder(webui.unet) as rec, pytest.raises(Exception, match="a.png: image is 64×64.*megapixel limit"):
        webui.img2img_batch(str(inputs), [unit])
    assert rec.calls == []
    monkeypatch.undo()
    (conds / "a.png").write_bytes(b"<html>not found</html>")
    with UNetRecorder(webui.unet) as rec, pytest.raises(Exception, match="a.png is not a readable image"):
        webui.img2img_batch(str(inputs), [unit])
    assert rec.calls == []

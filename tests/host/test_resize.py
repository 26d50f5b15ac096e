"""Resize modes: output shapes and where the content lands."""

import numpy as np
import pytest

from t2i_host.resize import ResizeMode, pixel_perfect_resolution, resize_to


def square_with_marks() -> np.ndarray:
    image = np.zeros((100, 200, 3), np.uint8)  # wide: 200×100
    image[:, :10] = 255  # left border stripe
    image[:, 95:105] = 128  # centre stripe
    return image


@pytest.mark.parametrize("mode", list(ResizeMode))
def test_every_mode_gives_the_target_shape(mode):
    assert resize_to(square_with_marks(), 64, 96, mode).shape == (96, 64, 3)
    assert resize_to(np.zeros((30, 40), np.uint8), 16, 8, mode).shape == (8, 16)


def test_crop_and_resize_keeps_the_centre_and_drops_the_sides():
    out = resize_to(square_with_marks(), 100, 100, ResizeMode.CROP_AND_RESIZE)
    assert out[:, 45:55, 0].max() == 128  # centre stripe survives
    assert out[:, :5].max() == 0  # the left stripe was cropped away


def test_resize_and_fill_pads_with_the_border_colour_and_keeps_everything():
    out = resize_to(square_with_marks(), 100, 100, ResizeMode.RESIZE_AND_FILL)
    assert out[:25].max() == 0 and out[75:].max() == 0  # padding above and below (median border is black)
    assert out[25:75, :5].min() == 255  # the left stripe is still there


def test_just_resize_stretches():
    out = resize_to(square_with_marks(), 100, 100, ResizeMode.JUST_RESIZE)
    assert out[:, :5].min() == 255 and out[:, 47:53, 0].max() == 128


def test_label_maps_keep_their_colours():
    labels = np.random.default_rng(0).choice([0, 80, 255], size=(37, 53, 3)).astype(np.uint8)
    out = resize_to(labels, 100, 70, ResizeMode.JUST_RESIZE)
    assert set(np.unique(out)) <= {0, 80, 255}


def test_pixel_perfect_follows_the_mode():
    assert pixel_perfect_resolution((100, 200), (512, 512), ResizeMode.CROP_AND_RESIZE) == 512
    assert pixel_perfect_resolution((100, 200), (512, 512), ResizeMode.RESIZE_AND_FILL) == 256

"""The API units' parse cache: each unit parsed once, and bounded by the bytes of the images it holds."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from t2i_host.parsed_units import ParsedUnits


def unit(side: int, value: int) -> dict:
    buf = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), value, np.uint8)).save(buf, format="PNG")
    return {"model": "m", "image": base64.b64encode(buf.getvalue()).decode()}


def test_a_unit_sent_again_is_not_parsed_again():
    cache = ParsedUnits()
    first = cache.parse(unit(8, 1), 0)
    assert cache.parse(unit(8, 1), 0) is first and cache.parses == 1
    cache.parse(unit(8, 2), 0)
    assert cache.parses == 2


def test_the_cache_holds_at_most_its_byte_budget_of_decoded_images():
    cache = ParsedUnits(max_entries=100, max_bytes=1000)  # a 10×10 RGB image is 300 bytes
    for value in range(10):
        cache.parse(unit(10, value), 0)
        assert cache.nbytes <= 1000
    assert cache.nbytes == 900  # the 3 newest
    cache.parse(unit(10, 9), 0)
    assert cache.parses == 10  # the newest is still there
    cache.parse(unit(10, 0), 0)
    assert cache.parses == 11  # the oldest was evicted


def test_a_unit_larger_than_the_budget_is_parsed_each_time_and_not_kept():
    cache = ParsedUnits(max_bytes=1000)
    cache.parse(unit(8, 1), 0)
    big = unit(20, 5)  # 1200 bytes decoded
    cache.parse(big, 0)
    cache.parse(big, 0)
    assert cache.parses == 3 and cache.nbytes == 8 * 8 * 3

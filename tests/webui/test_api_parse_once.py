"""An API unit is parsed (and its image decoded) once: by the argument guard, not again by ``process``."""

from __future__ import annotations

import pytest

from .images import shapes
from .test_api import b64, post

pytest.importorskip("fastapi")


def test_the_guard_and_the_job_share_one_parse_of_each_unit(webui):
    client = webui.client()
    from t2i_webui.caches import PARSED as parsed

    unit = {"model": webui.adapters["canny"], "module": "none", "image": b64(shapes(seed=77)), "weight": 0.7}
    assert post(client, [{**unit, "weight": 0.5}]).status_code == 200  # the other units' defaults are parsed here
    before = parsed.parses
    r = post(client, [unit])
    assert r.status_code == 200, r.text
    assert parsed.parses - before == 1
    # a different unit is parsed anew; a bad one is refused and never cached
    assert post(client, [{**unit, "weight": 0.6}]).status_code == 200
    assert parsed.parses - before == 2
    assert post(client, [{**unit, "weight": 9}]).status_code == 422
    assert post(client, [{**unit, "weight": 9}]).status_code == 422
    assert parsed.parses - before == 4

"""Soak: 10 back-to-back API generations that alternate units, weights, models and sizes, then concurrent ones
(the 50-job version with figures: ``./dev.sh bench soak``)."""

from __future__ import annotations

import pytest

from .harness import unet_hook_count
from .soak import soak

pytest.importorskip("fastapi", reason="the API tests need fastapi (the WebUI ships fastapi==0.94.0)")

#: tensors the run may add (e.g. a lazily built buffer); a leak of one job's features or hooks adds dozens per job
TENSOR_TOLERANCE = 8


def test_back_to_back_and_concurrent_jobs_equal_the_same_job_alone_without_growing(webui):
    result = soak(webui, webui.client(), jobs=10)
    assert result.mismatches == 0 and result.concurrent_mismatches == 0
    assert result.tensors_after - result.tensors_before <= TENSOR_TOLERANCE, result
    assert unet_hook_count(webui.unet) == 0

"""Suite-wide settings that keep the suite's time in budget on a shared 2-core machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# One OpenMP/torch thread, here and in every command a test starts (they inherit the environment; torch reads it at
# import). On a busy 2-core machine two threads wait on each other at every operation: a tiny UNet training step took
# 3.8 s with two threads against 0.31 s with one (issue 17); on an idle machine the tiny models gain nothing from a
# second thread. Set OMP_NUM_THREADS yourself to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

STANDINS = ("forge", "webui")  # tests/forge lays its stand-in over tests/webui's


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``./dev.sh test`` runs 2 workers), the stand-in WebUIs' tests share one worker: each
    stand-in swaps ``modules`` and ``t2i_webui`` in ``sys.modules``, so they run there in collection order, as in
    a serial run, while the rest of the suite is spread over both workers."""
    root = Path(__file__).resolve().parent
    for item in items:
        parts = Path(str(item.path)).resolve().relative_to(root).parts
        if parts and parts[0] in STANDINS:
            item.add_marker(pytest.mark.xdist_group("standins"))

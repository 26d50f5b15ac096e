"""Suite-wide settings that keep the suite's time in budget on a shared 2-core machine."""

from __future__ import annotations

import os

# One OpenMP/torch thread, here and in every command a test starts (they inherit the environment; torch reads it at
# import). On a busy 2-core machine two threads wait on each other at every operation: a tiny UNet training step took
# 3.8 s with two threads against 0.31 s with one (issue 17); on an idle machine the tiny models gain nothing from a
# second thread. Set OMP_NUM_THREADS yourself to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

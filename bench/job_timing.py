"""What the whole-job benchmarks share: the condition image they send and how they compare job kinds."""

from __future__ import annotations

import statistics

import numpy as np


def condition_image(size: int, nonce: int = 0) -> np.ndarray:
    """A square outline; a nonzero ``nonce`` marks a few corner pixels so the feature cache has never seen it."""
    img = np.zeros((size, size, 3), np.uint8)
    img[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    img[size // 4 + 4 : 3 * size // 4 - 4, size // 4 + 4 : 3 * size // 4 - 4] = 0
    img[0, :8] = np.frombuffer(nonce.to_bytes(8, "little"), np.uint8)[:, None]
    return img


def paired_ratio(times: dict[str, list[float]], kind: str) -> float:
    """Median over rounds of ``kind``'s time / the plain job's time in the same round (drift between rounds cancels)."""
    return statistics.median(t / p for t, p in zip(times[kind], times["plain"]))

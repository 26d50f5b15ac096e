"""What the whole-job benchmarks share: the condition image they send and how they compare job kinds."""

from __future__ import annotations

import statistics

import numpy as np

from t2i_train.timing import median_interval  # noqa: F401  (its home; the benchmarks import it from here)


def condition_image(size: int, nonce: int = 0) -> np.ndarray:
    """A square outline; a nonzero ``nonce`` marks a few corner pixels so the feature cache has never seen it."""
    img = np.zeros((size, size, 3), np.uint8)
    img[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    img[size // 4 + 4 : 3 * size // 4 - 4, size // 4 + 4 : 3 * size // 4 - 4] = 0
    img[0, :8] = np.frombuffer(nonce.to_bytes(8, "little"), np.uint8)[:, None]
    return img


def round_ratios(times: dict[str, list[float]], kind: str, reference: str = "plain") -> list[float]:
    """``kind``'s time / ``reference``'s time, round by round (drift between rounds cancels)."""
    return [t / r for t, r in zip(times[kind], times[reference])]


def paired_ratio(times: dict[str, list[float]], kind: str, reference: str = "plain") -> float:
    """Median over rounds of ``kind``'s time / ``reference``'s time in the same round."""
    return statistics.median(round_ratios(times, kind, reference))

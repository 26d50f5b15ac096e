"""Which of a unit's condition images guide one batch of a job — the one rule the job and the API check share.

A unit sends 1 image (shared by every image), ``batch_size`` images (one per image of each batch), or
``batch_size × n_iter`` (one per image of the whole job: batch ``iteration`` takes its own slice). Identical pictures
then run one shared adapter pass, so the batch stays bit-identical across its images.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .unit_args import UnitArgsError


def check_count(count: int, batch: int, n_iter: int, unit: int | None) -> None:
    """Refuse (field ``image``) an image count that fits no rule above."""
    if count in (1, batch) or count == batch * n_iter:
        return
    per_job = f", or {batch * n_iter} (one per image of the job)" if n_iter > 1 else ""
    raise UnitArgsError(
        f"{count} condition images for a batch of {batch}: send 1 (shared) or {batch} (one per image){per_job}",
        "image",
        unit,
    )


def images_for_batch(
    images: Sequence[np.ndarray], batch: int, n_iter: int, iteration: int, unit: int | None
) -> list[np.ndarray]:
    """The images of batch ``iteration`` (``len`` 1 or ``batch``), identical pictures folded into one."""
    check_count(len(images), batch, n_iter, unit)
    images = list(images)
    if len(images) == batch * n_iter and len(images) > batch:
        images = images[iteration * batch : (iteration + 1) * batch]
    if len(images) > 1 and all(_same(im, images[0]) for im in images[1:]):
        images = images[:1]
    return images


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a is b or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b))

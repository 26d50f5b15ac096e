"""The one rule for a unit's images per batch (t2i_host/batch_images.py), shared by the job and the API guard."""

import numpy as np
import pytest

from t2i_host.batch_images import check_count, images_for_batch
from t2i_host.unit_args import UnitArgsError


def pics(n):
    return [np.full((4, 4, 3), i, np.uint8) for i in range(n)]


@pytest.mark.parametrize(("count", "batch", "n_iter"), [(1, 2, 3), (2, 2, 3), (6, 2, 3), (2, 2, 1), (1, 1, 1)])
def test_counts_that_fit_a_rule_are_accepted(count, batch, n_iter):
    check_count(count, batch, n_iter, 0)


@pytest.mark.parametrize(("count", "batch", "n_iter"), [(3, 2, 1), (4, 2, 3), (0, 2, 1), (2, 1, 1)])
def test_other_counts_are_refused_naming_the_image_field(count, batch, n_iter):
    with pytest.raises(UnitArgsError) as e:
        check_count(count, batch, n_iter, 1)
    assert e.value.field == "image" and e.value.unit == 1 and str(count) in str(e.value)


def test_one_image_per_job_image_gives_each_batch_its_slice():
    images = pics(6)
    assert [int(im[0, 0, 0]) for im in images_for_batch(images, 2, 3, 2, 0)] == [4, 5]


def test_identical_pictures_share_one_pass():
    same = [np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)]
    assert len(images_for_batch(same, 2, 1, 0, 0)) == 1
    assert len(images_for_batch(pics(2), 2, 1, 0, 0)) == 2

import os

import pytest
import torch

from t2i_ext.tiny_unet import TINY_SD1, TINY_SDXL

from .reference import ldm_and_diffusers_unets


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))  # see tests/conftest.py


@pytest.fixture(scope="session")
def sd1_unets():
    return ldm_and_diffusers_unets(TINY_SD1)


@pytest.fixture(scope="session")
def sdxl_unets():
    return ldm_and_diffusers_unets(TINY_SDXL)

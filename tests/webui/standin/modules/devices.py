"""Mirrors modules/devices.py@v1.10.1 on a CPU-only machine (``--use-cpu all``)."""

import contextlib

import torch

cpu = torch.device("cpu")
device = device_interrogate = device_gfpgan = device_esrgan = device_codeformer = cpu
dtype = dtype_vae = dtype_unet = dtype_inference = torch.float32
unet_needs_upcast = False


def get_optimal_device_name() -> str:
    return "cpu"


def get_optimal_device() -> torch.device:
    return cpu


def get_device_for(task: str) -> torch.device:
    # devices.py: cpu when task or "all" is in --use-cpu; the stand-in runs with --use-cpu all
    return cpu


def torch_gc() -> None:
    pass


def autocast(disable: bool = False):
    # devices.py: a nullcontext when dtype is float32 (--no-half / cpu)
    return contextlib.nullcontext()


def without_autocast(disable: bool = False):
    return contextlib.nullcontext()


def cond_cast_unet(x):
    return x.to(dtype_unet) if unet_needs_upcast else x


def cond_cast_float(x):
    return x.float() if unet_needs_upcast else x


class NansException(Exception):
    pass


def test_for_nans(x: torch.Tensor, where: str) -> None:
    # devices.py: raise only when every value is NaN (opts.disable_nan_check off)
    if torch.all(torch.isnan(x)).item():
        raise NansException(f"A tensor with all NaNs was produced in {where}.")

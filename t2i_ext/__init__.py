"""T2I-Adapter core: load adapters, turn condition images into tensors, inject adapter outputs into a UNet.

Imports only torch, numpy and safetensors; knows nothing of the WebUI::

    adapter = t2i_ext.load_adapter("t2iadapter_canny_sd14v1.pth")
    cond = t2i_ext.condition_for(adapter, canny_map)                  # [1, 1, H, W] in [0, 1]
    unit = t2i_ext.AdapterUnit(features=t2i_ext.compute_features(adapter, cond), weight=0.8)
    with t2i_ext.inject(unet, [unit], layout=t2i_ext.BatchLayout.cfg(1)) as injection:
        for step in range(steps):
            injection.progress = step / steps
            ...  # call the UNet as usual
"""

from .condition import condition_for, condition_tensor
from .errors import AdapterError, AdapterLoadError, ConditionError, InjectionError
from .features import compute_features, fuse
from .injection import Injection, inject, injection_blocks, injection_points, prepare_injection
from .loading import load_adapter
from .nets import AdapterModel
from .nets.base import SD1, SDXL
from .units import AdapterUnit, BatchLayout, ControlMode

__version__ = "0.1.0"

__all__ = [
    "SD1",
    "SDXL",
    "AdapterError",
    "AdapterLoadError",
    "AdapterModel",
    "AdapterUnit",
    "BatchLayout",
    "ConditionError",
    "ControlMode",
    "Injection",
    "InjectionError",
    "compute_features",
    "condition_for",
    "condition_tensor",
    "fuse",
    "inject",
    "injection_blocks",
    "injection_points",
    "load_adapter",
    "prepare_injection",
]

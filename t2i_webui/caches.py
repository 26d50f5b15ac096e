"""The process-wide caches: loaded adapters, adapter outputs, parsed API units (``t2i_host/lru.py`` is their shape)."""

from __future__ import annotations

from pathlib import Path

import torch
from modules import devices

import t2i_ext
from t2i_host.job import FeatureCache
from t2i_host.model_store import AdapterCache
from t2i_host.parsed_units import ParsedUnits

from . import host, settings


def adapter_dtype() -> torch.dtype:
    device = devices.get_device_for("t2i_adapter")
    return torch.float32 if torch.device(device).type == "cpu" else devices.dtype


def _load(path: Path) -> torch.nn.Module:
    return t2i_ext.load_adapter(path, dtype=adapter_dtype())


ADAPTERS = AdapterCache(_load, size=settings.cache_size, on_evict=lambda: host.current().free_memory())
FEATURES = FeatureCache(max_entries=8)  # a few MB each, kept on the UNet's device
PARSED = ParsedUnits(max_entries=8)  # an API unit checked by the guard is not decoded again by process

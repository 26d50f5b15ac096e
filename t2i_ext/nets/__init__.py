"""Adapter networks. Parameter names follow TencentARC's original checkpoints so published files load strictly."""

from .base import AdapterModel
from .full import FullAdapter, FullAdapterXL
from .fuser import CoAdapterFuser
from .light import LightAdapter
from .style import StyleAdapter

__all__ = ["AdapterModel", "FullAdapter", "FullAdapterXL", "LightAdapter", "StyleAdapter", "CoAdapterFuser"]

"""A WebUI-free T2I-Adapter trainer (never imports the WebUI).

    from t2i_train import TrainConfig, train
    result = train(TrainConfig(base_model="v1-5.safetensors", data="pairs/", output="out", steps=2000),
                   progress_callback=lambda p: print(p.step, p.loss), should_stop=lambda: False)

``python -m t2i_train train BASE DATA --output OUT`` is the command line (``--dry-run`` validates and prints the
plan); ``accelerate launch -m t2i_train train …`` runs it on many GPUs or machines.
"""

from .api import Plan, prepare, train
from .base_model import BaseModel, load_base_model
from .config import TrainConfig
from .errors import BaseModelError, ConfigError, DatasetError, TrainError
from .loop import Progress, TrainResult, fit

__all__ = [
    "BaseModel",
    "BaseModelError",
    "ConfigError",
    "DatasetError",
    "Plan",
    "Progress",
    "TrainConfig",
    "TrainError",
    "TrainResult",
    "fit",
    "load_base_model",
    "prepare",
    "train",
]

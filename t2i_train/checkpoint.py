"""Resumable training checkpoints written and read without pickles.

A checkpoint is a folder ``step-NNNNNN`` with ``adapter.safetensors`` (the adapter, original keys),
``optimizer.safetensors`` (every tensor of the optimizer's state, flattened to ``state.<param>.<name>``) and
``state.json`` (step, losses, the run's options, the optimizer's param groups and non-tensor state, the AMP
scaler's numbers). No RNG state is needed: every random number of a step is drawn from ``(seed, micro-step,
row)`` (``loop.make_batch``), so the step count is the whole random state.

Why no pickle: AUTOMATIC1111 replaces ``torch.load`` with its restricted unpickler (modules/safe.py), whose list of
allowed zip entries rejects what torch 2.x writes (``archive/.format_version``), so a ``torch.save``d optimizer
state came back as None inside the WebUI; and a pickle is code we would run. Older checkpoints (``optimizer.pt``)
are refused with what to do, never unpickled.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import TrainConfig
from .errors import ConfigError

OPTIMIZER_FILE = "optimizer.safetensors"


def _split(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """``obj`` with every tensor replaced by ``{"tensor": key}`` (the tensor stored in ``tensors[key]``)."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous()
        return {"tensor": prefix}
    if isinstance(obj, dict):
        return {"dict": [[k, _split(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple": [_split(v, f"{prefix}.{i}", tensors)
                                                              for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint")


def _join(node: dict, tensors: dict[str, torch.Tensor]) -> Any:
    (kind, value), = node.items()
    if kind == "tensor":
        return tensors[value]
    if kind == "dict":
        return {k: _join(v, tensors) for k, v in value}  # keys keep their JSON type (int param ids stay ints)
    if kind in ("list", "tuple"):
        items = [_join(v, tensors) for v in value]
        return items if kind == "list" else tuple(items)
    return value


def save_checkpoint(folder: Path, adapter: nn.Module, optimizer: torch.optim.Optimizer, step: int,
                    losses: list[float], config: TrainConfig, scaler: Any = None) -> Path:
    """Write the checkpoint folder through a temporary sibling, then swap it in (never half-written)."""
    from safetensors.torch import save_file

    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in adapter.state_dict().items()}
    save_file(weights, str(tmp / "adapter.safetensors"))
    tensors: dict[str, torch.Tensor] = {}
    layout = _split(optimizer.state_dict(), "optimizer", tensors)
    save_file(tensors, str(tmp / OPTIMIZER_FILE))
    state = {"step": step, "losses": losses, "config": config.to_dict(), "optimizer": layout,
             "scaler": None if scaler is None else {k: v for k, v in scaler.state_dict().items()}}
    (tmp / "state.json").write_text(json.dumps(state))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


def _check(path: Path) -> Path:
    if not (path / "state.json").is_file():
        raise ConfigError(f"{path} is not a training checkpoint (no state.json).")
    if not (path / OPTIMIZER_FILE).is_file():
        old = " (its optimizer.pt is a pickle from an older version, which is never loaded)" if (
            path / "optimizer.pt").exists() else ""
        raise ConfigError(
            f"{path} cannot be resumed{old}: start a new run (untick Resume, or remove the --resume option); "
            "its adapter.safetensors can seed one with --init-adapter."
        )
    return path


def find_checkpoint(config: TrainConfig) -> Path | None:
    """The checkpoint ``config.resume`` names (``"latest"``: the newest in ``output/checkpoints``), checked."""
    if not config.resume:
        return None
    if config.resume != "latest":
        return _check(Path(config.resume))
    found = sorted((config.output_dir / "checkpoints").glob("step-*[0-9]"))
    return _check(found[-1]) if found else None


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """``{"step", "losses", "adapter", "optimizer", "scaler"}`` of a checkpoint written by :func:`save_checkpoint`."""
    from safetensors.torch import load_file

    _check(path)
    state = json.loads((path / "state.json").read_text())
    tensors = load_file(str(path / OPTIMIZER_FILE), device=str(device))
    return {
        "step": int(state["step"]),
        "losses": [float(v) for v in state["losses"]],
        "adapter": load_file(str(path / "adapter.safetensors"), device=str(device)),
        "optimizer": _join(state["optimizer"], tensors),
        "scaler": state.get("scaler"),
    }


def prune(folder: Path, keep: int) -> None:
    """Remove all but the newest ``keep`` checkpoints in ``folder``."""
    found = sorted(folder.glob("step-*[0-9]"))
    for old in found[: max(0, len(found) - keep)]:
        shutil.rmtree(old, ignore_errors=True)

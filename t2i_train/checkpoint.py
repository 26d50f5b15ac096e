"""Resumable training checkpoints written and read without pickles.

A checkpoint is a folder ``step-NNNNNN`` with ``adapter.safetensors`` (the adapter, original keys),
``optimizer-NNNNN.safetensors`` (every tensor of the optimizer's state, flattened to ``state.<param>.<name>``, in
files of at most ``SHARD_BYTES``: safetensors turns everything it writes into bytes first, so one file of AdamW's
two moments was a transient copy of both, the run's peak in the real WebUIs) and ``state.json`` (step, losses, the
run's options, the optimizer's param groups and non-tensor state, the AMP scaler's numbers). No RNG state is
needed: every random number of a step is drawn from ``(seed, micro-step, row)`` (``loop.make_batch``), so the step
count is the whole random state.

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

OPTIMIZER_FILE = "optimizer.safetensors"  # one file, as written before the shards
SHARD_BYTES = 128 * 2**20


def _shards(tensors: dict[str, torch.Tensor], limit: int) -> list[dict[str, torch.Tensor]]:
    """``tensors`` in groups of at most ``limit`` bytes (a larger tensor alone), in order."""
    groups: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, t in tensors.items():
        n = t.numel() * t.element_size()
        if groups[-1] and size + n > limit:
            groups.append({})
            size = 0
        groups[-1][key] = t
        size += n
    return groups


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
    files = []
    for k, shard in enumerate(_shards(tensors, SHARD_BYTES), 1):
        files.append(f"optimizer-{k:05d}.safetensors")
        save_file(shard, str(tmp / files[-1]))
    state = {"step": step, "losses": losses, "config": config.to_dict(), "optimizer": layout,
             "optimizer_files": files,
             "scaler": None if scaler is None else {k: v for k, v in scaler.state_dict().items()}}
    (tmp / "state.json").write_text(json.dumps(state))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


def _state(path: Path) -> dict[str, Any]:
    """The checkpoint's ``state.json``."""
    try:
        state = json.loads((path / "state.json").read_text())
        if not isinstance(state, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path / 'state.json'} cannot be read ({e}): start a new run.") from None
    return state


def _optimizer_files(path: Path, state: dict[str, Any]) -> list[Path]:
    """The files of the optimizer's state (the shards the state names, or the one file of earlier versions)."""
    return [path / str(name) for name in state.get("optimizer_files") or [OPTIMIZER_FILE]]


def _check(path: Path) -> Path:
    if not (path / "state.json").is_file():
        raise ConfigError(f"{path} is not a training checkpoint (no state.json).")
    if not all(f.is_file() for f in _optimizer_files(path, _state(path))):
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

    state = _state(_check(path))
    tensors = {k: v for f in _optimizer_files(path, state) for k, v in load_file(str(f), device=str(device)).items()}
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

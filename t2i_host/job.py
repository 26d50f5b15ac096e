"""One generation job's adapter work: condition maps → features (cached), and the injection's lifetime.

WebUI-free: the glue gives it loaded adapters, the source images and an ``annotate`` function, and tells it the
size of each sampling pass. Features are computed once per unit and size and kept in a :class:`FeatureCache`
shared across jobs, keyed by everything that changes them (adapter hash, condition image content, annotator and
its parameters, resize mode, size, device, dtype) and by nothing that does not (weight, guidance window, control
mode): a repeat job with the same inputs runs no adapter pass at all, and changing the weight costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from t2i_ext.condition import condition_for
from t2i_ext.errors import AdapterOutputError, ConditionError
from t2i_ext.features import compute_features, fuse
from t2i_ext.injection import inject, prepare_injection
from t2i_ext.nets.fuser import TASK_INDEX
from t2i_ext.units import AdapterUnit

from .annotate import Annotate, run_annotator
from .images import image_digest
from .lru import LRU
from .resize import pixel_perfect_resolution, resize_to
from .unit_args import UnitArgs, UnitArgsError, annotator_values

Features = Any  # list of 4 tensors, or a tokens tensor


class FeatureCache(LRU[tuple, Features]):
    """LRU of adapter outputs. ``passes`` counts adapter runs (a repeat job adds none)."""

    def __init__(self, max_entries: int = 16) -> None:
        super().__init__(max_entries)

    @property
    def passes(self) -> int:
        return self.misses

    def get_or_compute(self, key: tuple, compute: Callable[[], Features]) -> Features:
        return self.get_or_create(key, compute)


@dataclass
class UnitPlan:
    """An enabled unit, resolved: its settings, loaded adapter, the adapter's short hash and source images."""

    index: int
    args: UnitArgs
    adapter: torch.nn.Module
    model_hash: str
    model_name: str = ""
    images: Sequence[np.ndarray] = ()
    annotator_params: list[tuple[str, type]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return getattr(self.adapter, "kind", "")


def condition_name(model_name: str) -> str | None:
    """The CoAdapter condition a model file is for, from its name (``coadapter-depth-sd15v1`` → ``depth``)."""
    words = re.split(r"[^a-z]+", model_name.lower())
    for name in ("openpose", "keypose", "sketch", "canny", "depth", "style", "color", "seg"):
        if name in words:
            return name
    return None


class Job:
    """Features and injection for one job. ``device``/``dtype`` are the UNet's."""

    def __init__(
        self,
        plans: Sequence[UnitPlan],
        annotate: Annotate,
        cache: FeatureCache,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.plans = list(plans)
        self.annotate = annotate
        self.cache = cache
        self.device = torch.device(device)
        self.dtype = dtype
        self._stack: ExitStack | None = None
        self.injection = None

    # -- condition maps ------------------------------------------------------------------------------------------
    def condition_maps(self, plan: UnitPlan, images: Sequence[np.ndarray], width: int, height: int) -> list[np.ndarray]:
        """Annotated (if a module is set) and resized condition maps, one per source image."""
        args = plan.args
        out = []
        for image in images:
            if args.module != "none":
                resolution = None
                if args.pixel_perfect:
                    resolution = pixel_perfect_resolution(image.shape[:2], (width, height), args.resize_mode)
                kwargs = annotator_values(args, plan.annotator_params, resolution, plan.index)
                image = run_annotator(self.annotate, args.module, image, kwargs, plan.index)
            if isinstance(image, np.ndarray) and image.ndim in (2, 3) and plan.kind != "style":
                image = resize_to(image, width, height, args.resize_mode)
            out.append(image)
        return out

    def _key(self, plan: UnitPlan, images: Sequence[np.ndarray], width: int, height: int) -> tuple:
        args = plan.args
        digest = image_digest(images)
        kwargs = ()
        if args.module != "none":
            res = None
            if args.pixel_perfect:
                res = tuple(pixel_perfect_resolution(im.shape[:2], (width, height), args.resize_mode) for im in images)
            kwargs = tuple(sorted(annotator_values(args, plan.annotator_params, None, plan.index).items())) + (
                ("pp", res),
            )
        size = None if plan.kind == "style" else (width, height, args.resize_mode.value)
        return (plan.model_hash, digest, args.module, kwargs, size, str(self.device), str(self.dtype))

    # -- features ---------------------------------------------------------------------------------------------------
    def features(self, plan: UnitPlan, images: Sequence[np.ndarray], width: int, height: int) -> Features:
        """The adapter output for ``images`` (one shared, or one per job image) at ``width×height``; cached."""
        if not images:
            raise UnitArgsError(
                "no condition image: upload one (or, in img2img, give an input image)", "image", plan.index
            )

        def compute() -> Features:
            maps = self.condition_maps(plan, images, width, height)
            if plan.kind == "style":
                tokens = [torch.as_tensor(np.asarray(m)) if not isinstance(m, torch.Tensor) else m for m in maps]
                tokens = [t if t.ndim == 3 else t[None] for t in tokens]
                cond = torch.cat(tokens, dim=0).float()
                if cond.ndim != 3 or cond.shape[-1] != 1024:
                    raise UnitArgsError(
                        'the style adapter takes CLIP vision tokens: set module to "clip_vision"', "module", plan.index
                    )
            else:
                if not all(isinstance(m, np.ndarray) and m.ndim in (2, 3) for m in maps):
                    raise UnitArgsError(
                        f"annotator '{plan.args.module}' does not produce an image map; "
                        f"choose an annotator that suits a {plan.kind} adapter",
                        "module",
                        plan.index,
                    )
                try:
                    cond = condition_for(plan.adapter, maps)
                except ConditionError as e:
                    raise UnitArgsError(str(e), "image", plan.index) from None
            try:
                return compute_features(
                    plan.adapter, cond, device=self.device, dtype=self.dtype, offload=plan.args.low_vram
                )
            except AdapterOutputError as e:  # a broken or overflowing model file: the user picks another
                raise UnitArgsError(str(e), "model", plan.index) from None

        return self.cache.get_or_compute(self._key(plan, images, width, height), compute)

    def plans_for(self, hires: bool | None = None) -> list[UnitPlan]:
        """The plans that guide a pass and need source images (not the fuser, which fuses the others).

        ``hires`` says which pass of a hires-fix job this is (None: not a hires-fix job); units whose ``hr_option``
        excludes that pass are left out.
        """
        skip = {True: "Low res only", False: "High res only"}.get(hires) if hires is not None else None
        return [p for p in self.plans if p.kind != "fuser" and p.args.hr_option != skip]

    def units(
        self,
        width: int,
        height: int,
        images: Mapping[int, Sequence[np.ndarray]] | None = None,
        hires: bool | None = None,
    ) -> list[AdapterUnit]:
        """AdapterUnits for a pass at ``width×height``.

        ``images`` maps the index of each plan of :meth:`plans_for` to its source images for this pass, as the host
        resolved them (img2img input, batch slice, crop); without it each plan's own ``images`` are used.
        """
        fuser = next((p for p in self.plans if p.kind == "fuser"), None)
        units, fused = [], []
        for plan in self.plans_for(hires):
            feats = self.features(plan, plan.images if images is None else images[plan.index], width, height)
            a = plan.args
            if fuser is not None:
                name = condition_name(plan.model_name)
                if name is None or name not in TASK_INDEX:
                    raise UnitArgsError(
                        f"cannot tell which CoAdapter condition '{plan.model_name}' is for; its file name must contain "
                        f"one of: {', '.join(TASK_INDEX)}",
                        "model",
                        plan.index,
                    )
                fused.append((name, feats, a.weight))
                continue
            # AdapterUnit takes either output: 4 feature maps, or a style adapter's token tensor
            units.append(
                AdapterUnit(
                    features=feats,
                    weight=a.weight,
                    start=a.guidance_start,
                    end=a.guidance_end,
                    control_mode=a.control_mode,
                    base=getattr(plan.adapter, "base", None),
                )
            )
        if fuser is not None and fused:
            fa = fuser.args
            fuser.adapter.to(self.device)
            try:
                unit = fuse(
                    fuser.adapter, fused, start=fa.guidance_start, end=fa.guidance_end, control_mode=fa.control_mode
                )
            except AdapterOutputError as e:
                raise UnitArgsError(str(e), "model", fuser.index) from None
            finally:
                if fa.low_vram:
                    fuser.adapter.to("cpu")
            unit.weight = fa.weight
            units.append(unit)
        return units

    # -- injection lifetime --------------------------------------------------------------------------------------------
    def install(self, unet: torch.nn.Module, units: Sequence[AdapterUnit], layout: Any) -> None:
        """Hook ``units`` into ``unet`` (replacing this job's previous hooks, e.g. for the hires pass)."""
        self.remove()
        stack = ExitStack()
        try:
            self.injection = stack.enter_context(inject(unet, units, layout=layout))
        except BaseException:
            stack.close()
            raise
        self._stack = stack

    def attach(self, unet: torch.nn.Module, units: Sequence[AdapterUnit], attach: Callable) -> None:
        """For a host that patches its UNet its own way (Forge): ``attach(injection, blocks)`` receives this pass's
        injection state and the ids of the blocks each feature level follows; nothing is hooked on ``unet``."""
        self.remove()
        self.injection, blocks = prepare_injection(unet, units)
        attach(self.injection, blocks)

    def remove(self) -> None:
        """Remove the hooks; safe to call any number of times."""
        stack, self._stack, self.injection = self._stack, None, None
        if stack is not None:
            stack.close()

    @property
    def installed(self) -> bool:
        return self._stack is not None

"""A job's units, from what the WebUI passes ``process`` to a core :class:`Job`: parsed (once, shared with the API
guard), the X/Y/Z overrides applied, each enabled unit's model resolved, loaded and checked against the checkpoint,
and recorded in the infotext."""

from __future__ import annotations

from typing import Any

from modules import devices, shared

import annotators
import t2i_ext
from t2i_host.families import checkpoint_family
from t2i_host.job import Job, UnitPlan
from t2i_host.unit_args import UnitArgs, UnitArgsError

from . import annotator_info, caches, host, infotext, models, xyz


def short_of_vram() -> bool:
    return bool(getattr(shared.cmd_opts, "lowvram", False) or getattr(shared.cmd_opts, "medvram", False))


def parse_units(units: tuple, p: Any = None) -> list[UnitArgs]:
    known = annotator_info.known_modules()
    parsed = [caches.PARSED.parse(u, i, known) for i, u in enumerate(units)]
    return xyz.apply_overrides(parsed, p, known)


def build_job(p: Any, units: tuple) -> Job | None:
    """The job of ``p``'s enabled units, or None when none is enabled; raises ``UnitArgsError`` naming the unit."""
    parsed = parse_units(units, p)
    enabled = [(i, u) for i, u in enumerate(parsed) if u.enabled]
    if not enabled:
        return None
    family = checkpoint_family(p.sd_model)
    plans = []
    for i, args in enabled:
        info = models.resolve(args.model, i)
        title = models.STORE.title(info)
        args = args.with_changes(model=title)  # the infotext names the exact file: "stem [hash]"
        infotext.record(p, i, args)
        try:
            adapter = caches.ADAPTERS.get(info.path, tag=str(caches.adapter_dtype()))
        except t2i_ext.AdapterLoadError as e:
            raise UnitArgsError(str(e), "model", i) from None
        models.check_family(adapter, family, title, i)
        if adapter.kind == "style" and args.module == "none":
            args = args.with_changes(module="clip_vision")  # a style unit's image is a reference: encode it
        if host.current().offloads_adapters or short_of_vram():
            # short of VRAM: the adapter leaves the device after its single pass, sampling holds only the features
            args = args.with_changes(low_vram=True)
        plans.append(
            UnitPlan(
                index=i,
                args=args,
                adapter=adapter,
                model_hash=models.STORE.short_hash(info.path),
                model_name=info.stem,
                images=list(args.image),
                annotator_params=annotator_info.param_types(args.module),
            )
        )
    if [pl.kind for pl in plans].count("fuser") > 1:
        raise UnitArgsError("more than one CoAdapter fuser unit is enabled; enable one", "model", plans[-1].index)
    unet = host.current().unet(p.sd_model)
    # the WebUI's compute device, not the UNet's current one: --lowvram/--medvram park the UNet on the CPU between calls
    device = getattr(devices, "device", None) or next(unet.parameters()).device
    return Job(plans, annotate=annotators.run, cache=caches.FEATURES, device=device, dtype=devices.dtype_unet)

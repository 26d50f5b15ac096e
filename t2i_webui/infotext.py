"""A unit in the infotext: ``T2I-Adapter <i>: "model: stem [hash], module: canny, weight: 0.8, ..."`` (the format
is ``UnitArgs.to_infotext``), written by the job and pasted back into the panel's widgets."""

from __future__ import annotations

from typing import Any

import annotators
from t2i_host.unit_args import UnitArgs, UnitArgsError

from . import annotator_info, models

KEY = "T2I-Adapter {}"


def record(p: Any, i: int, args: UnitArgs) -> None:
    p.extra_generation_params[KEY.format(i)] = args.to_infotext()


def recorded(params: dict, count: int) -> dict[int, str]:
    """The units an infotext's parsed parameters record, by index."""
    return {i: params[KEY.format(i)] for i in range(count) if KEY.format(i) in params}


def pasted(i: int, field: str):
    """The infotext paste function for unit ``i``'s widget ``field`` (``"owner"``: the annotator the pasted slider
    values belong to). Parameters the infotext leaves at the annotator's default (-1, or no ``annotator_params``)
    are pasted as that default, so the widgets show what the job used; units absent from it are disabled."""

    def get(params: dict) -> Any:
        text = params.get(KEY.format(i))
        if text is None:
            return False if field == "enabled" else None
        try:
            values = UnitArgs.from_infotext(text, i).to_dict(with_image=False)
        except UnitArgsError:
            return None
        if field == "enabled":
            return True
        if field == "owner":
            return values["module"]
        value = values.get(field)
        if field == "model":
            try:
                info = models.store().find(value) if value else None
            except UnitArgsError:  # several files answer to the name: show it as recorded
                return value
            return models.STORE.title(info) if info else (value or "None")
        pres, pa, pb, bools = annotator_info.layout(values["module"])
        if field == "annotator_params":
            defaults = annotators.get(values["module"]).defaults if bools else {}
            return [n for n in bools if (value or {}).get(n, defaults.get(n))]
        if field in ("processor_res", "threshold_a", "threshold_b") and value == -1:
            param = {"processor_res": pres, "threshold_a": pa, "threshold_b": pb}[field]
            return param.default if param is not None else None
        return value

    return get

"""The img2img batch tab: a unit's condition image from its batch folder, matched to the input file by stem.

The WebUI passes scripts the picture, not its file name; ``t2i_host/batch_match.py`` says in which order the stem is
looked for (the image's own file name, the output file name pattern, the job index in the captured input folder, the
picture's content).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from modules import shared
from PIL import Image

from t2i_host.batch_match import InputFolderIndex, find_by_stem, job_index, stem_from_pattern, walk_images
from t2i_host.images import decode_image, open_image
from t2i_host.unit_args import UnitArgsError

from . import LOG

CALLS_ATTR = "_t2i_adapter_batch_jobs"  # jobs run on one p: the batch tab reuses p per file
INPUT = {"folder": ""}  # the batch tab's input folder, captured from its textbox (UI only)
INPUT_INDEX = InputFolderIndex()


def capture_input_dir(component: Any, **kwargs: Any) -> None:
    """``on_after_component``: remember the batch tab's "Input directory"."""
    if kwargs.get("elem_id") == "img2img_batch_input_dir":

        def remember(value: str) -> None:
            INPUT["folder"] = value or ""

        for event in ("change", "blur"):
            if hasattr(component, event):
                getattr(component, event)(remember, inputs=[component], outputs=[], queue=False)


def count_job(p: Any) -> None:
    """``process``: one more job on this ``p`` (the k-th job of the batch tab is its k-th input file)."""
    setattr(p, CALLS_ATTR, int(getattr(p, CALLS_ATTR, 0) or 0) + 1)


def input_stem(p: Any, unit: int) -> str:
    """The file stem of the batch input being processed."""
    init = (getattr(p, "init_images", None) or [None])[0]
    name = getattr(init, "filename", None)
    if name:
        return Path(name).stem
    stem = stem_from_pattern((getattr(p, "override_settings", None) or {}).get("samples_filename_pattern"))
    if stem:
        return stem
    folder = INPUT["folder"]
    if folder:
        index = job_index(getattr(shared.state, "job", ""))
        files = walk_images(folder)
        if index is not None and index < len(files):
            return files[index].stem
        found = INPUT_INDEX.find(folder, decode_image(init)) if init is not None else None
        if found:
            return found.stem
    raise UnitArgsError(
        "a batch folder is set, but the processed image's file name is unknown: use the img2img "
        "batch tab's 'From directory' input",
        "batch_folder",
        unit,
    )


def condition_image(folder: str, p: Any, unit: int) -> np.ndarray:
    """The condition image in ``folder`` whose file stem equals the processed input image's."""
    if not Path(folder).is_dir():
        raise UnitArgsError(f"folder '{folder}' does not exist", "batch_folder", unit)
    try:
        stem = input_stem(p, unit)
    except UnitArgsError:
        # last resort: the k-th job on this p is the k-th input file; take the k-th condition image
        count = int(getattr(p, CALLS_ATTR, 0) or 0)
        candidates = walk_images(folder)
        if count < 1 or count > len(candidates):
            raise
        match = candidates[count - 1]
        LOG.warning(
            "T2I-Adapter: input file name unknown; using condition image %d of the batch folder: %s", count, match.name
        )
    else:
        match = find_by_stem(folder, stem)
        if match is None:
            raise UnitArgsError(f"no condition image named '{stem}.*' in '{folder}'", "batch_folder", unit)
    try:
        with Image.open(match) as im:  # size-checked before decoding, upright as the WebUI reads the inputs
            return open_image(im, exif_transpose=True)
    except ValueError as e:  # over the pixel limit, or undecodable: the message says what to send instead
        raise UnitArgsError(f"condition image {match.name}: {e}", "batch_folder", unit) from None
    except (OSError, Image.DecompressionBombError):
        raise UnitArgsError(
            f"condition image {match.name} is not a readable image (or is far too large); replace it",
            "batch_folder",
            unit,
        ) from None

"""A unit's source images for one pass, from the processing object ``p``: the unit's own images, its batch folder,
or img2img's input; one per batch image; fitted to img2img's geometry (the "only masked" crop, the resize mode)."""

from __future__ import annotations

from typing import Any

import numpy as np

from t2i_host.batch_images import images_for_batch
from t2i_host.images import decode_image
from t2i_host.job import UnitPlan
from t2i_host.resize import ResizeMode, resize_to
from t2i_host.unit_args import UnitArgsError

from . import batch_folder

# the WebUI's img2img resize_mode numbers
WEBUI_RESIZE = {0: ResizeMode.JUST_RESIZE, 1: ResizeMode.CROP_AND_RESIZE, 2: ResizeMode.RESIZE_AND_FILL}


def img2img_geometry(p: Any, image: np.ndarray, unit_mode: ResizeMode | None, width: int, height: int) -> np.ndarray:
    """Fit ``image`` to the pass like the WebUI fits its init image: the "only masked" crop first, then resize."""
    crop = getattr(p, "paste_to", None)
    init = (getattr(p, "init_images", None) or [None])[0]
    if crop and init is not None:
        x1, y1, w, h = crop
        full = resize_to(image, init.width, init.height, ResizeMode.JUST_RESIZE)
        return resize_to(np.ascontiguousarray(full[y1 : y1 + h, x1 : x1 + w]), width, height, ResizeMode.JUST_RESIZE)
    if unit_mode is None:  # the init image itself: the WebUI's own img2img resize mode
        unit_mode = WEBUI_RESIZE.get(int(getattr(p, "resize_mode", 0) or 0), ResizeMode.JUST_RESIZE)
    return resize_to(image, width, height, unit_mode)


def images_for(p: Any, plan: UnitPlan, width: int, height: int) -> list[np.ndarray]:
    """Source images of ``plan`` for the current batch, already fitted to img2img's geometry where it applies."""
    args, batch = plan.args, int(p.batch_size)
    is_img2img = hasattr(p, "init_images")
    images = list(plan.images)
    if args.batch_folder and is_img2img:
        images = [batch_folder.condition_image(args.batch_folder, p, plan.index)]
    from_init = False
    if not images and is_img2img and plan.kind != "style":
        images = [_init_image(im, plan.index) for im in (p.init_images or [])]
        from_init = True
    if not images and is_img2img and plan.kind == "style":
        images = [_init_image(p.init_images[0], plan.index)] if p.init_images else []
    if not images:
        raise UnitArgsError(
            "no condition image: upload one for this unit"
            + (" (or give img2img an input image)" if is_img2img else ""),
            "image",
            plan.index,
        )
    images = images_for_batch(images, batch, int(getattr(p, "n_iter", 1)), int(getattr(p, "iteration", 0)), plan.index)
    crop = getattr(p, "paste_to", None) and (from_init or args.inpaint_crop_input_image)
    if is_img2img and plan.kind != "style" and (from_init or crop):
        # "only masked": the condition is cropped with the WebUI's own region (p.paste_to, from
        # masking.get_crop_region_v2 + expand_crop_region in p.init) before the annotator sees it
        mode = None if from_init else args.resize_mode
        images = [img2img_geometry(p, im, mode, width, height) for im in images]
    return images


def _init_image(image: Any, unit: int) -> np.ndarray:
    """img2img's input image as a unit's condition: over the image budget it is the unit's ``image`` error."""
    try:
        return decode_image(image)
    except ValueError as e:
        raise UnitArgsError(str(e), "image", unit) from None

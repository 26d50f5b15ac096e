"""T2I-Adapter for AUTOMATIC1111 WebUI v1.10.1 and Forge — the WebUI glue (host logic: ``t2i_host``; core: ``t2i_ext``).

Contract (what the WebUI, the stand-in under ``tests/webui`` and API callers can rely on)
=========================================================================================
Script: title ``"T2I-Adapter"`` (API key ``"t2i-adapter"``, matched case-insensitively), ``show()`` →
``scripts.AlwaysVisible``, in txt2img and img2img. ``ui()`` returns exactly ONE component per unit: a
``gr.State`` holding that unit's dict (default ``UnitArgs(enabled=False).to_dict()``), rebuilt by the visible
widgets' change events. The number of units is the setting ``t2i_adapter_unit_count`` (default 3). So
``alwayson_scripts["t2i-adapter"]["args"]`` is a list of unit dicts and every hook receives ``*units`` = one value
per unit (a dict, ``None`` = disabled, or a ``UnitArgs``); a shorter API list leaves the other units at their
disabled defaults. Unit fields (``t2i_host/unit_args.py``; ControlNet names): enabled (default true), model, module,
image (base64 with/without ``data:``, ``{"image", "mask"}``, numpy/PIL, or a list: one per batch image), weight
[0, 2], guidance_start, guidance_end, resize_mode (names or 0/1/2), processor_res, threshold_a, threshold_b
(-1 = annotator default; mapped to the annotator's ``resolution`` and its first two numeric parameters),
control_mode (names or 0/1/2), pixel_perfect, low_vram, hr_option (Both / Low res only / High res only),
inpaint_crop_input_image (default true); plus annotator_params (any parameter by name) and batch_folder (img2img
batch tab). ControlNet's ``mask``/``mask_image``/``save_detected_map`` are accepted when well-typed and ignored.

Hooks:
- ``before_process``: removes hooks a previous job may have left (belt and braces; see below).
- ``process``: parses every unit (``UnitArgs.parse``), applies xyz-grid overrides (``p.t2i_adapter_overrides``:
  the first enabled unit or a given one), resolves and loads models (LRU), checks each adapter against the checkpoint's
  family, writes each enabled unit to ``p.extra_generation_params["T2I-Adapter <i>"]``, and wraps ``p.sample``
  (instance attribute) with a ``try/finally`` guard. Any error is kept and raised by that guard when sampling
  starts — the WebUI swallows exceptions raised inside script hooks, so this is how a bad unit stops the job
  (UI: the error is shown; API: the WebUI's exception handler answers with the error's ``status_code``, 422 for
  ``UnitArgsError``). Style units without a module use ``clip_vision``; ``--lowvram``/``--medvram`` force
  ``low_vram`` (adapter offloaded after its pass).
- ``process_before_every_sampling(x, noise, c, uc)`` (first pass and hires pass): each unit's features at the
  size of ``x`` (latent × 8) from the feature cache or one adapter pass (img2img: the unit's image, else the init
  images with the WebUI's resize mode; "only masked" inpainting: cropped with the WebUI's own region
  ``p.paste_to``), then ``t2i_ext.inject`` on ``p.sd_model.model.diffusion_model`` with a layout *function*
  (``CfgRowTracker``, asked before every UNet call; AND prompts from ``c.batch``). Errors here install a UNet
  pre-hook that raises them at the first UNet call (stopping sampling the same way).
- ``post_sample``/``postprocess_batch``/``postprocess``: remove the hooks (idempotent).
Hook removal is certain: the ``p.sample`` guard's ``finally`` removes them when sampling returns, raises or is
interrupted; the post hooks and the next job's ``before_process`` remove leftovers; the ``on_cfg_denoiser``
callback drops a job whose ``p`` is not the denoiser's or whose UNet was swapped (refiner: the adapter guides the
base part only).

Callbacks registered once at load: ``on_cfg_denoiser`` (guidance start/end progress = sampling_step /
total_sampling_steps of the current pass; cond/uncond texts for the row tracker), ``on_ui_settings`` (section
"T2I-Adapter": unit count, model cache size, extra model folders, SD1 adapters on SD2), ``on_after_component``
(remembers the img2img batch tab's input folder), ``on_before_reload`` (remove hooks), ``on_app_started``
(``/t2i-adapter/*`` routes of ``t2i_host/http_api.py`` and the ``AlwaysonArgsGuard`` middleware of
``t2i_host/api_guard.py``, which restores units from a request's ``infotext`` and answers 422 naming unit and field
for bad ``alwayson_scripts["t2i-adapter"]`` args of ``/sdapi/v1/txt2img|img2img`` before the WebUI runs them; under
``--api-auth`` it does not validate (it would answer before authentication): the same errors come as 422 from the
``p.sample`` guard, after authentication). xyz-grid axes are added at load time.

Infotext: ``T2I-Adapter <i>: "model: stem [hash], module: canny, weight: 0.8, guidance_start: 0, ..."`` (the WebUI
JSON-quotes the whole value; inner values with ``,``/``:``/``"`` are JSON-quoted). Pasting restores the visible
widgets of unit i (not the image; units absent from the infotext are disabled). An API request's ``infotext``
restores its units too (``complete_api_units``, in the middleware): fields the request's own unit i sets win.

Models: the extension's ``models/``, ``<models>/T2I-Adapter`` (created), adapter files in ``<models>/ControlNet``
(told from ControlNets by tensor names) and the folders of setting ``t2i_adapter_extra_models_dirs``
(";"-separated), listed as ``"stem [sha256[:8]]"``. SD1 adapters on SD2 checkpoints: allowed with a warning
(shapes fit; they were trained on SD1), refused when ``t2i_adapter_allow_sd1_on_sd2`` is off. Style adapters and
the CoAdapter fuser need SD1 (768-wide text). CoAdapter: a unit whose model is a fuser fuses all other enabled
units (condition names from their file names: sketch, canny, depth, color, style, seg, keypose, openpose).
img2img batch tab: a unit's batch folder holds condition images named like the input files.
"""

from __future__ import annotations

import importlib.util
import logging
import math
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import torch
from modules import devices, paths, script_callbacks, scripts, shared

import annotators
import annotators.weights
import t2i_ext
import t2i_host.unit_args
from t2i_host import families, forge_unet
from t2i_host.api_units import ApiRules, validate_units
from t2i_host.batch_images import images_for_batch
from t2i_host.batch_match import InputFolderIndex, find_by_stem, job_index, stem_from_pattern, walk_images
from t2i_host.cfg_rows import CfgRowTracker
from t2i_host.families import SD1, checkpoint_family
from t2i_host.job import FeatureCache, Job, UnitPlan
from t2i_host.model_store import AdapterCache, ModelInfo, ModelStore
from t2i_host.parsed_units import ParsedUnits
from t2i_host.resize import ResizeMode, resize_to
from t2i_host.unit_args import CONTROL_MODE_NAMES, UnitArgs, UnitArgsError, threshold_names

LOG = logging.getLogger("t2i_adapter")
TITLE = "T2I-Adapter"
EXTENSION_ROOT = Path(scripts.basedir())
INFOTEXT_KEY = "T2I-Adapter {}"
RUN_ATTR = "_t2i_adapter_run"
BATCH_CALLS_ATTR = "_t2i_adapter_batch_jobs"  # jobs run on one p: the img2img batch tab reuses p per file
# set by the xyz-grid axes: {unit index, or None for the first enabled unit: {field: value}}
OVERRIDES_ATTR = "t2i_adapter_overrides"
# the host is Forge when its own package is importable; the same extension then patches Forge's UnetPatcher clone
FORGE = importlib.util.find_spec("modules_forge") is not None


def diffusion_model(sd_model: Any) -> torch.nn.Module:
    """The loaded checkpoint's UNet module (Forge keeps it inside the job's ``UnetPatcher``)."""
    if FORGE:
        return sd_model.forge_objects.unet.model.diffusion_model
    return sd_model.model.diffusion_model


# -- settings -------------------------------------------------------------------------------------------------------
def opt(name: str, default: Any) -> Any:
    return getattr(shared.opts, name, default) if hasattr(shared, "opts") else default


_BAD_SETTINGS: set[str] = set()


def whole_opt(name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number setting within its slider's range. ``/sdapi/v1/options`` stores any JSON value and
    config.json can be edited by hand: a value that is not a number gives the default (logged once), not a
    traceback in every job and panel."""
    value = opt(name, default)
    try:
        number = float(value)
        if isinstance(value, bool) or not math.isfinite(number):
            raise ValueError
    except (TypeError, ValueError):
        if name not in _BAD_SETTINGS:
            _BAD_SETTINGS.add(name)
            LOG.warning("T2I-Adapter: setting %s is %r, not a number; using %d", name, value, default)
        return default
    return max(lo, min(hi, int(number)))


def unit_count() -> int:
    return whole_opt("t2i_adapter_unit_count", 3, 1, 10)


def model_folders() -> list[tuple[Path, bool]]:
    models = Path(paths.models_path)
    own = models / "T2I-Adapter"
    try:
        own.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        LOG.warning("T2I-Adapter: cannot create %s (%s)", own, e)
    folders = [(EXTENSION_ROOT / "models", False), (own, False), (models / "ControlNet", True)]
    extra = str(opt("t2i_adapter_extra_models_dirs", "") or "")
    folders += [(Path(p.strip()), False) for p in extra.split(";") if p.strip()]
    return folders


STORE = ModelStore(model_folders())


def store() -> ModelStore:
    STORE.folders = model_folders()  # the setting may have changed
    return STORE


def _adapter_dtype() -> torch.dtype:
    device = devices.get_device_for("t2i_adapter")
    return torch.float32 if torch.device(device).type == "cpu" else devices.dtype


def _torch_gc() -> None:
    if hasattr(devices, "torch_gc"):
        devices.torch_gc()


ADAPTERS = AdapterCache(
    lambda path: t2i_ext.load_adapter(path, dtype=_adapter_dtype()),
    size=lambda: whole_opt("t2i_adapter_model_cache_size", 2, 1, 10),
    on_evict=_torch_gc,
)
FEATURES = FeatureCache(max_entries=8)  # a few MB each, kept on the UNet's device
PARSED = ParsedUnits(max_entries=8)  # an API unit checked by the guard is not decoded again by process

try:  # annotator weights live beside the WebUI's other models
    annotators.weights.set_models_dir(Path(paths.models_path) / "annotators")
except Exception as e:  # never block the WebUI from starting
    LOG.warning("T2I-Adapter: annotator models folder not set: %s", e)


# -- one WebUI job as the script sees it -------------------------------------------------------------------------------
class Run:
    """What the script keeps for one WebUI job: its ``p``, the core's :class:`Job` (``None`` when the units could not
    be set up), the error to raise when sampling starts, the row tracker and the UNet of the current pass, and the
    UNet pre-hook that raises an error found while installing.

    A plain class: the WebUI loads scripts without registering them in ``sys.modules``, which ``@dataclass`` needs.
    """

    def __init__(self, p: Any) -> None:
        self.p = p
        self.job: Job | None = None
        self.error: BaseException | None = None
        self.tracker: CfgRowTracker | None = None
        self.unet: torch.nn.Module | None = None
        self.fail_handle: Any = None

    def release(self) -> None:
        """Remove every hook of this run; safe to call any number of times."""
        if self.job is not None:
            self.job.remove()
        if self.fail_handle is not None:
            self.fail_handle.remove()
            self.fail_handle = None
        global ACTIVE
        if ACTIVE is self:
            ACTIVE = None


ACTIVE: Run | None = None  # the run whose hooks are installed (for the on_cfg_denoiser callback)


def release(run: Run | None) -> None:
    if run is not None:
        run.release()


def release_all() -> None:
    release(ACTIVE)


def on_cfg_denoiser(params: Any) -> None:
    run = ACTIVE
    if run is None:
        return
    owner = getattr(getattr(params, "denoiser", None), "p", None)
    if owner is not None and owner is not run.p:
        run.release()  # a job that ended without our guard: its hooks must not touch this sampling
        return
    try:
        unet = diffusion_model(shared.sd_model)
    except AttributeError:
        unet = None
    if run.unet is not None and unet is not None and unet is not run.unet:
        LOG.info("T2I-Adapter: the checkpoint changed during sampling (refiner); the adapter guided the first part")
        run.release()
        return
    if run.tracker is not None:
        run.tracker.start_denoiser_call(params.text_cond, params.text_uncond, params.x.shape[0])
    if run.job is not None and run.job.injection is not None:
        run.job.injection.progress = params.sampling_step / max(1, params.total_sampling_steps)


script_callbacks.on_cfg_denoiser(on_cfg_denoiser, name="t2i_adapter_progress")
if hasattr(script_callbacks, "on_before_reload"):
    script_callbacks.on_before_reload(release_all, name="t2i_adapter_release")


# -- model family checks -----------------------------------------------------------------------------------------------
def check_family(adapter: Any, family: str, name: str, unit: int) -> None:
    allow = bool(opt("t2i_adapter_allow_sd1_on_sd2", True))
    if families.check_family(getattr(adapter, "base", SD1), getattr(adapter, "kind", ""), family, name, unit, allow):
        LOG.warning(
            "T2I-Adapter unit %d: %s was trained for SD1.x; on this SD2 checkpoint it may guide weakly", unit, name
        )


def resolve_model(name: str, unit: int) -> ModelInfo:
    if not name:
        raise UnitArgsError(
            "no adapter model chosen: pick one in the unit's Model list (GET /t2i-adapter/models)", "model", unit
        )
    info = store().find(name)
    if info is None and (reason := store().why_unusable(name)):  # a file that is there but broken or hostile
        raise UnitArgsError(f"adapter model '{name}' cannot be used: {reason}", "model", unit)
    if info is None:
        titles = ", ".join(store().models()) or f"none (put adapter files in {paths.models_path}/T2I-Adapter)"
        raise UnitArgsError(f"no adapter model '{name}'; available: {titles}", "model", unit)
    return info


def known_modules() -> set[str]:
    return set(annotators.names())


def annotator_param_types(module: str) -> list[tuple[str, type]]:
    if module == "none":
        return []
    return [(p.name, p.type) for p in annotators.get(module).params]


# -- images ------------------------------------------------------------------------------------------------------------
def to_rgb(image: Any) -> np.ndarray:
    from t2i_host.images import decode_image

    return decode_image(image)


def img2img_geometry(p: Any, image: np.ndarray, unit_mode: ResizeMode | None, width: int, height: int) -> np.ndarray:
    """Fit ``image`` to the pass like the WebUI fits its init image: the "only masked" crop first, then resize."""
    crop = getattr(p, "paste_to", None)
    init = (getattr(p, "init_images", None) or [None])[0]
    if crop and init is not None:
        x1, y1, w, h = crop
        full = resize_to(image, init.width, init.height, ResizeMode.JUST_RESIZE)
        return resize_to(np.ascontiguousarray(full[y1 : y1 + h, x1 : x1 + w]), width, height, ResizeMode.JUST_RESIZE)
    if unit_mode is None:  # the init image itself: the WebUI's own img2img resize mode
        unit_mode = {0: ResizeMode.JUST_RESIZE, 1: ResizeMode.CROP_AND_RESIZE, 2: ResizeMode.RESIZE_AND_FILL}.get(
            int(getattr(p, "resize_mode", 0) or 0), ResizeMode.JUST_RESIZE
        )
    return resize_to(image, width, height, unit_mode)


BATCH_INPUT = {"folder": ""}  # the img2img batch tab's input folder, captured from its textbox (UI only)
INPUT_INDEX = InputFolderIndex()


def capture_batch_input_dir(component: Any, **kwargs: Any) -> None:
    """Remember the batch tab's "Input directory": the WebUI passes scripts the picture, not its file name."""
    if kwargs.get("elem_id") == "img2img_batch_input_dir":

        def remember(value: str) -> None:
            BATCH_INPUT["folder"] = value or ""

        for event in ("change", "blur"):
            if hasattr(component, event):
                getattr(component, event)(remember, inputs=[component], outputs=[], queue=False)


script_callbacks.on_after_component(capture_batch_input_dir, name="t2i_adapter_batch_input")


def input_stem(p: Any, unit: int) -> str:
    """The file stem of the img2img batch input being processed (see ``t2i_host/batch_match.py`` for the order)."""
    init = (getattr(p, "init_images", None) or [None])[0]
    name = getattr(init, "filename", None)
    if name:
        return Path(name).stem
    stem = stem_from_pattern((getattr(p, "override_settings", None) or {}).get("samples_filename_pattern"))
    if stem:
        return stem
    folder = BATCH_INPUT["folder"]
    if folder:
        index = job_index(getattr(shared.state, "job", ""))
        files = walk_images(folder)
        if index is not None and index < len(files):
            return files[index].stem
        found = INPUT_INDEX.find(folder, to_rgb(init)) if init is not None else None
        if found:
            return found.stem
    raise UnitArgsError(
        "a batch folder is set, but the processed image's file name is unknown: use the img2img "
        "batch tab's 'From directory' input",
        "batch_folder",
        unit,
    )


def batch_folder_image(folder: str, p: Any, unit: int) -> np.ndarray:
    """The condition image in ``folder`` whose file stem equals the processed input image's (img2img batch tab)."""
    if not Path(folder).is_dir():
        raise UnitArgsError(f"folder '{folder}' does not exist", "batch_folder", unit)
    try:
        stem = input_stem(p, unit)
    except UnitArgsError:
        # last resort: the k-th job on this p is the k-th input file; take the k-th condition image
        count = int(getattr(p, BATCH_CALLS_ATTR, 0) or 0)
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
    from PIL import Image

    from t2i_host.images import open_image

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


# -- the job -----------------------------------------------------------------------------------------------------------
def parse_units(units: tuple, p: Any = None) -> list[UnitArgs]:
    modules_known = known_modules()
    parsed = [PARSED.parse(u, i, modules_known) for i, u in enumerate(units)]
    overrides = getattr(p, OVERRIDES_ATTR, None) if p is not None else None
    for target, fields in (overrides or {}).items():
        index = next((i for i, u in enumerate(parsed) if u.enabled), None) if target is None else target
        if index is not None and 0 <= index < len(parsed):
            parsed[index] = UnitArgs.parse({**parsed[index].to_dict(), **fields}, index, modules_known)
    return parsed


def build_job(p: Any, units: tuple) -> Job | None:
    parsed = parse_units(units, p)
    enabled = [(i, u) for i, u in enumerate(parsed) if u.enabled]
    if not enabled:
        return None
    family = checkpoint_family(p.sd_model)
    plans = []
    for i, args in enabled:
        info = resolve_model(args.model, i)
        args = args.with_changes(model=STORE.title(info))  # the infotext names the exact file: "stem [hash]"
        p.extra_generation_params[INFOTEXT_KEY.format(i)] = args.to_infotext()
        try:
            adapter = ADAPTERS.get(info.path, tag=str(_adapter_dtype()))
        except t2i_ext.AdapterLoadError as e:
            raise UnitArgsError(str(e), "model", i) from None
        check_family(adapter, family, STORE.title(info), i)
        if adapter.kind == "style" and args.module == "none":
            args = args.with_changes(module="clip_vision")  # a style unit's image is a reference: encode it
        if FORGE or getattr(shared.cmd_opts, "lowvram", False) or getattr(shared.cmd_opts, "medvram", False):
            # short of VRAM, or Forge, whose memory manager accounts for the device: the adapter leaves it after its
            # single pass, sampling holds only the features
            args = args.with_changes(low_vram=True)
        plans.append(
            UnitPlan(
                index=i,
                args=args,
                adapter=adapter,
                model_hash=STORE.short_hash(info.path),
                model_name=info.stem,
                images=list(args.image),
                annotator_params=annotator_param_types(args.module),
            )
        )
    kinds = [pl.kind for pl in plans]
    if kinds.count("fuser") > 1:
        raise UnitArgsError("more than one CoAdapter fuser unit is enabled; enable one", "model", plans[-1].index)
    unet = diffusion_model(p.sd_model)
    # the WebUI's compute device, not the UNet's current one: --lowvram/--medvram park the UNet on the CPU between calls
    device = getattr(devices, "device", None) or next(unet.parameters()).device
    return Job(plans, annotate=annotators.run, cache=FEATURES, device=device, dtype=devices.dtype_unet)


def images_for(p: Any, plan: UnitPlan, width: int, height: int) -> list[np.ndarray]:
    """Source images of ``plan`` for the current batch, already fitted to img2img's geometry where it applies."""
    args, batch = plan.args, int(p.batch_size)
    is_img2img = hasattr(p, "init_images")
    images = list(plan.images)
    if args.batch_folder and is_img2img:
        images = [batch_folder_image(args.batch_folder, p, plan.index)]
    from_init = False
    if not images and is_img2img and plan.kind != "style":
        images = [to_rgb(im) for im in (p.init_images or [])]
        from_init = True
    if not images and is_img2img and plan.kind == "style":
        images = [to_rgb(p.init_images[0])] if p.init_images else []
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


def install(run: Run, x: torch.Tensor, c: Any) -> None:
    global ACTIVE
    p, job = run.p, run.job
    height, width = int(x.shape[-2]) * 8, int(x.shape[-1]) * 8
    hires = bool(getattr(p, "is_hr_pass", False)) if getattr(p, "enable_hr", False) else None
    images = {plan.index: images_for(p, plan, width, height) for plan in job.plans_for(hires)}
    units = job.units(width, height, images, hires=hires)
    run.unet = diffusion_model(p.sd_model)
    if FORGE:  # the job's own patcher clone: Forge's UNet reads its block and conditioning modifiers
        patcher = p.sd_model.forge_objects.unet.clone()
        job.attach(run.unet, units, lambda injection, blocks: forge_unet.attach(patcher, injection, blocks))
        p.sd_model.forge_objects.unet = patcher
    else:  # module hooks on the shared UNet, removed when sampling ends; rows told by the CFG denoiser's context
        batch = len(getattr(c, "batch", None) or [None] * x.shape[0])
        repeats = [len(b) for b in c.batch] if hasattr(c, "batch") else None
        run.tracker = CfgRowTracker(batch, repeats)
        job.install(run.unet, units, layout=run.tracker.layout)
    ACTIVE = run


def fail_at_first_unet_call(run: Run, error: BaseException) -> None:
    """The WebUI swallows errors in script hooks; raising from the UNet stops sampling with our message."""
    global ACTIVE

    def hook(module, args, kwargs):  # noqa: ARG001
        raise error

    if FORGE:
        patcher = run.p.sd_model.forge_objects.unet.clone()
        patcher.add_block_modifier(forge_unet.fail_modifier(error))
        run.p.sd_model.forge_objects.unet = patcher
        ACTIVE = run
    elif run.fail_handle is None:
        run.fail_handle = diffusion_model(run.p.sd_model).register_forward_pre_hook(hook, with_kwargs=True)
        ACTIVE = run


def guard_sample(run: Run) -> None:
    """Wrap ``p.sample`` (this job's instance only) so errors surface and hooks always come off."""
    original = run.p.sample

    def sample(*args: Any, **kwargs: Any) -> Any:
        try:
            if run.error is not None:
                raise run.error
            return original(*args, **kwargs)
        finally:
            run.release()

    run.p.sample = sample


class Script(scripts.Script):
    def title(self) -> str:
        return TITLE

    def show(self, is_img2img: bool) -> Any:
        return scripts.AlwaysVisible

    def ui(self, is_img2img: bool) -> list:
        try:
            return build_ui(self, is_img2img)
        except Exception as e:  # the API builds every script's UI at start: a failure here would take it down
            LOG.exception("T2I-Adapter: the panel could not be built")
            gr.Markdown(f"T2I-Adapter: the panel could not be built ({e}); the API still accepts units.")
            return [gr.State(value=UnitArgs(enabled=False).to_dict()) for _ in range(unit_count())]

    # -- lifecycle -----------------------------------------------------------------------------------------------------
    def before_process(self, p: Any, *units: Any) -> None:
        release_all()

    def process(self, p: Any, *units: Any) -> None:
        setattr(p, RUN_ATTR, None)
        setattr(p, BATCH_CALLS_ATTR, int(getattr(p, BATCH_CALLS_ATTR, 0) or 0) + 1)
        run = Run(p)
        try:
            run.job = build_job(p, units)
        except Exception as e:  # kept and raised by the p.sample guard: the script runner would swallow it
            run.error = e
            LOG.error("T2I-Adapter: %s", e)
        if run.job is None and run.error is None:
            return
        setattr(p, RUN_ATTR, run)
        guard_sample(run)

    def process_before_every_sampling(self, p: Any, *units: Any, **kwargs: Any) -> None:
        run = getattr(p, RUN_ATTR, None)
        if run is None or run.error is not None:
            return
        try:
            install(run, kwargs["x"], kwargs.get("c"))
        except Exception as e:
            run.job.remove()
            run.error = e
            LOG.error("T2I-Adapter: %s", e)
            fail_at_first_unet_call(run, e)

    def post_sample(self, p: Any, ps: Any, *units: Any) -> None:
        release(getattr(p, RUN_ATTR, None))

    def postprocess_batch(self, p: Any, *units: Any, **kwargs: Any) -> None:
        release(getattr(p, RUN_ATTR, None))

    def postprocess(self, p: Any, processed: Any, *units: Any) -> None:
        release(getattr(p, RUN_ATTR, None))


# -- UI ----------------------------------------------------------------------------------------------------------------
def model_choices(refresh: bool = False) -> list[str]:
    models = store().refresh() if refresh else store().models()
    sd_model = getattr(shared, "sd_model", None)
    family = checkpoint_family(sd_model) if sd_model is not None else None
    fits = [t for t, m in models.items() if family is None or families.adapter_fits(m.base, m.kind, family)]
    return ["None", *fits]


def describe_model(title: str) -> str:
    info = store().models().get(title)
    if info is None:
        return ""
    return f"{info.base} · {info.kind} · {info.folder}"


def _annotator_layout(module: str) -> tuple[Any, Any, Any, list[str]]:
    """(resolution param, threshold_a param, threshold_b param, bool param names) of an annotator."""
    if module == "none" or module not in annotators.names():
        return None, None, None, []
    params = annotators.get(module).params
    by_name = {p.name: p for p in params}
    a, b = threshold_names([(p.name, p.type) for p in params])
    bools = [p.name for p in params if p.type is bool]
    return by_name.get("resolution"), by_name.get(a), by_name.get(b), bools


def _slider_update(param: Any, current: Any, keep: bool) -> dict:
    if param is None:
        return gr.update(visible=False)
    in_range = isinstance(current, (int, float)) and param.minimum <= current <= param.maximum
    return gr.update(
        visible=True,
        minimum=param.minimum,
        maximum=param.maximum,
        step=param.step,
        label=param.label or param.name,
        value=current if keep and in_range else param.default,
    )


def configure_annotator(module: str, res: Any, a: Any, b: Any, options: Any, owner: str) -> list:
    """Show ``module``'s parameters. The sliders start at the annotator's own defaults (as the API's -1 does) when the
    user picks another annotator; they keep their values when they already belong to ``module`` (``owner``: the
    annotator they were last set for, which pasting an infotext sets together with the pasted values)."""
    pres, pa, pb, bools = _annotator_layout(module)
    keep = owner == module
    defaults = [n for n in bools if annotators.get(module).defaults[n]]
    chosen = [n for n in (options or []) if n in bools] if keep else defaults
    return [
        _slider_update(pres, res, keep),
        _slider_update(pa, a, keep),
        _slider_update(pb, b, keep),
        gr.update(visible=bool(bools), choices=bools, value=chosen),
        module,
    ]


# gradio 3.41 (A1111 v1.10.1) and gradio 4.40 (Forge) name the image sources and the drawing tool differently
GRADIO_4 = int(gr.__version__.split(".")[0]) >= 4


def image_upload(**kwargs: Any) -> Any:
    if GRADIO_4:
        return gr.Image(sources=["upload"], type="numpy", **kwargs)
    return gr.Image(source="upload", type="numpy", **kwargs)


def drawing_canvas(**kwargs: Any) -> Any:
    if GRADIO_4:  # an editor whose value is {"background", "layers", "composite"}
        return gr.Sketchpad(type="numpy", image_mode="RGB", **kwargs)
    return gr.Image(source="canvas", type="numpy", tool="sketch", image_mode="RGB", **kwargs)


def drawn(canvas: Any) -> Any:
    """The picture a canvas holds: gradio 4's editor value is its composite; gradio 3's sketch value passes on."""
    if isinstance(canvas, dict) and "composite" in canvas:
        return canvas["composite"]
    return canvas


def _blank(image: Any) -> bool:
    return image is None or (isinstance(image, np.ndarray) and image.size and image.min() == image.max())


def unit_dict(
    enabled,
    upload,
    canvas,
    module,
    res,
    a,
    b,
    options,
    model,
    weight,
    start,
    end,
    resize,
    control,
    pixel_perfect,
    low_vram,
    batch_folder,
) -> dict:
    """The unit's state from its widgets (what ``process`` receives in the UI)."""
    canvas = drawn(canvas)
    image = upload if not _blank(upload) else (canvas if not _blank(canvas) else None)
    pres, pa, pb, bools = _annotator_layout(module)
    return {
        "enabled": bool(enabled),
        "model": "" if model in (None, "None") else model,
        "module": module or "none",
        "image": image,
        "weight": weight,
        "guidance_start": start,
        "guidance_end": end,
        "resize_mode": resize,
        "processor_res": int(res) if pres is not None else -1,
        "threshold_a": a if pa is not None else -1,
        "threshold_b": b if pb is not None else -1,
        "control_mode": control,
        "pixel_perfect": bool(pixel_perfect),
        "low_vram": bool(low_vram),
        "annotator_params": {n: n in (options or []) for n in bools},
        "batch_folder": batch_folder or "",
    }


def run_preview(*values: Any) -> Any:
    args = UnitArgs.parse({**unit_dict(*values), "enabled": True}, None, known_modules())
    if not args.image:
        raise gr.Error("Upload or draw a condition image first.")
    if args.module == "none":
        return args.image[0]
    plan = UnitPlan(
        index=0,
        args=args,
        adapter=torch.nn.Identity(),
        model_hash="",
        images=list(args.image),
        annotator_params=annotator_param_types(args.module),
    )
    h, w = args.image[0].shape[:2]
    out = Job([plan], annotators.run, FeatureCache(0)).condition_maps(plan, list(args.image), w, h)[0]
    if not isinstance(out, np.ndarray) or out.ndim not in (2, 3):
        raise gr.Error(f"'{args.module}' produces tokens for the style adapter, not a picture.")
    return out


def pasted(i: int, field: str):
    """The infotext paste function for unit ``i``'s widget ``field`` (``"owner"``: the annotator the pasted slider
    values belong to). Parameters the infotext leaves at the annotator's default (-1, or no ``annotator_params``)
    are pasted as that default, so the widgets show what the job used."""

    def get(params: dict) -> Any:
        text = params.get(INFOTEXT_KEY.format(i))
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
            info = store().find(value) if value else None
            return STORE.title(info) if info else (value or "None")
        pres, pa, pb, bools = _annotator_layout(values["module"])
        if field == "annotator_params":
            defaults = annotators.get(values["module"]).defaults if bools else {}
            return [n for n in bools if (value or {}).get(n, defaults.get(n))]
        if field in ("processor_res", "threshold_a", "threshold_b") and value == -1:
            param = {"processor_res": pres, "threshold_a": pa, "threshold_b": pb}[field]
            return param.default if param is not None else None
        return value

    return get


def unit_ui(script: Script, i: int, is_img2img: bool, tab: str) -> tuple[Any, list]:
    eid = f"{tab}_t2i_adapter_unit{i}"
    state = gr.State(value=UnitArgs(enabled=False).to_dict())
    with gr.Row():
        enabled = gr.Checkbox(False, label="Enable", elem_id=f"{eid}_enabled")
        pixel_perfect = gr.Checkbox(False, label="Pixel Perfect", elem_id=f"{eid}_pixel_perfect")
        low_vram = gr.Checkbox(False, label="Low VRAM (offload the adapter after its pass)", elem_id=f"{eid}_low_vram")
    with gr.Tabs():
        with gr.Tab("Image"):
            upload = image_upload(
                label="Condition image (a reference image for style units)"
                + (" — empty: the img2img input is used" if is_img2img else ""),
                elem_id=f"{eid}_image",
            )
        with gr.Tab("Draw"):
            canvas = drawing_canvas(
                elem_id=f"{eid}_canvas",
                label="Canvas (edge adapters want white lines on black: pick the 'invert' annotator)",
            )
    with gr.Row():
        module = gr.Dropdown(["none", *annotators.names()], value="none", label="Annotator", elem_id=f"{eid}_module")
        preview_button = gr.Button("Preview condition map", elem_id=f"{eid}_preview_button")
    res = gr.Slider(0, 2048, value=512, step=64, label="Annotator resolution", visible=False, elem_id=f"{eid}_res")
    thr_a = gr.Slider(0, 255, value=0, label="Threshold A", visible=False, elem_id=f"{eid}_threshold_a")
    thr_b = gr.Slider(0, 255, value=0, label="Threshold B", visible=False, elem_id=f"{eid}_threshold_b")
    options = gr.CheckboxGroup([], label="Annotator options", visible=False, elem_id=f"{eid}_options")
    preview = gr.Image(label="Condition map", interactive=False, type="numpy", elem_id=f"{eid}_preview")
    with gr.Row():
        model = gr.Dropdown(model_choices(), value="None", label="Adapter model", elem_id=f"{eid}_model")
        refresh = gr.Button("\U0001f504", elem_id=f"{eid}_refresh")
    model_info = gr.Markdown("")
    weight = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Weight", elem_id=f"{eid}_weight")
    with gr.Row():
        start = gr.Slider(0.0, 1.0, value=0.0, step=0.01, label="Guidance start", elem_id=f"{eid}_guidance_start")
        end = gr.Slider(0.0, 1.0, value=1.0, step=0.01, label="Guidance end", elem_id=f"{eid}_guidance_end")
    resize = gr.Radio(
        ResizeMode.choices(), value=ResizeMode.CROP_AND_RESIZE.value, label="Resize mode", elem_id=f"{eid}_resize_mode"
    )
    control = gr.Radio(
        list(CONTROL_MODE_NAMES.values()), value="Balanced", label="Control mode", elem_id=f"{eid}_control_mode"
    )
    batch_folder = gr.Textbox(
        "",
        label="Batch folder: condition images matched to the img2img batch by file name",
        visible=is_img2img,
        elem_id=f"{eid}_batch_folder",
    )

    widgets = [
        enabled,
        upload,
        canvas,
        module,
        res,
        thr_a,
        thr_b,
        options,
        model,
        weight,
        start,
        end,
        resize,
        control,
        pixel_perfect,
        low_vram,
        batch_folder,
    ]
    for w in widgets:
        for event in ("change", "edit", "clear"):
            if hasattr(w, event):
                getattr(w, event)(unit_dict, inputs=widgets, outputs=[state], queue=False)
    owner = gr.State("none")  # the annotator the sliders were last set for (see configure_annotator)
    module.change(
        configure_annotator,
        inputs=[module, res, thr_a, thr_b, options, owner],
        outputs=[res, thr_a, thr_b, options, owner],
        queue=False,
    )
    preview_button.click(run_preview, inputs=widgets, outputs=[preview])
    refresh.click(lambda: gr.update(choices=model_choices(refresh=True)), outputs=[model], queue=False)
    model.change(describe_model, inputs=[model], outputs=[model_info], queue=False)

    named = {
        "enabled": enabled,
        "module": module,
        "model": model,
        "weight": weight,
        "guidance_start": start,
        "guidance_end": end,
        "resize_mode": resize,
        "control_mode": control,
        "pixel_perfect": pixel_perfect,
        "low_vram": low_vram,
        "processor_res": res,
        "threshold_a": thr_a,
        "threshold_b": thr_b,
        "annotator_params": options,
        "owner": owner,
    }
    return state, [(component, pasted(i, field)) for field, component in named.items()]


def build_ui(script: Script, is_img2img: bool) -> list:
    count = unit_count()
    tab = "img2img" if is_img2img else "txt2img"
    states, paste = [], []
    with gr.Group(elem_id=f"{tab}_t2i_adapter"):
        with gr.Accordion(TITLE, open=False, elem_id=f"{tab}_t2i_adapter_accordion"):
            with gr.Tabs():
                for i in range(count):
                    with gr.Tab(f"Unit {i}"):
                        state, fields = unit_ui(script, i, is_img2img, tab)
                        states.append(state)
                        paste += fields
    script.infotext_fields = paste
    script.paste_field_names = []
    return states


# -- settings and xyz grid ---------------------------------------------------------------------------------------------
def on_ui_settings() -> None:
    section = ("t2i_adapter", TITLE)
    add = shared.opts.add_option
    add(
        "t2i_adapter_unit_count",
        shared.OptionInfo(
            3,
            "Number of adapter units (also the most the API accepts)",
            gr.Slider,
            {"minimum": 1, "maximum": 10, "step": 1},
            section=section,
        ).needs_reload_ui(),
    )
    add(
        "t2i_adapter_model_cache_size",
        shared.OptionInfo(
            2, "Adapters kept loaded (LRU)", gr.Slider, {"minimum": 1, "maximum": 10, "step": 1}, section=section
        ),
    )
    add(
        "t2i_adapter_extra_models_dirs",
        shared.OptionInfo("", "Extra folders with adapter models (separate with ;)", section=section),
    )
    add(
        "t2i_adapter_allow_sd1_on_sd2",
        shared.OptionInfo(True, "Allow SD1 adapters on SD2 checkpoints (with a warning)", section=section),
    )


script_callbacks.on_ui_settings(on_ui_settings, name="t2i_adapter_settings")


XYZ_FIELDS = (
    ("Weight", "weight", float),
    ("Guidance start", "guidance_start", float),
    ("Guidance end", "guidance_end", float),
    ("Model", "model", str),
    ("Annotator", "module", str),
)


def add_xyz_axes() -> None:
    """Axes for the built-in X/Y/Z plot, through ``p.t2i_adapter_overrides``: ``[T2I-Adapter] <field>`` changes the
    first enabled unit, ``[T2I-Adapter] Unit <i> <field>`` unit i (e.g. two units' weights on X and Y)."""
    xyz = next(
        (d.module for d in scripts.scripts_data if d.script_class.__module__ in ("xyz_grid.py", "xyz_grid")), None
    )
    if xyz is None or any(getattr(o, "label", "").startswith("[T2I-Adapter]") for o in xyz.axis_options):
        return

    def setter(unit: int | None, field: str):
        def apply(p, value, _choices=None):
            overrides = {k: dict(v) for k, v in (getattr(p, OVERRIDES_ATTR, None) or {}).items()}
            overrides.setdefault(unit, {})[field] = value
            setattr(p, OVERRIDES_ATTR, overrides)

        return apply

    choices = {"model": lambda: model_choices()[1:], "module": lambda: ["none", *annotators.names()]}
    targets = [(None, "")] + [(i, f"Unit {i} ") for i in range(unit_count())]
    xyz.axis_options.extend(
        xyz.AxisOption(
            f"[T2I-Adapter] {prefix}{label if not prefix else label.lower()}",
            kind,
            setter(unit, field),
            choices=choices.get(field),
        )
        for unit, prefix in targets
        for label, field, kind in XYZ_FIELDS
    )


try:
    add_xyz_axes()
except Exception as e:  # the grid is optional; never break loading
    LOG.warning("T2I-Adapter: xyz-grid axes not added: %s", e)


# -- HTTP API ----------------------------------------------------------------------------------------------------------
def swap_pending(sd_model: Any) -> bool:
    """True when the loaded model is not the selected checkpoint, which the next job loads first: after a job with a
    refiner the WebUI keeps the refiner loaded and swaps back in ``process_images``. The family check then waits for
    ``process``, after that reload."""
    from modules import sd_models

    loaded = getattr(sd_model, "sd_checkpoint_info", None)
    selected = getattr(sd_models, "checkpoint_aliases", {}).get(opt("sd_model_checkpoint", None))
    if loaded is None or selected is None:
        return False  # unknown: check against the loaded model
    return getattr(selected, "filename", None) != getattr(loaded, "filename", None)


def validate_api_units(units: list, request: dict | None = None) -> None:
    """What the API argument guard checks before the WebUI runs a request (422 on failure)."""
    overrides = (request or {}).get("override_settings") or {}
    switches_checkpoint = isinstance(overrides, dict) and "sd_model_checkpoint" in overrides
    sd_model = getattr(shared, "sd_model", None)
    family_known = sd_model is not None and not switches_checkpoint and not swap_pending(sd_model)
    rules = ApiRules(
        unit_count=unit_count(),
        parse=PARSED.parse,
        known_modules=known_modules(),
        find_model=resolve_model,
        title=STORE.title,
        family=checkpoint_family(sd_model) if family_known else None,
        allow_sd1_on_sd2=bool(opt("t2i_adapter_allow_sd1_on_sd2", True)),
        annotator_params=annotator_param_types,
        validate_annotator=lambda module, params: annotators.get(module).validate(params),
    )
    validate_units(units, request, rules)


def complete_api_units(request: dict) -> dict | None:
    """An API request with the units its ``infotext`` records (``T2I-Adapter <i>: ...``), completed field by field
    by its own ``alwayson_scripts`` units (``t2i_host.unit_args.units_with_infotext``); None when there is nothing to
    add. The WebUI restores from an API ``infotext`` only what its widgets map; ours are one ``gr.State`` per unit."""
    text = request.get("infotext")
    if not isinstance(text, str) or INFOTEXT_KEY.format("") not in text:
        return None
    from modules import infotext_utils

    params = infotext_utils.parse_generation_parameters(text)
    recorded = {i: params[INFOTEXT_KEY.format(i)] for i in range(unit_count()) if INFOTEXT_KEY.format(i) in params}
    scripts_args = request.get("alwayson_scripts")
    scripts_args = dict(scripts_args) if isinstance(scripts_args, dict) else {}
    key = next((k for k in scripts_args if isinstance(k, str) and k.lower() == TITLE.lower()), TITLE)
    entry = scripts_args.get(key, {})
    if not isinstance(entry, dict) or not isinstance(entry.get("args", []), list):
        return None  # the validator names what is wrong
    try:
        units = t2i_host.unit_args.units_with_infotext(entry.get("args", []), recorded, unit_count())
    except UnitArgsError as e:
        raise UnitArgsError(f"it records an invalid unit: {e}", "infotext", e.unit) from None
    if units is None:
        return None
    scripts_args[key] = {**entry, "args": units}
    return {**request, "alwayson_scripts": scripts_args}


def api_models(refresh: bool) -> list[dict]:
    models = store().refresh() if refresh else store().models()
    return [
        {
            "title": t,
            "name": m.stem,
            "hash": STORE.short_hash(m.path),
            "kind": m.kind,
            "base": m.base,
            "path": str(m.path),
        }
        for t, m in models.items()
    ]


def on_app_started(demo: Any, app: Any) -> None:
    from t2i_host import http_api

    http_api.mount(
        app,
        http_api.Services(
            models=api_models,
            annotators=annotators.list_annotators,
            annotate=annotators.run,
            validate_units=validate_api_units,
            unusable=STORE.unusable_items,
        ),
    )
    # with --api-auth the guard must not answer before authentication (its messages list model names): bad units are
    # then refused after it, when sampling starts (same message, same 422); units from an infotext work either way
    validate = None if getattr(shared.cmd_opts, "api_auth", None) else validate_api_units
    http_api.install_guard(app, validate, title=TITLE, complete=complete_api_units)


script_callbacks.on_app_started(on_app_started, name="t2i_adapter_api")

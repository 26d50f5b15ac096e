"""HTTP routes ``/t2i-adapter/*`` with pydantic (1.x, as the WebUI ships) request/response models.

Mounted by the WebUI glue from ``on_app_started``; FastAPI and pydantic are imported inside :func:`mount` so that
``t2i_ext`` itself stays importable without them. The glue passes a :class:`Services` object (what models exist,
how to annotate, how to validate units), which keeps these routes testable without the WebUI.

- ``GET /t2i-adapter/version`` → ``{"version": ...}``
- ``GET /t2i-adapter/models?refresh=false`` → ``{"models": [{"title", "name", "hash", "kind", "base", "path"}],
  "unusable": [{"path", "reason"}]}`` (files in the model folders that are not usable adapters)
- ``GET /t2i-adapter/annotators`` → ``{"annotators": [{"name", "output", "params", "threshold_a", ...}]}``
- ``POST /t2i-adapter/detect`` ``{"module", "images": [base64, ...], "processor_res", "threshold_a", "threshold_b",
  "annotator_params"}`` → ``{"images": [base64 PNG, ...]}``

Bad input answers 422 (404 for an unknown model name would be wrong for a body field, so 422 throughout) in the
API guard's error shape: ``detail`` says what is wrong and what to send, ``field`` names the offending field (e.g.
``images[0]``, ``module``: also for an annotator whose weight file is missing); unknown request fields are refused
(``extra = forbid``, FastAPI's own 422 naming the field in ``loc``).
"""

# no "from __future__ import annotations": FastAPI reads the route signatures at runtime

import base64
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from t2i_ext import __version__

from .annotate import run_annotator
from .api_guard import error_body
from .images import decode_image
from .unit_args import UnitArgs, UnitArgsError, annotator_values, finite_number, threshold_names


@dataclass
class Services:
    """What the routes need from the host."""

    models: Callable[[bool], list[dict]]  # refresh → [{"title", "name", "hash", "kind", "base", "path"}]
    annotators: Callable[[], list[Any]]  # registered annotator objects (name, output, params, suits, description)
    annotate: Callable[..., Any]  # annotate(name, image, **params)
    validate_units: Callable[[list, dict], None]  # (units, request body) → raises UnitArgsError
    unusable: Callable[[], list[dict]] = lambda: []  # [{"path", "reason"}]: model files that cannot be used
    control_types: Callable[[], dict] | None = None  # t2i_host.control_types.describe(...) of the listed models


def encode_png(image: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _finite_or_raw(value: Any) -> Any:
    """A number sent for a numeric route field checked as a finite float (ValueError otherwise); anything else is
    left to the field's own type check."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return finite_number(value)
    return value


def _before(*names: str) -> Callable:
    """A "before" field validator on pydantic 1 (the WebUI's) and pydantic 2 (Forge's)."""
    try:
        from pydantic import field_validator
    except ImportError:  # pydantic 1
        from pydantic import validator

        return lambda f: validator(*names, pre=True, allow_reuse=True)(f)
    return lambda f: field_validator(*names, mode="before")(classmethod(f))


def mount(app: Any, services: Services, prefix: str = "/t2i-adapter") -> None:
    """Add the routes to ``app`` (a FastAPI app)."""

    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, Field

    class Strict(BaseModel):
        class Config:
            extra = "forbid"

    class VersionResponse(BaseModel):
        version: str = Field(..., description="extension version")

    class ModelItem(BaseModel):
        title: str = Field(..., description='name to send as a unit\'s "model": "<stem> [<sha256[:8]>]"')
        name: str
        hash: str
        kind: str = Field(..., description="full, light, style, fuser, or ? until loaded")
        base: str = Field(..., description="SD1 or SDXL (? until loaded)")
        path: str

    class UnusableItem(BaseModel):
        path: str
        reason: str = Field(..., description="what the file is or what is wrong with it, and what to do")

    class ModelsResponse(BaseModel):
        models: list[ModelItem]
        unusable: list[UnusableItem] = Field(
            default_factory=list, description="files in the model folders that are not usable adapters, and why"
        )

    class AnnotatorParam(BaseModel):
        name: str
        type: str
        default: bool | int | float
        minimum: int | float
        maximum: int | float
        step: int | float
        label: str

    class AnnotatorItem(BaseModel):
        name: str
        output: str = Field(..., description="edge, rgb or tokens (style)")
        params: list[AnnotatorParam]
        threshold_a: str | None = Field(None, description="parameter that a unit's threshold_a sets")
        threshold_b: str | None = Field(None, description="parameter that a unit's threshold_b sets")
        suits: list[str]
        description: str

    class AnnotatorsResponse(BaseModel):
        annotators: list[AnnotatorItem]

    class DetectRequest(Strict):
        module: str = Field(..., description="annotator name (GET /t2i-adapter/annotators)")
        images: list[str] = Field(..., description="base64 images, with or without a data: prefix")
        # a number, not int: pydantic 1 would truncate 1.5 to 1 silently; UnitArgs refuses non-integers by name
        processor_res: float = Field(-1, description="annotator resolution (a whole number); -1 = its default")
        threshold_a: float = Field(-1, description="first numeric parameter; -1 = default")
        threshold_b: float = Field(-1, description="second numeric parameter; -1 = default")
        annotator_params: dict = Field(default_factory=dict, description="any parameter by name")

        # JSON integers are unbounded: pydantic's float() of one with 400 digits raises OverflowError (a 500 on
        # pydantic 1); the unit fields' own number check runs first and answers 422 naming the field
        _finite = _before("processor_res", "threshold_a", "threshold_b")(lambda cls, v: _finite_or_raw(v))

    class DetectResponse(BaseModel):
        images: list[str] = Field(..., description="base64 PNG condition maps, one per input image")

    class ControlTypeItem(BaseModel):
        class Config:  # sd-webui-controlnet's field names; pydantic 2 would warn that "model_" is its own prefix
            protected_namespaces = ()

        module_list: list[str] = Field(..., description='"none" and the annotators of the type')
        model_list: list[str] = Field(..., description='"None" and the adapters of the type, of every family')
        default_option: str = Field(..., description="the annotator choosing the type sets")
        default_model: str = Field(..., description="the model choosing the type sets")

    class ControlTypesResponse(BaseModel):
        control_types: dict[str, ControlTypeItem]

    def control_type_list() -> ControlTypesResponse:
        return ControlTypesResponse(**services.control_types())

    def version() -> VersionResponse:
        return VersionResponse(version=__version__)

    def models(refresh: bool = False) -> ModelsResponse:
        listed = [ModelItem(**m) for m in services.models(refresh)]
        return ModelsResponse(models=listed, unusable=[UnusableItem(**u) for u in services.unusable()])

    def annotator_list() -> AnnotatorsResponse:
        items = []
        for a in services.annotators():
            params = [(p.name, p.type) for p in a.params]
            ta, tb = threshold_names(params)
            items.append(
                AnnotatorItem(
                    name=a.name,
                    output=a.output,
                    suits=list(a.suits),
                    description=a.description,
                    threshold_a=ta,
                    threshold_b=tb,
                    params=[
                        AnnotatorParam(
                            name=p.name,
                            type=p.type.__name__,
                            default=p.default,
                            minimum=p.minimum,
                            maximum=p.maximum,
                            step=p.step,
                            label=p.label,
                        )
                        for p in a.params
                    ],
                )
            )
        return AnnotatorsResponse(annotators=items)

    # one detection at a time: each holds its decoded images and an annotator's activations (hundreds of MB for a
    # large image or a depth network); concurrent requests wait instead of multiplying that
    detecting = threading.Lock()

    def detect(request: DetectRequest) -> Any:
        try:
            with detecting:
                return DetectResponse(images=[encode_png(m) for m in detect_maps(request)])
        except UnitArgsError as e:  # the guard's error shape: the message and the offending field
            return JSONResponse(status_code=422, content=error_body(str(e), e.field))

    def detect_maps(request: DetectRequest) -> list[np.ndarray]:
        known = {a.name: a for a in services.annotators()}
        args = UnitArgs.parse(
            {
                "module": request.module,
                "processor_res": request.processor_res,
                "threshold_a": request.threshold_a,
                "threshold_b": request.threshold_b,
                "annotator_params": request.annotator_params,
            },
            None,
            set(known),
        )
        if args.module == "none":
            raise UnitArgsError("choose an annotator (GET /t2i-adapter/annotators)", "module")
        annotator = known[args.module]
        if annotator.output == "tokens":
            raise UnitArgsError(
                f"'{args.module}' produces CLIP tokens for the style adapter, not an image map", "module"
            )
        if not request.images:
            raise UnitArgsError("send at least one base64 image", "images")
        kwargs = annotator_values(args, [(p.name, p.type) for p in annotator.params])
        out = []
        for i, text in enumerate(request.images):
            try:
                image = decode_image(text)
            except ValueError as e:
                raise UnitArgsError(str(e), f"images[{i}]") from None
            if image is None:
                raise UnitArgsError("empty image", f"images[{i}]")
            out.append(run_annotator(services.annotate, args.module, image, kwargs, None))
        return out

    app.add_api_route(f"{prefix}/version", version, methods=["GET"], response_model=VersionResponse)
    app.add_api_route(f"{prefix}/models", models, methods=["GET"], response_model=ModelsResponse)
    app.add_api_route(f"{prefix}/annotators", annotator_list, methods=["GET"], response_model=AnnotatorsResponse)
    app.add_api_route(f"{prefix}/detect", detect, methods=["POST"], response_model=DetectResponse)
    if services.control_types is not None:
        app.add_api_route(
            f"{prefix}/control_types", control_type_list, methods=["GET"], response_model=ControlTypesResponse
        )


def install_guard(
    app: Any,
    validate: Callable[[list, dict], None] | None,
    title: str = "t2i-adapter",
    complete: Callable[[dict], dict | None] | None = None,
) -> bool:
    """Put :class:`~t2i_host.api_guard.AlwaysonArgsGuard` in front of ``app`` (once). Returns True when added."""
    from .api_guard import AlwaysonArgsGuard

    if any(getattr(m, "cls", None) is AlwaysonArgsGuard for m in getattr(app, "user_middleware", [])):
        return False
    # Starlette refuses new middleware once its stack is built; the WebUI resets it the same way in
    # webui.py setup_middleware. The stack is rebuilt on the next request, with the guard outermost.
    app.middleware_stack = None
    app.add_middleware(AlwaysonArgsGuard, title=title, validate=validate, complete=complete)
    return True

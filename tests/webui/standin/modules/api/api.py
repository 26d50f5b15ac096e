"""Mirrors modules/api/api.py@v1.10.1 where it touches an extension:

- ``api_middleware``: any exception escaping a route becomes a JSON answer
  ``{"error", "detail", "body", "errors"}`` with status ``vars(e).get('status_code', 500)`` - so an exception raised
  during generation answers 500 unless the exception *instance* carries a ``status_code`` attribute;
- ``init_default_script_args``: a list of ``None`` up to the largest ``args_to``, ``[0] = 0``, and every script's
  slice filled with the ``.value`` of the components its ``ui()`` returns, calling ``ui()`` again inside a
  throw-away ``gr.Blocks()``;
- ``init_script_args``: for each ``alwayson_scripts[title]`` (title matched case-insensitively: 422 when unknown,
  422 for a selectable script) copy ``args[i]`` into ``script_args[args_from + i]`` for
  ``i < min(len(args), args_to - args_from)`` - longer lists are clipped, shorter ones keep the defaults;
- ``text2imgapi``/``img2imgapi``: build the processing object, ``p.is_api = True``, ``p.scripts = runner``,
  ``p.script_args = tuple(script_args)`` (triggers ``setup``), ``process_images`` under ``state.begin``/``end`` and
  ``closing(p)``; images answered as base64 PNG;
- ``decode_base64_to_image``: strips a ``data:image/...;base64,`` prefix; undecodable data -> HTTP 500
  "Invalid encoded image";
- ``/sdapi/v1/interrupt``, ``/sdapi/v1/scripts``, ``/sdapi/v1/script-info``.
"""

from __future__ import annotations

import base64
import io
from contextlib import closing
from threading import Lock

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from modules import errors, images, scripts, shared
from modules.api import models
from modules.processing import StableDiffusionProcessingImg2Img, StableDiffusionProcessingTxt2Img, process_images


def script_name_to_index(name, scripts_list):
    try:
        return [script.title().lower() for script in scripts_list].index(name.lower())
    except Exception as e:
        raise HTTPException(status_code=422, detail=f"Script '{name}' not found") from e


def validate_sampler_name(name):
    if name not in ("Euler", None):
        raise HTTPException(status_code=404, detail="Sampler not found")
    return name


def decode_base64_to_image(encoding):
    if encoding.startswith("data:image/"):
        encoding = encoding.split(";")[1].split(",")[1]
    try:
        return images.read(io.BytesIO(base64.b64decode(encoding)))
    except Exception as e:
        raise HTTPException(status_code=500, detail="Invalid encoded image") from e


def encode_pil_to_base64(image):
    with io.BytesIO() as output_bytes:
        image.save(output_bytes, format="PNG")
        return base64.b64encode(output_bytes.getvalue()).decode()


def api_middleware(app: FastAPI):
    def handle_exception(request: Request, e: Exception):
        err = {
            "error": type(e).__name__,
            "detail": vars(e).get("detail", ""),
            "body": vars(e).get("body", ""),
            "errors": str(e),
        }
        if not isinstance(e, HTTPException):
            errors.report(f"API error: {request.method}: {request.url} {err}", exc_info=True)
        return JSONResponse(status_code=vars(e).get("status_code", 500), content=jsonable_encoder(err))

    @app.middleware("http")
    async def exception_handling(request: Request, call_next):
        try:
            return await call_next(request)
        except Exception as e:
            return handle_exception(request, e)

    @app.exception_handler(Exception)
    async def fastapi_exception_handler(request: Request, e: Exception):
        return handle_exception(request, e)

    @app.exception_handler(HTTPException)
    async def http_exception_handler(request: Request, e: HTTPException):
        return handle_exception(request, e)


class Api:
    def __init__(self, app: FastAPI, queue_lock: Lock):
        self.router = APIRouter()
        self.app = app
        self.queue_lock = queue_lock
        api_middleware(self.app)
        self.add_api_route(
            "/sdapi/v1/txt2img", self.text2imgapi, methods=["POST"], response_model=models.TextToImageResponse
        )
        self.add_api_route(
            "/sdapi/v1/img2img", self.img2imgapi, methods=["POST"], response_model=models.ImageToImageResponse
        )
        self.add_api_route("/sdapi/v1/interrupt", self.interruptapi, methods=["POST"])
        self.add_api_route("/sdapi/v1/scripts", self.get_scripts_list, methods=["GET"])
        self.add_api_route(
            "/sdapi/v1/script-info", self.get_script_info, methods=["GET"], response_model=list[models.ScriptInfo]
        )
        self.default_script_arg_txt2img = []
        self.default_script_arg_img2img = []

    def add_api_route(self, path: str, endpoint, **kwargs):
        return self.app.add_api_route(path, endpoint, **kwargs)

    def get_selectable_script(self, script_name, script_runner):
        if script_name is None or script_name == "":
            return None, None
        script_idx = script_name_to_index(script_name, script_runner.selectable_scripts)
        return script_runner.selectable_scripts[script_idx], script_idx

    def get_scripts_list(self):
        t2ilist = [script.name for script in scripts.scripts_txt2img.scripts if script.name is not None]
        i2ilist = [script.name for script in scripts.scripts_img2img.scripts if script.name is not None]
        return {"txt2img": t2ilist, "img2img": i2ilist}

    def get_script_info(self):
        res = []
        for script_list in [scripts.scripts_txt2img.scripts, scripts.scripts_img2img.scripts]:
            res += [script.api_info for script in script_list if script.api_info is not None]
        return res

    def get_script(self, script_name, script_runner):
        if script_name is None or script_name == "":
            return None, None
        script_idx = script_name_to_index(script_name, script_runner.scripts)
        return script_runner.scripts[script_idx]

    def init_default_script_args(self, script_runner):
        import gradio as gr

        last_arg_index = 1
        for script in script_runner.scripts:
            if last_arg_index < script.args_to:
                last_arg_index = script.args_to
        script_args = [None] * last_arg_index
        script_args[0] = 0
        with gr.Blocks():
            for script in script_runner.scripts:
                if script.ui(script.is_img2img):
                    ui_default_values = [elem.value for elem in script.ui(script.is_img2img)]
                    script_args[script.args_from : script.args_to] = ui_default_values
        return script_args

    def init_script_args(
        self, request, default_script_args, selectable_scripts, selectable_idx, script_runner, *, input_script_args=None
    ):
        script_args = default_script_args.copy()
        if input_script_args is not None:
            for index, value in input_script_args.items():
                script_args[index] = value
        if selectable_scripts:
            script_args[selectable_scripts.args_from : selectable_scripts.args_to] = request.script_args
            script_args[0] = selectable_idx + 1
        if request.alwayson_scripts:
            for alwayson_script_name in request.alwayson_scripts.keys():
                alwayson_script = self.get_script(alwayson_script_name, script_runner)
                if alwayson_script is None:
                    raise HTTPException(status_code=422, detail=f"always on script {alwayson_script_name} not found")
                if alwayson_script.alwayson is False:
                    raise HTTPException(
                        status_code=422, detail="Cannot have a selectable script in the always on scripts params"
                    )
                if "args" in request.alwayson_scripts[alwayson_script_name]:
                    given = request.alwayson_scripts[alwayson_script_name]["args"]
                    for idx in range(0, min((alwayson_script.args_to - alwayson_script.args_from), len(given))):
                        script_args[alwayson_script.args_from + idx] = given[idx]
        return script_args

    def _run(self, p, runner, selectable_scripts, script_args):
        p.is_api = True
        p.scripts = runner
        try:
            shared.state.begin(job="scripts_api")
            if selectable_scripts is not None:
                p.script_args = script_args
                processed = runner.run(p, *p.script_args)
            else:
                p.script_args = tuple(script_args)
                processed = process_images(p)
        finally:
            shared.state.end()
            shared.total_tqdm.clear()
        return processed

    def text2imgapi(self, txt2imgreq: models.StableDiffusionTxt2ImgProcessingAPI):
        script_runner = scripts.scripts_txt2img
        if not self.default_script_arg_txt2img:
            self.default_script_arg_txt2img = self.init_default_script_args(script_runner)
        selectable_scripts, selectable_script_idx = self.get_selectable_script(txt2imgreq.script_name, script_runner)
        populate = txt2imgreq.copy(
            update={
                "sampler_name": validate_sampler_name(txt2imgreq.sampler_name or txt2imgreq.sampler_index),
                "do_not_save_samples": not txt2imgreq.save_images,
                "do_not_save_grid": not txt2imgreq.save_images,
            }
        )
        args = vars(populate)
        for key in ("script_name", "script_args", "alwayson_scripts", "infotext", "sampler_index"):
            args.pop(key, None)
        script_args = self.init_script_args(
            txt2imgreq, self.default_script_arg_txt2img, selectable_scripts, selectable_script_idx, script_runner
        )
        send_images = args.pop("send_images", True)
        args.pop("save_images", None)
        with self.queue_lock:
            with closing(StableDiffusionProcessingTxt2Img(sd_model=shared.sd_model, **args)) as p:
                processed = self._run(p, script_runner, selectable_scripts, script_args)
        b64images = list(map(encode_pil_to_base64, processed.images)) if send_images else []
        return models.TextToImageResponse(images=b64images, parameters=vars(txt2imgreq), info=processed.js())

    def img2imgapi(self, img2imgreq: models.StableDiffusionImg2ImgProcessingAPI):
        init_images = img2imgreq.init_images
        if init_images is None:
            raise HTTPException(status_code=404, detail="Init image not found")
        mask = img2imgreq.mask
        if mask:
            mask = decode_base64_to_image(mask)
        script_runner = scripts.scripts_img2img
        if not self.default_script_arg_img2img:
            self.default_script_arg_img2img = self.init_default_script_args(script_runner)
        selectable_scripts, selectable_script_idx = self.get_selectable_script(img2imgreq.script_name, script_runner)
        populate = img2imgreq.copy(
            update={
                "sampler_name": validate_sampler_name(img2imgreq.sampler_name or img2imgreq.sampler_index),
                "do_not_save_samples": not img2imgreq.save_images,
                "do_not_save_grid": not img2imgreq.save_images,
                "mask": mask,
            }
        )
        args = vars(populate)
        for key in (
            "include_init_images",
            "script_name",
            "script_args",
            "alwayson_scripts",
            "infotext",
            "sampler_index",
        ):
            args.pop(key, None)
        script_args = self.init_script_args(
            img2imgreq, self.default_script_arg_img2img, selectable_scripts, selectable_script_idx, script_runner
        )
        send_images = args.pop("send_images", True)
        args.pop("save_images", None)
        with self.queue_lock:
            with closing(StableDiffusionProcessingImg2Img(sd_model=shared.sd_model, **args)) as p:
                p.init_images = [decode_base64_to_image(x) for x in init_images]
                processed = self._run(p, script_runner, selectable_scripts, script_args)
        b64images = list(map(encode_pil_to_base64, processed.images)) if send_images else []
        img2imgreq.init_images = None
        img2imgreq.mask = None
        return models.ImageToImageResponse(images=b64images, parameters=vars(img2imgreq), info=processed.js())

    def interruptapi(self):
        shared.state.interrupt()
        return {}

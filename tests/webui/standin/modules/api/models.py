"""Mirrors modules/api/models.py@v1.10.1: ``ScriptArg``/``ScriptInfo`` and the txt2img/img2img request and
response bodies (the WebUI generates the request models from the processing classes' fields plus
``sampler_index, script_name, script_args, send_images, save_images, alwayson_scripts, infotext, force_task_id``;
here they are written out with the fields the stand-in's processing classes accept)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ScriptArg(BaseModel):
    label: str = Field(default=None, title="Label")
    value: Any | None = Field(default=None, title="Value")
    minimum: Any | None = Field(default=None, title="Minimum")
    maximum: Any | None = Field(default=None, title="Maximum")
    step: Any | None = Field(default=None, title="Step")
    choices: list[str] | None = Field(default=None, title="Choices")


class ScriptInfo(BaseModel):
    name: str = Field(default=None, title="Name")
    is_alwayson: bool = Field(default=None, title="IsAlwayson")
    is_img2img: bool = Field(default=None, title="IsImg2img")
    args: list[ScriptArg] = Field(title="Arguments")


class _Common(BaseModel):
    prompt: str = ""
    negative_prompt: str = ""
    styles: list[str] | None = None
    seed: int = -1
    subseed: int = -1
    subseed_strength: float = 0
    sampler_name: str | None = None
    scheduler: str | None = None
    batch_size: int = 1
    n_iter: int = 1
    steps: int = 50
    cfg_scale: float = 7.0
    width: int = 512
    height: int = 512
    denoising_strength: float | None = None
    s_min_uncond: float | None = None
    override_settings: dict[str, Any] | None = None
    override_settings_restore_afterwards: bool = True
    do_not_save_samples: bool = False
    do_not_save_grid: bool = False
    sampler_index: str = "Euler"
    script_name: str | None = None
    script_args: list = Field(default=[], title="Script Args")
    send_images: bool = True
    save_images: bool = False
    alwayson_scripts: dict = Field(default={}, title="Alwayson Scripts")
    infotext: str | None = None
    force_task_id: str | None = None

    class Config:
        allow_population_by_field_name = True
        allow_mutation = True


class StableDiffusionTxt2ImgProcessingAPI(_Common):
    enable_hr: bool = False
    hr_scale: float = 2.0
    hr_upscaler: str | None = None
    hr_second_pass_steps: int = 0
    hr_resize_x: int = 0
    hr_resize_y: int = 0


class StableDiffusionImg2ImgProcessingAPI(_Common):
    init_images: list | None = Field(default=None, title="Init images")
    resize_mode: int = 0
    image_cfg_scale: float | None = None
    mask: str | None = None
    mask_blur_x: int = 4
    mask_blur_y: int = 4
    mask_blur: int | None = None
    inpainting_fill: int = 0
    inpaint_full_res: bool = True
    inpaint_full_res_padding: int = 0
    inpainting_mask_invert: int = 0
    include_init_images: bool = Field(default=False, title="Include init images", exclude=True)


class TextToImageResponse(BaseModel):
    images: list[str] | None = Field(default=None, title="Image")
    parameters: dict
    info: str


class ImageToImageResponse(BaseModel):
    images: list[str] | None = Field(default=None, title="Image")
    parameters: dict
    info: str

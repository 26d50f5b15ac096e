"""Mirrors modules/shared.py@v1.10.1 (+ shared_options.py defaults the sampling path reads, shared_cmd_options.py).

``sd_model`` is set by the stand-in's harness (in the WebUI it is a property backed by ``sd_models.model_data``)."""

import argparse

from modules import devices, options
from modules.options import OptionInfo, options_section  # noqa: F401  (shared.OptionInfo is public API)
from modules.shared_state import State

# shared_cmd_options.py: the flags this stand-in runs with (as `launch.py --use-cpu all --no-half --api`)
cmd_opts = argparse.Namespace(
    use_cpu=["all"],
    no_half=True,
    no_half_vae=True,
    api=True,
    lowvram=False,
    medvram=False,
    medvram_sdxl=False,
    listen=False,
    api_auth=None,
    api_log=False,
    nowebui=False,
    skip_install=True,
    always_batch_cond_uncond=False,
    embeddings_dir="",
    data_dir=None,
    models_dir=None,
    ckpt_dir=None,
    disable_extension_access=False,
    gradio_auth=None,
    precision="full",
    upcast_sampling=False,
    disable_safe_unpickle=False,
)

# shared_options.py@v1.10.1: defaults of the options the generation path reads
options_templates = options_section(
    ("sampler-params", "Sampler parameters"),
    {
        "batch_cond_uncond": OptionInfo(True, "Batch cond/uncond"),
        "pad_cond_uncond": OptionInfo(False, "Pad prompt/negative prompt"),
        "pad_cond_uncond_v0": OptionInfo(False, "Pad prompt/negative prompt (v0)"),
        "s_min_uncond": OptionInfo(0.0, "Negative Guidance minimum sigma"),
        "s_min_uncond_all": OptionInfo(False, "Negative Guidance minimum sigma all steps"),
        "skip_early_cond": OptionInfo(0.0, "Ignore negative prompt during early sampling"),
        "s_churn": OptionInfo(0.0, "sigma churn"),
        "s_tmin": OptionInfo(0.0, "sigma tmin"),
        "s_tmax": OptionInfo(0.0, "sigma tmax"),
        "s_noise": OptionInfo(1.0, "sigma noise"),
        "eta_noise_seed_delta": OptionInfo(0, "Eta noise seed delta"),
        "randn_source": OptionInfo("GPU", "Random number generator source."),
        "img2img_fix_steps": OptionInfo(False, "With img2img, do exactly the amount of steps the slider specifies."),
        "initial_noise_multiplier": OptionInfo(1.0, "Noise multiplier for img2img"),
        "img2img_extra_noise": OptionInfo(0.0, "Extra noise multiplier for img2img and hires fix"),
        "img2img_color_correction": OptionInfo(False, "Apply color correction to img2img results"),
        "img2img_background_color": OptionInfo("#ffffff", "With img2img, fill transparent parts with this color."),
        "inpainting_mask_weight": OptionInfo(1.0, "Inpainting conditioning mask strength"),
        "live_preview_content": OptionInfo("Prompt", "Live preview subject"),
        "live_previews_enable": OptionInfo(False, "Show live previews of the created image"),
        "show_progress_type": OptionInfo("Approx NN", "Live preview display mode"),
        "enable_pnginfo": OptionInfo(True, "Write infotext to metadata of the generated image"),
        "return_grid": OptionInfo(True, "Show grid in gallery"),
        "grid_only_if_multiple": OptionInfo(True, "Do not save grids consisting of one picture"),
        "grid_save": OptionInfo(False, "Always save all generated image grids"),
        "samples_save": OptionInfo(False, "Always save all generated images"),
        "use_old_hires_fix_width_height": OptionInfo(False, "old hires fix width/height behaviour"),
        "hires_fix_use_firstpass_conds": OptionInfo(False, "Hires fix: second pass conds from first pass"),
        "persistent_cond_cache": OptionInfo(True, "Persistent cond cache"),
        "CLIP_stop_at_last_layers": OptionInfo(1, "Clip skip"),
        "add_model_hash_to_info": OptionInfo(True, "Add model hash to infotext"),
        "add_model_name_to_info": OptionInfo(True, "Add model name to infotext"),
        "add_version_to_infotext": OptionInfo(True, "Add program version to infotext"),
        "add_user_name_to_info": OptionInfo(False, "Add user name to infotext"),
        "face_restoration": OptionInfo(False, "Restore faces"),
        "tiling": OptionInfo(False, "Tiling"),
        "sd_vae_decode_method": OptionInfo("Full", "VAE type for decode"),
        "sd_vae_encode_method": OptionInfo("Full", "VAE type for encode"),
        "sd_model_checkpoint": OptionInfo(None, "Stable Diffusion checkpoint"),
        "mask_apply_overlay": OptionInfo(True, "Apply the mask overlay"),
        "return_mask": OptionInfo(False, "For inpainting, include the greyscale mask in results"),
        "return_mask_composite": OptionInfo(False, "For inpainting, include masked composite in results"),
        "save_mask": OptionInfo(False, "save mask"),
        "save_mask_composite": OptionInfo(False, "save mask composite"),
        "save_images_before_highres_fix": OptionInfo(False, "Save before hires fix"),
        "samples_format": OptionInfo("png", "File format for images"),
        "outdir_txt2img_samples": OptionInfo("outputs/txt2img-images", "Output directory for txt2img images"),
        "outdir_img2img_samples": OptionInfo("outputs/img2img-images", "Output directory for img2img images"),
        "outdir_txt2img_grids": OptionInfo("outputs/txt2img-grids", "Output directory for txt2img grids"),
        "outdir_img2img_grids": OptionInfo("outputs/img2img-grids", "Output directory for img2img grids"),
        "disable_all_extensions": OptionInfo("none", "Disable all extensions"),
        "token_merging_ratio": OptionInfo(0.0, "Token merging ratio"),
        "token_merging_ratio_hr": OptionInfo(0.0, "Token merging ratio for high-res pass"),
        "infotext_skip_pasting": OptionInfo([], "Disregard fields from pasted infotext"),
        "sd_checkpoint_hash": OptionInfo("", "SHA256 hash of the current checkpoint"),
    },
)

opts = options.Options(options_templates)
state = State()
sd_model = None  # set by tests/webui/harness.py (modules/shared.py: property over sd_models.model_data)
device = devices.device
demo = None
hypernetworks: dict = {}
loaded_hypernetworks: list = []
prompt_styles = None
sd_upscalers: list = []
# shared_items / shared.py: latent upscale modes offered for hires fix (name -> interpolate() args)
latent_upscale_default_mode = "Latent"
latent_upscale_modes = {
    "Latent": {"mode": "bilinear", "antialias": False},
    "Latent (antialiased)": {"mode": "bilinear", "antialias": True},
    "Latent (bicubic)": {"mode": "bicubic", "antialias": False},
    "Latent (nearest)": {"mode": "nearest", "antialias": False},
}


class _TotalTqdm:
    def update(self):
        pass

    def updateTotal(self, new_total):
        pass

    def clear(self):
        pass


total_tqdm = _TotalTqdm()


def reload_gradio_theme():
    pass

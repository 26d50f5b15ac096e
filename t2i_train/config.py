"""``TrainConfig``: every option of a training run, validated before any work (the CLI and a WebUI tab fill it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import ConfigError

ARCHITECTURES = ("full", "light")


@dataclass
class TrainConfig:
    """Options of one training run. Paths may be ``str`` or ``Path``.

    ``base_model``: an A1111 single file or a diffusers folder. ``data``: the training folder (see
    :mod:`t2i_train.data`). ``output``: where the adapter, checkpoints, samples and the loss curve go.
    """

    base_model: str = ""
    data: str = ""
    output: str = "t2i_train_output"
    architecture: str = "full"  # full (SD1/SDXL) or light (SD1)
    in_channels: int = 3  # 1 (sketch, canny) or 3 (depth, pose, seg, colour)
    init_adapter: str | None = None  # fine-tune from an existing adapter file
    annotator: str | None = None  # make condition maps from the images with this registry annotator
    annotator_params: dict = field(default_factory=dict)
    resolution: int = 512
    buckets: bool = False  # aspect buckets instead of a centre crop
    min_size: int | None = None  # smallest accepted short side (default: resolution for crops, resolution/2 buckets)
    prediction_type: str = "auto"  # auto, epsilon or v (SD2 single files must say)
    tokenizer: str | None = None  # folder with vocab.json/merges.txt (else found or built offline)
    steps: int = 1000  # optimizer steps
    batch_size: int = 1  # per process and micro-step
    grad_accumulation: int = 1
    learning_rate: float = 1e-5
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_weight_decay: float = 1e-2
    adam_epsilon: float = 1e-8
    max_grad_norm: float | None = 1.0
    mixed_precision: str = "no"  # no, fp16 (GPU), bf16
    gradient_checkpointing: bool = False
    sdpa_attention: bool = True  # ldm attention through torch's scaled_dot_product_attention (same maths)
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    resume: str | None = None  # a checkpoint folder, or "latest" (in output/checkpoints)
    sample_every: int = 0  # 0: no sample grids
    sample_count: int = 2
    sample_steps: int = 20
    sample_guidance: float = 5.0
    save_diffusers: bool = False
    half: bool = False  # export fp16 weights
    cache: str | None = None  # latent/text cache (default: output/cache)
    cpu: bool = False  # force the CPU even with a GPU

    def validate(self, multiple: int | None = None) -> None:
        """Raise :class:`ConfigError` for the first invalid option; ``multiple``: the base model's size multiple."""
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture must be one of {ARCHITECTURES}, not {self.architecture!r}.")
        if self.in_channels not in (1, 3):
            raise ConfigError(f"in_channels must be 1 or 3, not {self.in_channels}.")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ConfigError(f"mixed_precision must be no, fp16 or bf16, not {self.mixed_precision!r}.")
        if self.prediction_type not in ("auto", "epsilon", "v"):
            raise ConfigError(f"prediction_type must be auto, epsilon or v, not {self.prediction_type!r}.")
        for name in ("steps", "batch_size", "grad_accumulation", "resolution"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1.")
        if not self.learning_rate > 0:
            raise ConfigError("learning_rate must be positive.")
        if multiple and self.resolution % multiple:
            raise ConfigError(
                f"resolution {self.resolution} is not a multiple of {multiple} (the base model's family needs it)."
            )

    @property
    def output_dir(self) -> Path:
        return Path(self.output)

    @property
    def cache_dir(self) -> Path:
        return Path(self.cache) if self.cache else self.output_dir / "cache"

    @property
    def accepted_min_size(self) -> int:
        if self.min_size is not None:
            return self.min_size
        return self.resolution // 2 if self.buckets else self.resolution

    def to_dict(self) -> dict:
        d = asdict(self)
        d["adam_betas"] = list(self.adam_betas)
        return d

"""``TrainConfig``: every option of a training run, validated before any work (the CLI and a WebUI tab fill it)."""

from __future__ import annotations

import difflib
import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import ConfigError

ARCHITECTURES = ("full", "light")
#: the largest training side: SDXL trains at 1024, 4096 is 16× its pixels (a larger one exhausts memory in the
#: first resize, long before a step)
MAX_RESOLUTION = 4096
#: (option, smallest, largest) of every whole-number option; seeds are what numpy's and torch's generators take
INT_RANGES = (
    ("resolution", 8, MAX_RESOLUTION),
    ("steps", 1, 10_000_000),
    ("batch_size", 1, 1024),
    ("grad_accumulation", 1, 1024),
    ("seed", 0, 2**32 - 1),
    ("checkpoint_every", 0, 10_000_000),
    ("keep_checkpoints", 1, 1000),
    ("sample_every", 0, 10_000_000),
    ("sample_count", 1, 64),
    ("sample_steps", 1, 1000),
)
#: (option, exclusive lower bound, inclusive upper bound) of every real-number option: finite, in range
FLOAT_RANGES = (
    ("learning_rate", 0.0, 1.0),
    ("adam_weight_decay", -1e-12, 10.0),
    ("adam_epsilon", 0.0, 1.0),
    ("sample_guidance", -1e-12, 100.0),
)


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {value!r}.")


def _check_float(name: str, value: object, above: float, high: float) -> None:
    if not _finite(value) or not above < value <= high:
        low = "0" if above < 0 else f"above {above:g}"
        raise ConfigError(f"{name} must be a finite number, {low} and at most {high:g}, not {value!r}.")


def writable_folder(folder: Path, what: str) -> None:
    """Raise :class:`ConfigError` unless ``folder`` is, or can be made as, a writable folder. Nothing is left
    behind: the probe is a temporary file (a name no other process uses) in the nearest existing folder."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"the {what} folder {folder} is a file: give a folder (it is created if missing).")
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"the {what} folder {folder} cannot be made: {probe} is a file.")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise ConfigError(
            f"the {what} folder {folder} is not writable ({probe}: {e.strerror or e}): choose another folder."
        ) from None


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
        """Raise :class:`ConfigError` for the first invalid option; ``multiple``: the base model's size multiple.

        Without ``multiple`` (before the base model is loaded) the files are checked too: the annotator, its
        parameters and weights, the output and cache folders, the adapter to fine-tune. What passes here (and so
        ``--dry-run``) is what the real run accepts."""
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture must be one of {ARCHITECTURES}, not {self.architecture!r}.")
        if self.in_channels not in (1, 3):
            raise ConfigError(f"in_channels must be 1 or 3, not {self.in_channels}.")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ConfigError(f"mixed_precision must be no, fp16 or bf16, not {self.mixed_precision!r}.")
        if self.prediction_type not in ("auto", "epsilon", "v"):
            raise ConfigError(f"prediction_type must be auto, epsilon or v, not {self.prediction_type!r}.")
        for name, low, high in INT_RANGES:
            _check_int(name, getattr(self, name), low, high)
        if self.min_size is not None:
            _check_int("min_size", self.min_size, 1, MAX_RESOLUTION)
        for name, low, high in FLOAT_RANGES:
            _check_float(name, getattr(self, name), low, high)
        if self.max_grad_norm is not None:
            _check_float("max_grad_norm", self.max_grad_norm, 0.0, 1e6)
        if len(self.adam_betas) != 2 or not all(_finite(b) and 0 <= b < 1 for b in self.adam_betas):
            raise ConfigError(f"adam_betas must be two numbers in [0, 1), not {self.adam_betas!r}.")
        if multiple and self.resolution % multiple:
            raise ConfigError(
                f"resolution {self.resolution} is not a multiple of {multiple} (the base model's family needs it)."
            )
        if multiple is None:
            self._check_annotator()
            self._check_files()

    def _check_annotator(self) -> None:
        if not isinstance(self.annotator_params, dict):
            raise ConfigError(
                f"annotator_params must be a JSON object such as {{\"low_threshold\": 100}}, not "
                f"{self.annotator_params!r}."
            )
        if not self.annotator:
            if self.annotator_params:
                raise ConfigError("annotator_params were given without an annotator: pass --annotator NAME too.")
            return
        import annotators
        from annotators.weights import check_weights

        try:
            spec = annotators.get(self.annotator)
        except annotators.UnknownAnnotatorError:
            close = difflib.get_close_matches(self.annotator, annotators.names(), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"unknown annotator {self.annotator!r}; {hint}the annotators are: {', '.join(annotators.names())}."
            ) from None
        if spec.output == "tokens":
            raise ConfigError(f"annotator {spec.name!r} makes tokens, not a condition map; choose an image annotator.")
        try:
            params = spec.validate(self.annotator_params)
            check_weights(spec, params)
        except (ValueError, OSError) as e:  # a parameter outside its schema; weights missing (where to put them)
            raise ConfigError(str(e)) from None

    def _check_files(self) -> None:
        writable_folder(self.output_dir, "output")
        if self.cache:
            writable_folder(self.cache_dir, "cache")
        if self.init_adapter is not None and not Path(self.init_adapter).is_file():
            raise ConfigError(f"init_adapter {self.init_adapter} is not a file: give the adapter file to fine-tune.")

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

"""Annotator weight files: where each one is published, how to find it locally, a verified download, safe loading.

Lookup order for a weight file (`ensure_weights`):

1. an explicit path given by the caller (it must exist);
2. the annotators' models folder: ``$T2I_ANNOTATOR_MODELS`` if set, else the folder given to `set_models_dir`
   (the WebUI glue points it at ``<webui>/models/annotators``), else ``<repo>/models/annotators``;
3. a download from the published URL (or from `set_mirror`'s base URL): streamed into a temporary file in the
   models folder with a tqdm progress bar, checked against the published SHA-256, then atomically renamed.
   A file without a published SHA-256 is never downloaded unverified: the error says where to put it.
   A hash mismatch, a short read or an interruption (any exception, KeyboardInterrupt included) deletes the
   temporary file, so a half-written file never sits where step 2 would trust it. Offline, the error names
   the file, the folder to put it in and the URL to fetch it from.

Loading (`load_state_dict`) never runs pickled code: ``.safetensors`` through safetensors, everything else
through ``torch.load(weights_only=True)``, which only rebuilds tensors and plain containers.

Where each SHA-256 comes from is noted beside it: the Git-LFS pointer (``oid sha256:...``) shown on the Hugging
Face commit pages of the publishing repository, or of byte-identical copies where the original page was not
available to us (noted per file).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOG = logging.getLogger("annotators")

ENV_MODELS_DIR = "T2I_ANNOTATOR_MODELS"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models" / "annotators"

_HF_ANNOTATORS = "https://huggingface.co/lllyasviel/Annotators/resolve/main/"
USER_AGENT = "t2i-adapter-annotators (urllib)"  # some CDNs refuse urllib's default agent


@dataclass(frozen=True)
class WeightFile:
    """One published weight file. `name` is the file name on disk; `size` in bytes; `sha256` lower-case hex
    (None = no published hash found: the file is then never downloaded automatically; the user puts it in place)."""

    name: str
    url: str
    size: int | None
    sha256: str | None
    license: str
    used_by: str


WEIGHTS: dict[str, WeightFile] = {
    w.name: w
    for w in (
        # sha256/size: LFS pointer in lllyasviel/Annotators commit 733558a ("Upload 7 files", mirrored page
        # Zedge/lllyasviel-Annotators/commit/733558a...); the same oid is in TencentARC/T2I-Adapter commit 7a2434a
        # (third-party-models/table5_pidinet.pth).
        WeightFile(
            "table5_pidinet.pth",
            _HF_ANNOTATORS + "table5_pidinet.pth",
            2_871_148,
            "80860ac267258b5f27486e0ef152a211d0b08120f62aeb185a050acc30da486c",
            "MIT (hellozhuo/pidinet)",
            "pidinet (T2I sketch adapters)",
        ),
        # sha256/size: lllyasviel/Annotators commit 733558a (LFS pointer); the hash prefix matches the file name,
        # as torch.hub names it (isl-org/DPT release 1_0).
        WeightFile(
            "dpt_hybrid-midas-501f0c75.pt",
            _HF_ANNOTATORS + "dpt_hybrid-midas-501f0c75.pt",
            492_757_791,
            "501f0c75b3bca7daec6b3682c5054c09b366765aef6fa3a09d03a5cb4b230853",
            "MIT (isl-org/MiDaS)",
            "depth_midas (T2I depth adapters)",
        ),
        # sha256/size: lllyasviel/Annotators commit 733558a (LFS pointer); also ckpt/ControlNet-v1-1 commit a9fd295.
        WeightFile(
            "body_pose_model.pth",
            _HF_ANNOTATORS + "body_pose_model.pth",
            209_267_595,
            "25a948c16078b0f08e236bda51a385d855ef4c153598947c28c0d47ed94bb746",
            "CMU OpenPose licence: non-commercial use only",
            "openpose (T2I openpose adapters)",
        ),
        # sha256/size: lllyasviel/Annotators commit ffc2f17 ("Upload 2 files"), LFS pointers.
        WeightFile(
            "sk_model.pth",
            _HF_ANNOTATORS + "sk_model.pth",
            17_173_511,
            "c686ced2a666b4850b4bb6ccf0748031c3eda9f822de73a34b8979970d90f0c6",
            "MIT (carolineec/informative-drawings)",
            "lineart_realistic",
        ),
        WeightFile(
            "sk_model2.pth",
            _HF_ANNOTATORS + "sk_model2.pth",
            17_173_511,
            "30a534781061f34e83bb9406b4335da4ff2616c95d22a585c1245aa8363e74e0",
            "MIT (carolineec/informative-drawings)",
            "lineart_coarse",
        ),
        # openai/clip-vit-large-patch14 model.safetensors (full CLIP; only vision_model.* is read).
        # sha256: LFS details of InvokeAI/clip-vit-large-patch14 model.safetensors ("Copy from
        # https://huggingface.co/openai/clip-vit-large-patch14"); size: LFS pointer of the same oid in
        # SG161222/Verus_Vision_1.0b commit ff4883b (clip-vit-large-patch14.safetensors).
        WeightFile(
            "clip-vit-large-patch14.safetensors",
            "https://huggingface.co/openai/clip-vit-large-patch14/resolve/main/model.safetensors",
            1_710_540_580,
            "a2bf730a0c7debf160f7a6b50b3aaf3703e7e88ac73de7a314903141db026dcb",
            "MIT (openai/CLIP)",
            "clip_vision (T2I style adapter)",
        ),
        # nvidia/segformer-b5-finetuned-ade-640-640 pytorch_model.bin ("First commit" c2cb72d; 339 MB, 84.7 M
        # float32 parameters). No page or manifest citing its SHA-256 or exact byte size was found, so it is not
        # downloaded automatically (see download_weights): users download it and put it in the models folder.
        # Fill both in once confirmed.
        WeightFile(
            "segformer-b5-finetuned-ade-640-640.bin",
            "https://huggingface.co/nvidia/segformer-b5-finetuned-ade-640-640/resolve/main/pytorch_model.bin",
            None,
            None,
            "NVIDIA Source Code License for SegFormer (research / non-commercial)",
            "segmentation_ade20k (seg adapters)",
        ),
    )
}

_models_dir: Path | None = None
_mirror: str | None = None


class WeightsError(OSError):
    """Base class: a weight file that cannot be found, fetched, verified or loaded — a file problem the user fixes
    (put the right file in place), hence an ``OSError``: hosts answer it as a bad request, not a server fault."""


class WeightsUnavailableError(WeightsError, FileNotFoundError):
    """The file is not on disk and could not be downloaded (offline, HTTP error, interrupted transfer)."""


class WeightsHashError(WeightsError):
    """A downloaded file whose SHA-256 differs from the published one (it was deleted)."""


class UnsafeWeightsError(WeightsError):
    """A .pth/.pt file that holds pickled objects other than tensors and plain containers (refused, not run)."""


def set_models_dir(path: os.PathLike | str | None) -> None:
    """Use `path` as the annotators' models folder (None restores the default). ``$T2I_ANNOTATOR_MODELS``
    still wins, so a user can always redirect it."""
    global _models_dir
    _models_dir = None if path is None else Path(path).expanduser()


def models_dir() -> Path:
    """The folder where weight files are looked up and downloaded to."""
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        return Path(env).expanduser()
    return _models_dir if _models_dir is not None else DEFAULT_MODELS_DIR


def set_mirror(base_url: str | None) -> None:
    """Download from ``<base_url>/<file name>`` instead of the published URLs (a local mirror, or a test
    server); None restores the published URLs."""
    global _mirror
    _mirror = None if base_url is None else base_url.rstrip("/")


def spec(name: str) -> WeightFile:
    """The table entry for `name`; a ValueError lists the known files."""
    try:
        return WEIGHTS[name]
    except KeyError:
        raise ValueError(f"unknown annotator weight file {name!r}; known files: {', '.join(sorted(WEIGHTS))}") from None


def url_for(weight: WeightFile) -> str:
    return f"{_mirror}/{weight.name}" if _mirror else weight.url


def ensure_weights(
    name: str,
    path: os.PathLike | str | None = None,
    *,
    download: bool = True,
    progress: bool = True,
) -> Path:
    """Return a local path for weight file `name`, following the lookup order in the module docstring."""
    weight = spec(name)
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.is_file():
            raise WeightsUnavailableError(
                f"weight file {str(explicit)!r} given for {name!r} does not exist; pass the path of a downloaded "
                f"{name} (published at {weight.url}) or leave the path out to use {models_dir() / name}"
            )
        return explicit
    local = models_dir() / weight.name
    if local.is_file():
        if weight.size is not None and local.stat().st_size != weight.size:
            LOG.warning(
                "%s is %d bytes but the published file is %d bytes; if loading fails, delete it to download it again",
                local,
                local.stat().st_size,
                weight.size,
            )
        return local
    if not download:
        raise WeightsUnavailableError(_missing_message(weight, models_dir(), "downloads are switched off"))
    return download_weights(weight, models_dir(), progress=progress)


def check_weights(annotator: Any, params: Mapping[str, Any] | None = None, *, progress: bool = True) -> list[Path]:
    """Make sure every weight file `annotator` (an ``Annotator``) needs with `params` is on disk, before any
    image is read: each is found or downloaded now, or one `WeightsUnavailableError` says where to put it."""
    return [ensure_weights(name, progress=progress) for name in annotator.needed_weights(dict(params or {}))]


def download_weights(
    weight: WeightFile,
    folder: os.PathLike | str,
    *,
    url: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    chunk_size: int = 1 << 20,
) -> Path:
    """Download `weight` into `folder` atomically and verified; return the final path. See module docstring."""
    folder = Path(folder)
    url = url or url_for(weight)
    if weight.sha256 is None:
        raise WeightsUnavailableError(
            _missing_message(
                weight, folder, "no published SHA-256 is known for it, so it is not downloaded unverified", url
            )
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WeightsUnavailableError(
            f"cannot create the models folder {folder} ({exc}); set ${ENV_MODELS_DIR} to a writable folder, or "
            f"download {weight.url} yourself and save it as {folder / weight.name}"
        ) from exc
    final = folder / weight.name
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{weight.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise WeightsUnavailableError(
            f"cannot write the download of {weight.name} into {folder} ({exc}); set ${ENV_MODELS_DIR} to a writable "
            f"folder, or download {weight.url} yourself and save it as {final}"
        ) from exc
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with os.fdopen(fd, "wb") as out:
            try:
                request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
                response = urllib.request.urlopen(request, timeout=timeout)
            except urllib.error.HTTPError as exc:
                raise WeightsUnavailableError(
                    _missing_message(weight, folder, f"HTTP {exc.code} {exc.reason}", url)
                ) from exc
            except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise WeightsUnavailableError(
                    _missing_message(weight, folder, f"no connection: {reason}", url)
                ) from exc
            with response:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else weight.size
                bar = _progress_bar(weight.name, expected, progress)
                try:
                    while True:
                        try:
                            chunk = response.read(chunk_size)
                        except (OSError, http.client.HTTPException) as exc:  # reset connection, IncompleteRead
                            raise WeightsUnavailableError(
                                _missing_message(
                                    weight, folder, f"transfer interrupted after {received} bytes: {exc}", url
                                )
                            ) from exc
                        if not chunk:
                            break
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                finally:
                    bar.close()
        if expected is not None and received != expected:
            raise WeightsUnavailableError(
                _missing_message(weight, folder, f"transfer interrupted: got {received} of {expected} bytes", url)
            )
        actual = digest.hexdigest()
        if actual != weight.sha256:
            raise WeightsHashError(
                f"downloaded {weight.name} from {url} has SHA-256 {actual}, but the published file has "
                f"{weight.sha256}; the download was deleted. The server sent a different or corrupted file: try "
                f"again, or download it yourself from {weight.url} and put it at {final}"
            )
        os.replace(tmp, final)
        return final
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise  # our own errors, disk errors, KeyboardInterrupt: the partial file is gone either way


def _missing_message(weight: WeightFile, folder: Path, why: str, url: str | None = None) -> str:
    url = url or url_for(weight)
    size = f" ({weight.size / 1e6:.1f} MB)" if weight.size else ""
    return (
        f"annotator weights {weight.name!r}{size} are not in {folder} and could not be downloaded from {url} "
        f"({why}). Download {weight.url} yourself and save it as {folder / weight.name} "
        f"(or set ${ENV_MODELS_DIR} to the folder that holds it)."
    )


def _progress_bar(name: str, total: int | None, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=f"Downloading {name}", disable=not enabled
    )


def sha256_of(path: os.PathLike | str, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file (to check a file a user placed by hand: compare with `spec(name).sha256`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_weights(name: str, path: os.PathLike | str | None = None) -> bool | None:
    """Hash the local copy of `name` (or the file at `path`) against the published SHA-256: True = matches,
    False = differs (a different or damaged file), None = no published hash to compare with. Hashing a large
    file takes seconds, which is why lookups do not do it on every load."""
    weight = spec(name)
    local = Path(path) if path is not None else models_dir() / weight.name
    if not local.is_file():
        raise WeightsUnavailableError(_missing_message(weight, local.parent, "not downloaded yet"))
    return None if weight.sha256 is None else sha256_of(local) == weight.sha256


def load_state_dict(
    path: os.PathLike | str,
    *,
    keep: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """Read a weight file into a flat ``{name: tensor}`` dict without running pickled code.

    Through the adapter core's bounded reader (:func:`t2i_ext.formats.read_file`): a zip bomb, a 1M-entry header,
    a FIFO swapped in or a pickle that runs code costs no more than its own bytes and is refused with the reason
    (`UnsafeWeightsError` for code). Pickles are interpreted before ``torch.load(weights_only=True)`` reads them;
    ``.safetensors``: the header is checked, then only the keys `keep` accepts are read (so the vision half of a
    full CLIP file costs only its own memory). Containers ``{"state_dict": ...}`` / ``{"model": ...}`` are
    unwrapped and DataParallel ``module.`` prefixes stripped (`canonical_state_dict`).
    """
    from t2i_ext.errors import AdapterLoadError, UnsafePickleError
    from t2i_ext.formats import read_file
    from t2i_ext.sniff import container, error_reason, open_regular

    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"weight file {str(path)!r} does not exist")
    safetensors = path.suffix == ".safetensors"
    try:
        with open_regular(path) as f:
            container(f, path.name)
    except AdapterLoadError as e:  # no weights file at all: the core says what it is (an image, a page) and what to do
        raise WeightsError(f"{path} is not a weight file: {error_reason(path, e)}") from None
    try:
        obj = read_file(path, load=not safetensors)[0]
    except UnsafePickleError as e:
        raise UnsafeWeightsError(
            f"refused to load {path}: its pickle tries to run code ({e.target}); nothing in it was run. Use the "
            "published file (see annotators.weights.WEIGHTS) or a .safetensors copy."
        ) from None
    except AdapterLoadError as e:
        reason = error_reason(path, e)
        raise WeightsError(f"{path} is not a readable weight file: {reason} Delete it and download it again.") from None
    if safetensors:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                return {k: f.get_tensor(k) for k in f.keys() if keep is None or keep(k)}
        except Exception as exc:  # safetensors raises its own error types for truncated/corrupt headers
            raise WeightsError(
                f"{path} is not a readable safetensors file ({exc}); delete it and download it again"
            ) from exc
    state = canonical_state_dict(obj, str(path))
    if keep is not None:
        state = {k: v for k, v in state.items() if keep(k)}
    return state


def canonical_state_dict(obj: Any, what: str = "weights") -> dict[str, Any]:
    """Unwrap ``{"state_dict": sd}`` / ``{"model": sd}`` containers and strip ``module.`` prefixes."""
    import torch

    for _ in range(2):  # e.g. {"state_dict": {...}} as saved by training scripts
        if isinstance(obj, Mapping) and not _is_tensor_dict(obj):
            for key in ("state_dict", "model", "model_state_dict", "params_ema", "params"):
                if isinstance(obj.get(key), Mapping):
                    obj = obj[key]
                    break
    if not isinstance(obj, Mapping) or not _is_tensor_dict(obj):
        kind = _other_model(obj) if isinstance(obj, Mapping) else None
        if kind:
            raise WeightsError(f"{what} is {kind}")
        raise WeightsError(f"{what} does not hold a state dict (a mapping of parameter names to tensors)")
    out: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        name = key[len("module.") :] if key.startswith("module.") else key
        out[name] = value
    return out


def _is_tensor_dict(obj: Mapping) -> bool:
    import torch

    return bool(obj) and all(isinstance(k, str) for k in obj) and any(isinstance(v, torch.Tensor) for v in obj.values())


def _other_model(state_dict: Mapping[str, Any]) -> str | None:
    """What another kind of model file is and where it goes, when the core recognises it; else None."""
    from t2i_ext.architectures import model_kind

    kind = model_kind(state_dict)
    if kind is None:
        return None
    return f"not annotator weights but {kind} For the annotator, use its published file (annotators.weights.WEIGHTS)."


def load_network(
    net: Any,
    path: str,
    what: str,
    *,
    convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    assign: bool = False,
) -> Any:
    """``net`` (an annotator's network) with the weight file at `path` strictly loaded (`load_strict`; `convert`
    renames a published layout first), in eval mode on the default device. `what` names the network in errors."""
    from annotators.nets import default_device

    state = load_state_dict(path)
    load_strict(net, convert(state) if convert else state, f"{what} from {path}", assign=assign)
    return net.eval().to(default_device())


def load_strict(module: Any, state_dict: Mapping[str, Any], what: str, *, assign: bool = False) -> None:
    """``module.load_state_dict(state_dict, strict=True)`` with an error that names another kind of model file
    (an adapter, a checkpoint) or lists (the first few) missing, unexpected and mis-shaped keys. ``assign=True``
    adopts the tensors themselves (for a module built on the ``meta`` device: large networks then skip their
    random initialisation)."""
    expected = module.state_dict()
    kind = None if set(expected) & set(state_dict) else _other_model(state_dict)
    if kind:
        raise WeightsError(f"{what} is {kind}")
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [
        f"{k} {tuple(state_dict[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in expected
        if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
            if keys:
                shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
                parts.append(f"{label}: {shown}")
        raise WeightsError(f"{what}: the file does not match the network ({'; '.join(parts)}); is it the right file?")
    module.load_state_dict(state_dict, strict=True, assign=assign)

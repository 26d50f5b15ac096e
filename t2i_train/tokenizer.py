"""CLIP tokenizers without a download.

SD1 (CLIP-L), SD2 (OpenCLIP ViT-H) and SDXL (CLIP-L + OpenCLIP bigG) share one BPE vocabulary. Where it comes
from, first match wins:

1. a folder given by the user (``--tokenizer``), or the diffusers folder's ``tokenizer/`` (``tokenizer_2/``);
2. the Hugging Face cache of ``openai/clip-vit-large-patch14`` (the WebUI host has it, see the offline host notes);
3. ``vocab.json``/``merges.txt`` built from open_clip's ``bpe_simple_vocab_16e6.txt.gz`` (the WebUI's venv has
   open-clip-torch; ``pip install --no-deps open-clip-torch==2.20.0`` elsewhere), written once to a cache folder.

Nothing else is needed: model configs are read from the checkpoint's tensor shapes.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import tempfile
from pathlib import Path

from .errors import BaseModelError

#: open_clip pads with token 0 ("!"); CLIP-L in SD1/SDXL pads with its end token
PAD_EOS = "<|endoftext|>"
PAD_OPEN_CLIP = "!"
_HF_REPO = "models--openai--clip-vit-large-patch14"


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def build_tokenizer_files(bpe_gz: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Write ``vocab.json`` and ``merges.txt`` (49,408 tokens, 48,894 merges) from open_clip's BPE file.

    Every process of a multi-process run may build them at once into one shared folder: each writes temporary
    files under names no other process uses and renames them into place (the contents are identical, the last
    rename wins), so no process loses a rename and no reader sees a half-written file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = gzip.open(bpe_gz).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(_bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    # merges first: a folder counts as built once vocab.json exists
    _write_atomic(folder / "merges.txt", "#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    _write_atomic(folder / "vocab.json", json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False))
    return folder


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None and not e.filename:  # a full disk: name the file
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


def check_tokenizer_folder(folder: Path) -> Path:
    """``folder`` when its ``vocab.json`` is a JSON object of tokens and ``merges.txt`` is UTF-8 text; otherwise a
    :class:`BaseModelError` naming the file and what to give instead."""
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    try:
        table = json.loads(vocab.read_text(encoding="utf-8"))
        merges.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        bad = vocab if isinstance(e, ValueError) and not isinstance(e, UnicodeDecodeError) else None
        what = f"{bad} is not JSON ({e})" if bad else f"{getattr(e, 'filename', None) or folder} cannot be read ({e})"
        raise BaseModelError(
            f"tokenizer: {what}; give a folder with a CLIP tokenizer's vocab.json and merges.txt (e.g. a "
            "diffusers model's tokenizer/), or leave --tokenizer out to build them offline."
        ) from None
    if not isinstance(table, dict) or not table:
        raise BaseModelError(f"tokenizer: {vocab} is JSON but not a token table; give a CLIP tokenizer's vocab.json.")
    return folder


def _open_clip_bpe() -> Path | None:
    spec = importlib.util.find_spec("open_clip")  # locates the package without importing it (no torchvision needed)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "bpe_simple_vocab_16e6.txt.gz"
    return path if path.exists() else None


def _hf_cache_folder() -> Path | None:
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    snaps = home / "hub" / _HF_REPO / "snapshots"
    for snap in sorted(snaps.glob("*")) if snaps.is_dir() else []:
        if (snap / "vocab.json").exists() and (snap / "merges.txt").exists():
            return snap
    return None


def default_cache_folder() -> Path:
    return Path(os.environ.get("T2I_TRAIN_CACHE", Path.home() / ".cache" / "t2i_train")) / "clip_tokenizer"


def find_tokenizer_folder(given: str | os.PathLike | None = None, cache: str | os.PathLike | None = None) -> Path:
    """A folder with ``vocab.json`` + ``merges.txt``, found or built offline; a clear error names what is missing."""
    if given is not None:
        given = Path(given)
        if not ((given / "vocab.json").exists() and (given / "merges.txt").exists()):
            raise BaseModelError(f"tokenizer folder {given} needs vocab.json and merges.txt (CLIP BPE).")
        return given
    if found := _hf_cache_folder():
        return found
    cache = Path(cache) / "clip_tokenizer" if cache else default_cache_folder()
    if (cache / "vocab.json").exists() and (cache / "merges.txt").exists():
        return cache
    bpe = _open_clip_bpe()
    if bpe is None:
        raise BaseModelError(
            "no CLIP tokenizer files (vocab.json, merges.txt) were found and none can be downloaded. Either pass "
            "--tokenizer DIR (a folder with vocab.json and merges.txt, e.g. a diffusers model's tokenizer/), or "
            "install open-clip-torch (`pip install --no-deps open-clip-torch==2.20.0`, which ships "
            "bpe_simple_vocab_16e6.txt.gz) so they can be built offline."
        )
    return build_tokenizer_files(bpe, cache)


def clip_tokenizer(folder: Path, pad_token: str = PAD_EOS):
    """A transformers ``CLIPTokenizer`` (77 tokens, lower case) padding with ``pad_token``."""
    from transformers import CLIPTokenizer

    check_tokenizer_folder(folder)
    return CLIPTokenizer(
        str(folder / "vocab.json"),
        str(folder / "merges.txt"),
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token=pad_token,
        model_max_length=77,
    )

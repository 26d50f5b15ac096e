"""Each API unit is parsed once: the API guard validates a request's units before the WebUI runs it, and the job then
receives the same JSON again from the WebUI; both ask this cache, so the images are decoded once.

Keyed by the unit's index, the annotator names it was checked against and a digest of its canonical JSON (hashing a
few MB of base64 costs far less than decoding the PNG in it). Anything that is not plain JSON (a panel value with a
numpy image, a ``UnitArgs``) is parsed directly. Bounded by entries and by the decoded images' bytes: requests with
large images (up to 64 megapixels each are accepted) must not leave gigabytes behind in the cache.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .lru import LRU
from .unit_args import UnitArgs


def _image_bytes(args: UnitArgs) -> int:
    return sum(int(getattr(im, "nbytes", 0)) for im in args.image)


class ParsedUnits:
    """A small LRU of parsed units (``t2i_host/lru.py``), bounded by entries and by the decoded images' bytes."""

    def __init__(self, max_entries: int = 16, max_bytes: int = 256 << 20) -> None:
        self._cache: LRU[tuple, UnitArgs] = LRU(max_entries, max_bytes=max_bytes, size_of=_image_bytes)
        self.parses = 0  # how many units were actually parsed (tests)

    def parse(self, value: Any, unit: int | None = None, known_modules: set[str] | None = None) -> UnitArgs:
        def parse() -> UnitArgs:
            self.parses += 1
            return UnitArgs.parse(value, unit, known_modules)  # raises for a bad unit: nothing is cached

        key = self._key(value, unit, known_modules)
        # a unit larger than max_bytes is not kept: the job parses it again instead
        return parse() if key is None else self._cache.get_or_create(key, parse)

    @property
    def nbytes(self) -> int:
        """Bytes of the decoded images held."""
        return self._cache.nbytes

    @staticmethod
    def _key(value: Any, unit: int | None, known_modules: set[str] | None) -> tuple | None:
        if not isinstance(value, dict):
            return None
        try:
            text = json.dumps(value, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError):  # not plain JSON: numpy images, PIL images, NaN
            return None
        digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        return unit, frozenset(known_modules) if known_modules is not None else None, digest

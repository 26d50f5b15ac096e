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
import threading
from collections import OrderedDict
from typing import Any

from .unit_args import UnitArgs


class ParsedUnits:
    """A small LRU of parsed units; thread-safe (the API serves requests on several threads)."""

    def __init__(self, max_entries: int = 16, max_bytes: int = 256 << 20) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, UnitArgs] = OrderedDict()
        self._sizes: dict[tuple, int] = {}
        self._lock = threading.Lock()
        self.parses = 0  # how many units were actually parsed (tests)

    def parse(self, value: Any, unit: int | None = None, known_modules: set[str] | None = None) -> UnitArgs:
        key = self._key(value, unit, known_modules)
        if key is not None:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key]
        self.parses += 1
        args = UnitArgs.parse(value, unit, known_modules)  # raises for a bad unit: nothing is cached
        size = sum(int(getattr(im, "nbytes", 0)) for im in args.image)
        if key is not None and size <= self.max_bytes:  # a larger unit is parsed again by the job instead
            with self._lock:
                self._entries[key] = args
                self._sizes[key] = size
                while len(self._entries) > self.max_entries or sum(self._sizes.values()) > self.max_bytes:
                    old, _ = self._entries.popitem(last=False)
                    del self._sizes[old]
        return args

    @property
    def nbytes(self) -> int:
        """Bytes of the decoded images held."""
        with self._lock:
            return sum(self._sizes.values())

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

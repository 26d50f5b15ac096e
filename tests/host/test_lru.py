"""The host layer's one cache shape (t2i_host/lru.py), against a plain model of what it must keep."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from t2i_host.lru import LRU

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("get"), st.integers(0, 6)),
        st.tuples(st.just("put"), st.integers(0, 6), st.integers(0, 40)),
        st.tuples(st.just("stale"), st.integers(0, 6)),
        st.tuples(st.just("limit"), st.integers(0, 4)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(OPS, st.integers(0, 4), st.one_of(st.none(), st.integers(0, 60)))
def test_the_cache_keeps_what_a_list_in_recency_order_keeps(ops, limit, max_bytes):
    bound = {"n": limit}
    stale: set[int] = set()
    evictions = []
    cache = LRU(
        lambda: bound["n"],
        max_bytes=max_bytes,
        size_of=lambda value: value,
        stale=lambda key: key in stale,
        on_evict=lambda: evictions.append(1),
    )
    model: list[tuple[int, int]] = []  # (key, size), least recent first

    def trim() -> bool:
        before = list(model)
        model[:] = [(k, v) for k, v in model if k not in stale]
        while model and (len(model) > bound["n"] or (max_bytes is not None and sum(v for _, v in model) > max_bytes)):
            model.pop(0)
        return model != before

    for op in ops:
        calls = len(evictions)
        if op[0] == "get":
            key = op[1]
            hit = next(((k, v) for k, v in model if k == key and key not in stale), None)
            if hit:
                model.remove(hit)
                model.append(hit)
            expect_evict = trim()
            assert cache.get(key) == (hit[1] if hit else None)
        elif op[0] == "put":
            _, key, size = op
            if max_bytes is None or size <= max_bytes:
                model[:] = [(k, v) for k, v in model if k != key] + [(key, size)]
                expect_evict = trim()
            else:
                expect_evict = False
            cache.put(key, size)
        elif op[0] == "stale":
            stale.add(op[1])
            continue
        else:
            bound["n"] = op[1]
            continue
        assert (len(evictions) > calls) == expect_evict
        assert [k for k, _ in model] == list(cache._items)
        assert cache.nbytes == sum(v for _, v in model)


def test_get_or_create_counts_hits_and_misses_and_keeps_nothing_when_create_raises():
    cache = LRU(2)
    assert cache.get_or_create("a", lambda: 1) == 1 and cache.get_or_create("a", lambda: 2) == 1
    assert (cache.hits, cache.misses) == (1, 1)
    with pytest.raises(ValueError):
        cache.get_or_create("b", lambda: (_ for _ in ()).throw(ValueError("broken")))
    assert "b" not in cache and cache.misses == 1


def test_a_stale_entry_is_never_a_hit_and_is_created_again():
    changed = set()
    cache = LRU(4, stale=lambda key: key in changed)
    cache.put("model", "old")
    changed.add("model")
    assert cache.get("model") is None and "model" not in cache
    changed.clear()
    assert cache.get_or_create("model", lambda: "new") == "new"


def test_threads_sharing_one_cache_never_exceed_its_bound():
    cache = LRU(3)
    errors = []

    def work(offset: int) -> None:
        try:
            for i in range(2000):
                cache.get_or_create((offset + i) % 7, lambda i=i: i)
                assert len(cache) <= 3
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) <= 3


def test_an_adapter_whose_file_was_rewritten_is_evicted_not_kept_beside_the_new_one(tmp_path):
    import os

    from t2i_host.model_store import AdapterCache

    path = tmp_path / "a.safetensors"
    path.write_bytes(b"one")
    evictions = []
    cache = AdapterCache(lambda p: p.read_bytes(), size=2, on_evict=lambda: evictions.append(1))
    assert cache.get(path) == b"one"
    path.write_bytes(b"two!")
    os.utime(path, ns=(1, 1))
    assert cache.get(path) == b"two!" and cache.loads == 2
    assert len(cache) == 1 and evictions  # the old model's memory is released at once

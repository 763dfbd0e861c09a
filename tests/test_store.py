"""The bounded, thread-safe LRU store that keeps what a process holds of the network."""

import threading
import time

import pytest

from sklvgg._store import BoundedStore


def test_bound_is_respected_least_recently_used_first():
    evicted = []
    store = BoundedStore(maxsize=3, on_evict=lambda key, value: evicted.append((key, value)))
    for key in "abc":
        assert store.get_or_create(key, lambda key=key: key.upper()) == key.upper()
    assert store.get_or_create("a", lambda: pytest.fail("a is stored")) == "A"  # a: most recent now
    store.get_or_create("d", lambda: "D")
    assert len(store) == 3 and evicted == [("b", "B")]
    assert store.keys() == ["c", "a", "d"]
    store.get_or_create("e", lambda: "E")
    assert evicted == [("b", "B"), ("c", "C")] and "c" not in store and "a" in store


def test_failed_factory_stores_nothing():
    store = BoundedStore(maxsize=2)

    def fail():
        raise OSError("gone")

    with pytest.raises(OSError, match="gone"):
        store.get_or_create("k", fail)
    assert "k" not in store and len(store) == 0
    assert store.get_or_create("k", lambda: 1) == 1


def test_discard_if_and_clear():
    store = BoundedStore(maxsize=4)
    for key in [("x", 1), ("x", 2), ("y", 1)]:
        store.get_or_create(key, lambda: object())
    store.discard_if(lambda key: key[0] == "x")
    assert store.keys() == [("y", 1)]
    store.clear()
    assert len(store) == 0


def test_maxsize_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        BoundedStore(maxsize=0)


def test_threads_asking_for_one_key_make_it_once():
    store = BoundedStore(maxsize=2)
    calls = []
    start = threading.Barrier(6)

    def slow():
        calls.append(threading.get_ident())
        time.sleep(0.05)  # long enough for the other threads to arrive meanwhile
        return object()

    results = [None] * 6

    def ask(i):
        start.wait()
        results[i] = store.get_or_create("key", slow)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(calls) == 1
    assert all(result is results[0] for result in results)


def test_other_keys_are_not_held_up_by_a_slow_one():
    store = BoundedStore(maxsize=4)
    inside, release = threading.Event(), threading.Event()

    def blocked():
        inside.set()
        release.wait(timeout=10)
        return "slow"

    thread = threading.Thread(target=store.get_or_create, args=("slow", blocked))
    thread.start()
    assert inside.wait(timeout=10)
    fast = []
    other = threading.Thread(target=lambda: fast.append(store.get_or_create("fast", lambda: "fast")))
    other.start()
    other.join(timeout=2)  # while "slow" is being made: a store that waited for it would still be waiting
    assert fast == ["fast"]
    release.set()
    thread.join(timeout=10)
    assert store.keys() == ["fast", "slow"]


def test_reserve_grows_the_bound_and_never_shrinks_it():
    store = BoundedStore(maxsize=3)
    store.reserve(5)
    for key in range(5):
        store.get_or_create(key, lambda key=key: key)
    assert store.keys() == [0, 1, 2, 3, 4]
    store.reserve(2)
    store.get_or_create(5, lambda: 5)
    assert store.maxsize == 5 and store.keys() == [1, 2, 3, 4, 5]

"""``sklvgg._cache``: the on-disk format.

Entries are the stored bytes, whoever reads them back; keys cannot go stale;
an entry is bound to its key; damaged entries are warned about and recomputed;
entries follow the umask; a cache that cannot be written leaves the results
unchanged, with one warning.
"""

import errno
import multiprocessing
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
import warnings

import joblib
import numpy as np
import pytest
from conftest import (
    assert_features_close,
    cache_entries,
    cached_transformer,
    small_transformer,
    stored_keys,
    without_blocking,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sklvgg import CacheWarning, ImageReadError
from sklvgg._cache import FeatureCache, image_keys
from sklvgg._images import as_image_source


def cache_of(vgg, folder, X):
    """The fitted single-layer transformer's cache in ``folder``, and the keys of images ``X``."""
    (key,) = stored_keys(vgg, X[:1])
    return FeatureCache(folder, key, vgg.n_features_out_), image_keys(as_image_source(X))


# ------------------------------------------- entries: the stored bytes, read back by any estimator or process


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_cache_returns_the_stored_bytes(tmp_path, rng, precision):
    X = rng.integers(0, 256, (11, 40, 30, 3), dtype=np.uint8)
    for kw in (dict(layer="block2_pool", pooling=None), dict(layer="block5_conv3", pooling="max")):
        kw["precision"] = precision
        plain = cached_transformer(None, **kw).fit(X).transform(X)
        # the same batches twice: bit-identical, with or without the cache
        np.testing.assert_array_equal(cached_transformer(None, **kw).fit(X).transform(X), plain)
        np.testing.assert_array_equal(cached_transformer(tmp_path / "same", **kw).fit(X).transform(X), plain)
        cached = cached_transformer(tmp_path / "mixed", **kw).fit(X)
        partial = cached.transform(X[::3])
        full = cached.transform(X)  # 4 hits, 7 computed in other batches than `plain`
        assert (cached.cache_hits_, cached.cache_misses_) == (4, 7)
        assert_features_close(full, plain, precision)
        np.testing.assert_array_equal(full[::3], partial)
        # every later read, by any estimator on that folder, is the stored bytes
        np.testing.assert_array_equal(cached_transformer(tmp_path / "mixed", **kw).fit(X).transform(X), full)
        # ... which are the bytes of the entries on disk, read back directly
        cache, keys = cache_of(cached, tmp_path / "mixed", X)
        found = cache.lookup(keys)
        stored = np.stack([found[k] for k in keys])
        np.testing.assert_array_equal(stored, full)


def test_paths_and_joblib_memory(tmp_path, rng, counted):
    from PIL import Image

    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    paths = []
    for i, img in enumerate(X):
        paths.append(tmp_path / f"img{i}.png")
        Image.fromarray(img).save(paths[-1])
    memory = joblib.Memory(tmp_path / "cache", verbose=0)
    vgg = cached_transformer(memory).fit(paths)
    first = vgg.transform(paths)
    vgg.transform([str(p) for p in paths[::-1]])
    assert counted["images"] == 4 and vgg.cache_hits_ == 4
    # a file rewritten in place is a new image
    Image.fromarray(255 - X[0]).save(paths[0])
    os.utime(paths[0], ns=(1, 10**18))
    again = vgg.transform(paths)
    assert counted["images"] == 5
    assert not np.array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1:], first[1:])
    assert cached_transformer(joblib.Memory(None)).fit(X).transform(X).shape == (4, 512)


def _write_many(folder, keys, seed, rounds):
    cache = FeatureCache(folder, "model", 64)
    for _ in range(rounds):
        for key in keys:
            cache.write(key, np.full(64, int(key, 16) % 1000, np.float32))
    return True


def test_concurrent_writers_leave_only_whole_entries(tmp_path):
    keys = [f"{i:032x}" for i in range(1, 60)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        assert all(pool.starmap(_write_many, [(tmp_path, keys, s, 5) for s in range(3)]))
    found = FeatureCache(tmp_path, "model", 64).lookup(keys)
    for key in keys:
        np.testing.assert_array_equal(found[key], np.full(64, int(key, 16) % 1000, np.float32))
    assert not list(tmp_path.rglob("*.tmp"))


def test_grid_search_two_workers_share_the_cache(tmp_path, labelled, counted):
    X, y = labelled
    pipe = Pipeline([("vgg", cached_transformer(tmp_path)), ("clf", LogisticRegression(max_iter=300))])
    search = GridSearchCV(pipe, {"clf__C": [0.1, 1.0, 10.0]}, cv=3, n_jobs=2).fit(X, y)
    # the workers filled the shared folder; this process computes nothing now
    assert len(cache_entries(tmp_path)) == 24
    before = counted["images"]
    search.best_estimator_[0].transform(X)
    assert counted["images"] == before
    again = cached_transformer(tmp_path).fit(X)
    again.transform(X)
    assert again.cache_hits_ == 24


@pytest.mark.slow  # two writer processes with TensorFlow
def test_two_processes_transforming_the_same_images(tmp_path, rng):
    X = rng.integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "X.npy", X)
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER.replace("time.sleep(0.05)", "pass"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    procs = [
        subprocess.Popen([sys.executable, str(script), str(tmp_path / "X.npy"), str(tmp_path / "cache")],
                         stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all("finished" in o for o in outs)
    vgg = small_transformer(memory=tmp_path / "cache").fit(X)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert_features_close(vgg.transform(X), small_transformer().fit(X).transform(X))
    assert vgg.cache_hits_ == 24


# ----------------------------------------------------------------------------- keys that cannot go stale


def test_changed_weights_never_serve_stale_features(tmp_path, notop_weights_files, rng):
    import h5py

    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "w.weights.h5"
    shutil.copy(notop_weights_files["keras3"], path)
    vgg = cached_transformer(tmp_path / "cache", weights=path, layer="block1_conv1").fit(X)
    before = vgg.transform(X)
    with h5py.File(path, "r+") as f:
        f["layers/conv2d/vars/1"][...] += 1.0
    after = vgg.transform(X)
    assert vgg.cache_misses_ == 3
    assert not np.allclose(after, before)
    fresh = cached_transformer(None, weights=path, layer="block1_conv1").fit(X).transform(X)
    np.testing.assert_array_equal(after, fresh)


def _bmp(path, img):
    """An uncompressed file: the same size whatever the pixels."""
    from PIL import Image

    Image.fromarray(img).save(path, format="BMP")
    return path


def _fresh(paths):
    """Features computed now, without any cache, from what the paths hold."""
    return cached_transformer(None).fit(paths).transform(paths)


def test_file_rewritten_in_place_with_its_mtime_restored_is_a_miss(tmp_path, rng):
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    paths = [_bmp(tmp_path / f"{i}.bmp", x) for i, x in enumerate(X)]
    vgg = cached_transformer(tmp_path / "cache").fit(paths)
    before = vgg.transform(paths)
    old = os.stat(paths[0])
    _bmp(paths[0], 255 - X[0])  # same size, other pixels
    os.utime(paths[0], ns=(old.st_atime_ns, old.st_mtime_ns))  # as cp -p, tar, rsync -t do
    assert os.stat(paths[0]).st_size == old.st_size and os.stat(paths[0]).st_mtime_ns == old.st_mtime_ns
    after = vgg.transform(paths)
    assert (vgg.cache_hits_, vgg.cache_misses_) == (2, 1)
    assert_features_close(after[:1], _fresh(paths[:1]))
    assert not np.allclose(after[0], before[0])


def test_same_size_same_mtime_files_swapped_by_rename_are_not_stale(tmp_path, rng):
    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    a, b = _bmp(tmp_path / "a.bmp", X[0]), _bmp(tmp_path / "b.bmp", X[1])
    for p in (a, b):
        os.utime(p, ns=(10**18, 10**18))  # whole seconds, as tar extraction sets
    vgg = cached_transformer(tmp_path / "cache").fit([a, b])
    before = vgg.transform([a, b])
    os.rename(a, tmp_path / "t.bmp")
    os.rename(b, a)
    os.rename(tmp_path / "t.bmp", b)
    after = vgg.transform([a, b])
    assert vgg.cache_hits_ == 0  # no stale hit
    assert_features_close(after, before[::-1])


def test_symlink_repointed_to_a_same_size_same_mtime_file_is_a_miss(tmp_path, rng):
    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    a, b = _bmp(tmp_path / "a.bmp", X[0]), _bmp(tmp_path / "b.bmp", X[1])
    for p in (a, b):
        os.utime(p, ns=(10**18, 10**18))
    link = tmp_path / "link.bmp"
    link.symlink_to(a)
    vgg = cached_transformer(tmp_path / "cache").fit([link])
    first = vgg.transform([link])
    link.unlink()
    link.symlink_to(b)
    second = vgg.transform([link])
    assert vgg.cache_hits_ == 0
    assert_features_close(second, _fresh([b]))
    assert not np.allclose(first, second)


def _coarse(monkeypatch, paths):
    """Pretend ``paths`` live on a file system with whole-second timestamps and no stat change."""
    import types

    import sklvgg._cache as cache_module

    frozen = {os.fspath(p): os.stat(p) for p in paths}

    def coarse_stat(path):
        st = frozen[os.fspath(path)]
        fields = {k: getattr(st, k) for k in dir(st) if k.startswith("st_")}
        fields.update(st_mtime_ns=1_700_000_000 * 10**9, st_ctime_ns=1_700_000_000 * 10**9)
        return types.SimpleNamespace(**fields)

    monkeypatch.setattr(cache_module, "_stat", coarse_stat, raising=False)


def test_coarse_timestamps_fall_back_to_the_file_bytes(tmp_path, rng, monkeypatch):
    """FAT/exFAT/HFS+: a same-size rewrite within one timestamp tick changes no stat field."""
    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    paths = [_bmp(tmp_path / f"{i}.bmp", x) for i, x in enumerate(X)]
    _coarse(monkeypatch, paths)
    vgg = cached_transformer(tmp_path / "cache").fit(paths)
    vgg.transform(paths)
    st = os.stat(paths[1])
    _bmp(paths[1], 255 - X[1])  # same inode, every (faked) stat field unchanged ...
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns))  # ... the real mtime too: one tick
    after = vgg.transform(paths)
    assert (vgg.cache_hits_, vgg.cache_misses_) == (1, 1)
    assert_features_close(after[1:], _fresh(paths[1:]))


def _pixels(path):
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def test_stale_hits_over_every_case_are_zero(tmp_path, rng, monkeypatch):
    """The counts of the closing note: every way tried to fake a file's identity; stale rows: 0."""
    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    paths = [_bmp(tmp_path / f"{i}.bmp", x) for i, x in enumerate(X)]
    for p in paths:
        os.utime(p, ns=(10**18, 10**18))  # equal, whole-second mtimes
    link = tmp_path / "link.bmp"
    link.symlink_to(paths[1])

    def rewrite_with_mtime_restored():
        st = os.stat(paths[0])
        _bmp(paths[0], np.roll(_pixels(paths[0]), 5, axis=0))
        os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns))

    def swap_by_rename():
        os.rename(paths[1], tmp_path / "t.bmp")
        os.rename(paths[2], paths[1])
        os.rename(tmp_path / "t.bmp", paths[2])

    def copy_over_with_mtime_restored():
        st = os.stat(paths[3])
        shutil.copyfile(paths[0], paths[3])
        os.utime(paths[3], ns=(st.st_atime_ns, st.st_mtime_ns))

    def repoint_symlink():
        link.unlink()
        link.symlink_to(paths[3])

    def rewrite_on_a_coarse_file_system():
        _coarse(monkeypatch, paths + [link])
        vgg.transform(inputs)  # cache what the coarse keys see
        _bmp(paths[2], 255 - _pixels(paths[2]))

    inputs = paths + [link]
    vgg = cached_transformer(tmp_path / "cache").fit(inputs)
    tried = stale = 0
    for change in (
        rewrite_with_mtime_restored,
        swap_by_rename,
        copy_over_with_mtime_restored,
        repoint_symlink,
        rewrite_on_a_coarse_file_system,
    ):
        vgg.transform(inputs)  # everything cached as it is now
        before = [_pixels(p) for p in inputs]
        change()
        got = vgg.transform(inputs)
        for row, path in enumerate(inputs):
            if not np.array_equal(before[row], _pixels(path)):
                tried += 1
                fresh = _fresh([path])[0]
                stale += not np.allclose(got[row], fresh, rtol=1e-4, atol=1e-4 * np.abs(fresh).max())
    print(f"\nrows whose file changed under an unchanged-looking identity: {tried}; stale hits: {stale}")
    assert (tried, stale) == (7, 0)


def test_environment_fields_of_the_key(tmp_path, rng, monkeypatch):
    import sklvgg._cache as cache_module

    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    cached_transformer(tmp_path).fit(X).transform(X)
    for seam, value in (("_backend_version", lambda: "jax 0.0"), ("_pkg_version", lambda name: "0.0"),
                        ("FORMAT_VERSION", 99), ("_INPUT_PIPELINE", "another")):  # fmt: skip
        with monkeypatch.context() as patch:
            patch.setattr(cache_module, seam, value)
            vgg = cached_transformer(tmp_path).fit(X)
            vgg.transform(X)
            assert vgg.cache_hits_ == 0, seam


_PIXEL_DTYPES = st.sampled_from([np.uint8, np.float32, np.float64])


_SMALL_SHAPES = hnp.array_shapes(min_dims=2, max_dims=3, max_side=6)


@settings(max_examples=200, deadline=None)
@given(
    a=hnp.arrays(_PIXEL_DTYPES, _SMALL_SHAPES, elements=st.integers(0, 255)),
    b=hnp.arrays(_PIXEL_DTYPES, _SMALL_SHAPES, elements=st.integers(0, 255)),
)  # fmt: skip
def test_distinct_images_never_share_a_key(a, b):
    a = a[..., :3] if a.ndim == 3 and a.shape[2] not in (1, 3) else a
    b = b[..., :3] if b.ndim == 3 and b.shape[2] not in (1, 3) else b
    if a.ndim == 3 and a.shape[2] == 2 or b.ndim == 3 and b.shape[2] == 2:
        return
    source = as_image_source([a, b])
    ka, kb = image_keys(source)
    a3, b3 = source.item(0), source.item(1)  # grayscale is keyed as the RGB it becomes
    same = a3.shape == b3.shape and a3.dtype == b3.dtype and np.array_equal(a3, b3)
    assert (ka == kb) == same


# ----------------------------------------------------------------------------- entries bound to their key


def test_an_entry_copied_to_another_key_is_detected(tmp_path, rng):
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = cached_transformer(tmp_path).fit(X)
    expected = vgg.transform(X)
    cache, keys = cache_of(vgg, tmp_path, X)
    victim = cache._path(keys[1])
    shutil.copyfile(cache._path(keys[0]), victim)  # a whole, CRC-valid entry of another image
    with pytest.warns(CacheWarning, match="another image.*recomputed and rewritten") as record:
        got = vgg.transform(X)
    assert len(record) == 1 and vgg.cache_misses_ == 1
    np.testing.assert_array_equal(got[[0, 2]], expected[[0, 2]])
    assert_features_close(got[1:2], expected[1:2])
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # rewritten: read cleanly now
        np.testing.assert_array_equal(vgg.transform(X), got)
    assert vgg.cache_hits_ == 3


def test_entries_swapped_by_rename_or_moved_to_another_model_are_detected(tmp_path, rng):
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = cached_transformer(tmp_path).fit(X)
    expected = vgg.transform(X)
    cache, keys = cache_of(vgg, tmp_path, X)
    a, b = cache._path(keys[0]), cache._path(keys[2])
    os.rename(a, a + ".x")
    os.rename(b, a)
    os.rename(a + ".x", b)
    with pytest.warns(CacheWarning, match="2 cache entries.*another image") as record:
        got = vgg.transform(X)
    assert len(record) == 1 and (vgg.cache_hits_, vgg.cache_misses_) == (1, 2)
    assert_features_close(got, expected)
    # the same entry under another model key (same image key, same length) is refused too
    other = FeatureCache(tmp_path, "0" * 32, 512)
    os.makedirs(os.path.dirname(other._path(keys[1])))
    shutil.copyfile(cache._path(keys[1]), other._path(keys[1]))
    with pytest.warns(CacheWarning, match="another image"):
        assert other.lookup([keys[1]]) == {}


# --------------------------------------------------------------- damaged entries: warned about and recomputed


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_damaged_entries_are_recomputed(tmp_path, rng, damage):
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = cached_transformer(tmp_path).fit(X)
    expected = vgg.transform(X)
    victim = cache_entries(tmp_path)[1]
    blob = bytearray(victim.read_bytes())
    if damage == "truncate":
        blob = blob[: len(blob) // 2]
    elif damage == "flip":
        blob[-7] ^= 0x10
    elif damage == "empty":
        blob = b""
    else:
        blob = os.urandom(len(blob))
    victim.write_bytes(bytes(blob))
    with pytest.warns(CacheWarning, match="truncated or fails its checksum"):
        repaired = vgg.transform(X)
    assert_features_close(repaired, expected)  # recomputed alone, not in the first batch of 3
    # the two intact entries are read back as stored
    assert sum(np.array_equal(a, b) for a, b in zip(repaired, expected)) >= 2
    assert vgg.cache_misses_ == 1
    # rewritten: read cleanly now
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        np.testing.assert_array_equal(vgg.transform(X), repaired)
    assert vgg.cache_hits_ == 3


@pytest.mark.parametrize("change", ["longer", "shorter", "header length", "payload", "empty"])
def test_entries_of_the_wrong_length_or_checksum_are_warned_and_recomputed(tmp_path, rng, change):
    import struct

    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = cached_transformer(tmp_path).fit(X)
    good = vgg.transform(X)
    cache, keys = cache_of(vgg, tmp_path, X)
    path = cache._path(keys[1])
    blob = bytearray(open(path, "rb").read())
    if change == "longer":
        blob += b"\0\0\0\0"  # one float more than the header and the model say
    elif change == "shorter":
        blob = blob[:-4]
    elif change == "header length":
        struct.pack_into("<Q", blob, 24, len(blob) - 32 + 4)
    elif change == "payload":
        blob[-1] ^= 1
    else:
        blob = bytearray()
    with open(path, "wb") as f:
        f.write(blob)
    with pytest.warns(CacheWarning, match="truncated or fails its checksum"):
        again = cached_transformer(tmp_path).fit(X).transform(X)
    np.testing.assert_array_equal(again[[0, 2]], good[[0, 2]])
    assert_features_close(again[1:2], good[1:2])
    # rewritten whole: read back without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        np.testing.assert_array_equal(cached_transformer(tmp_path).fit(X).transform(X), again)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_at_a_cache_entry_path_is_a_damaged_entry(tmp_path, rng):
    import warnings

    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = small_transformer(memory=tmp_path).fit(X)
    expected = vgg.transform(X)
    victim = sorted(tmp_path.rglob("*.f32"))[1]
    victim.unlink()
    os.mkfifo(victim)
    with pytest.warns(CacheWarning, match="not a regular file but a FIFO") as record:
        got = without_blocking(lambda: vgg.transform(X), [victim])
    assert len(record) == 1 and vgg.cache_misses_ == 1
    assert_features_close(got, expected)
    assert victim.is_file()  # replaced by a whole entry
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        np.testing.assert_array_equal(vgg.transform(X), got)


def test_directory_at_an_entry_path_degrades_with_one_warning(tmp_path, rng):
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = cached_transformer(tmp_path).fit(X)
    expected = vgg.transform(X)
    victim = cache_entries(tmp_path)[0]
    victim.unlink()
    victim.mkdir()
    (victim / "something").write_text("kept")
    with pytest.warns(CacheWarning, match="not a regular file but a directory") as record:
        got = vgg.transform(X)
    assert len(record) == 1 and vgg.cache_misses_ == 1
    assert_features_close(got, expected)
    assert (victim / "something").read_text() == "kept"  # nothing of the user's is deleted


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import sklvgg._cache as cache
    from sklvgg import VGG16FeatureTransformer
    real_write = cache.FeatureCache.write
    def slow_write(self, key, values):
        ok = real_write(self, key, values)
        print("wrote", flush=True)
        time.sleep(0.05)
        return ok
    cache.FeatureCache.write = slow_write
    X = np.load(sys.argv[1])
    vgg = VGG16FeatureTransformer(weights=None, layer="block3_pool", pooling="avg",
                                  input_size=32, random_state=0, batch_size=4, memory=sys.argv[2])
    vgg.fit(X).transform(X)
    print("finished", flush=True)
    """
)


@pytest.mark.slow  # a writer process with TensorFlow
def test_sigkill_while_writing_then_rerun(tmp_path, rng):
    X = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "X.npy", X)
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "X.npy"), str(tmp_path / "cache")],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    written = 0
    for line in proc.stdout:
        written += line.startswith("wrote")
        if written == 10:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    plain = small_transformer().fit(X).transform(X)
    vgg = small_transformer(memory=tmp_path / "cache").fit(X)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # no entry may be damaged
        resumed = vgg.transform(X)
    assert_features_close(resumed, plain)  # the killed writer ran other batches
    assert 10 <= vgg.cache_hits_ < 40
    np.testing.assert_array_equal(vgg.transform(X), resumed)
    assert vgg.cache_hits_ == 40


# ----------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_entries_are_created_with_the_umask_permissions(tmp_path, rng, umask):
    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    previous = os.umask(umask)
    try:
        cached_transformer(tmp_path).fit(X).transform(X)
    finally:
        os.umask(previous)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in cache_entries(tmp_path)}
    assert modes == {0o666 & ~umask}


_OTHER_UID = 65533  # a second unprivileged user, in nobody's group


def _as_user(uid, gid, work, timeout=60):
    """Run ``work()`` in a forked child as ``uid:gid`` with umask 002; returns what it returns."""
    import pickle

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no TensorFlow here, only the cache and NumPy
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            os.umask(0o002)
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                result = work()
            payload = pickle.dumps((result, [str(w.message) for w in record]))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            payload = pickle.dumps((None, [f"child failed: {type(exc).__name__}: {exc}"]))
        os.write(write, payload)
        os._exit(0)
    os.close(write)
    deadline = time.monotonic() + timeout
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail(f"the child running as uid {uid} did not finish in {timeout} s")
        time.sleep(0.05)
    with os.fdopen(read, "rb") as f:
        return pickle.loads(f.read())


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0, reason="needs root to switch users")
def test_a_group_writable_folder_is_shared_by_two_users(rng):
    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    # pytest's tmp_path is private to root; the shared folder lives in /tmp
    shared = tempfile.mkdtemp(prefix="sklvgg-shared-", dir="/tmp")
    try:
        os.chown(shared, 0, 65534)
        os.chmod(shared, 0o2775)  # group-writable, new folders inherit the group
        previous = os.umask(0o002)
        try:
            expected = cached_transformer(shared).fit(X).transform(X)  # the first user computes
        finally:
            os.umask(previous)

        def second_user():
            vgg = cached_transformer(shared).fit(X)

            def recompute(*args, **kwargs):  # TensorFlow in a forked child would hang: refuse
                raise RuntimeError("the second user found no usable entry and had to recompute")

            vgg._compute = recompute
            got = vgg.transform(X)
            cache = FeatureCache(shared, "1" * 32, 8)
            written = [cache.write(f"{i:032x}", np.full(8, i, np.float32)) for i in range(3)]
            return got, vgg.cache_hits_, written

        result, messages = _as_user(65534, 65534, second_user)
        assert messages == []  # no CacheWarning, no failure
        got, hits, written = result
        assert hits == 4 and written == [True] * 3
        np.testing.assert_array_equal(got, expected)  # the first user's bytes, not recomputed

        def third_user():
            cache = FeatureCache(shared, "1" * 32, 8)
            found = cache.lookup([f"{i:032x}" for i in range(3)])
            values = [found.get(f"{i:032x}") for i in range(3)]
            return values, cache.write(f"{0:032x}", np.zeros(8, np.float32))

        result, messages = _as_user(_OTHER_UID, 65534, third_user)
        assert messages == []
        values, rewritten = result
        assert rewritten
        for i, v in enumerate(values):
            np.testing.assert_array_equal(v, np.full(8, i, np.float32))
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path, rng):
    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    tmp_path.chmod(0o500)
    try:
        with pytest.warns(CacheWarning):
            cached_transformer(tmp_path).fit(X).transform(X)
    finally:
        tmp_path.chmod(0o700)


# ----------------------------------------------------- failure modes: the results unchanged, with one warning


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_unwritable_cache_degrades_with_a_warning(tmp_path, rng, monkeypatch, err):
    import sklvgg._cache as cache_module

    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    expected = cached_transformer(None).fit(X).transform(X)

    def refuse(*args, **kwargs):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(cache_module.FeatureCache, "_create_temporary", refuse)
    vgg = cached_transformer(tmp_path).fit(X)
    with pytest.warns(CacheWarning, match="cannot be written.*Results are unchanged"):
        np.testing.assert_array_equal(vgg.transform(X), expected)
    assert cache_entries(tmp_path) == [] and not list(tmp_path.rglob("*.tmp"))


def test_memory_naming_a_regular_file_computes_with_one_warning(tmp_path, rng):
    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    plain = cached_transformer(None).fit(X).transform(X)
    not_a_folder = tmp_path / "cache.txt"
    not_a_folder.write_text("a file, not a folder")
    vgg = cached_transformer(not_a_folder).fit(X)
    with pytest.warns(CacheWarning, match="cannot be written.*Results are unchanged") as record:
        np.testing.assert_array_equal(vgg.transform(X), plain)
    assert len(record) == 1 and vgg.cache_misses_ == 4
    assert not_a_folder.read_text() == "a file, not a folder"


def test_an_unwritable_cache_is_warned_about_once_at_the_callers_line(tmp_path, rng):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = rng.integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    not_a_folder = tmp_path / "cache.txt"
    not_a_folder.write_text("a file, not a folder")
    params = dict(layer=["block4_pool", "block5_pool"], scales=(32, 40), flip=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vgg = cached_transformer(not_a_folder, **params).fit(X)
        vgg.transform(X)  # 2 layers x 4 views, transformed three times
        vgg.transform(X[:2])
        make_pipeline(cached_transformer(not_a_folder, **params), StandardScaler()).fit(X)
    unwritable = [w for w in caught if "cannot be written" in str(w.message)]
    assert len(unwritable) == 1 and str(not_a_folder) in str(unwritable[0].message)
    assert unwritable[0].filename == __file__


def test_directory_deleted_during_use(tmp_path, rng):
    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    vgg = cached_transformer(tmp_path / "c").fit(X)
    expected = vgg.transform(X[:2])
    shutil.rmtree(tmp_path / "c")
    out = vgg.transform(X)
    assert_features_close(out[:2], expected)  # recomputed, in a batch of 4 this time
    assert vgg.cache_misses_ == 4 and len(cache_entries(tmp_path)) == 4
    np.testing.assert_array_equal(vgg.transform(X), out)


@pytest.fixture
def tiny_mount(tmp_path):
    """A 64 KiB tmpfs (needs root and mount rights; skipped otherwise)."""
    point = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
    point.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)],
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    yield point
    subprocess.run(["umount", "-l", str(point)], check=False)


def test_full_disk(tiny_mount, rng):
    X = rng.integers(0, 256, (30, 32, 32, 3), dtype=np.uint8)
    plain = small_transformer(layer="block2_pool").fit(X).transform(X)  # 128 floats: ~512 B per entry
    vgg = small_transformer(layer="block2_pool", memory=tiny_mount).fit(X)
    (tiny_mount / "filler").write_bytes(b"\0" * (64 * 1024 - 12 * 4096))  # leave ~12 pages
    with pytest.warns(CacheWarning, match="cannot be written"):
        np.testing.assert_array_equal(vgg.transform(X), plain)
    assert not list(tiny_mount.rglob("*.tmp"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CacheWarning)
        np.testing.assert_array_equal(vgg.transform(X), plain)


def test_read_only_mount(tiny_mount, rng):
    X = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    plain = small_transformer().fit(X).transform(X)
    small_transformer(memory=tiny_mount).fit(X).transform(X[:3])  # some entries exist
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_mount)], check=True)
    vgg = small_transformer(memory=tiny_mount).fit(X)
    with pytest.warns(CacheWarning, match="cannot be written"):
        np.testing.assert_array_equal(vgg.transform(X), plain)
    assert vgg.cache_hits_ == 3


def test_one_bad_file_in_5000_keeps_the_others_in_the_cache(tmp_path, rng):
    images = tmp_path / "images"
    images.mkdir()
    paths = []
    for i in range(5000):
        p = images / f"{i:05d}.png"
        Image.new("RGB", (8, 8), tuple(int(v) for v in rng.integers(0, 256, 3))).save(p)
        paths.append(p)
    paths[4321].write_text("broken")
    vgg = small_transformer(memory=tmp_path / "cache", batch_size=64, layer="block1_pool").fit(paths)
    with pytest.raises(ImageReadError, match="row 4321"):
        vgg.transform(paths)
    cached = len(list((tmp_path / "cache").rglob("*.f32")))
    assert cached >= 4321 - 4321 % 64  # every batch before the bad one
    Image.new("RGB", (8, 8)).save(paths[4321], format="PNG")
    vgg.transform(paths)
    assert vgg.cache_hits_ == cached and vgg.cache_misses_ == 5000 - cached

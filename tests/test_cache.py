import errno
import multiprocessing
import os
import shutil
import stat
import tempfile
import time
import warnings

import joblib
import numpy as np
import pytest
from conftest import assert_features_close, stored_keys
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, learning_curve
from sklearn.pipeline import Pipeline

import sklvgg._transformer as transformer_module
from sklvgg import CacheWarning, SoftmaxHeadClassifier, VGG16FeatureTransformer
from sklvgg._cache import FeatureCache, image_keys
from sklvgg._feature_spec import FEATURE_PARAMS
from sklvgg._images import as_image_source


def small(memory, **kw):
    params = dict(weights=None, layer="block4_pool", pooling="avg", input_size=32,
                  random_state=0, batch_size=5, memory=memory)  # fmt: skip
    params.update(kw)
    return VGG16FeatureTransformer(**params)


@pytest.fixture
def counted(monkeypatch):
    """Counts the images that really go through the compiled network."""
    seen = {"images": 0, "calls": 0}
    real = transformer_module.get_feature_function

    def counting(*args, **kwargs):
        function = real(*args, **kwargs)

        def wrapper(batch):
            seen["images"] += int(batch.shape[0])
            seen["calls"] += 1
            return function(batch)

        return wrapper

    monkeypatch.setattr(transformer_module, "get_feature_function", counting)
    return seen


@pytest.fixture
def labelled(rng):
    X = rng.integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    y = np.repeat([0, 1, 2], 8)
    for c in range(3):
        X[y == c, c * 10 : c * 10 + 10] = 255
    return X, y


def cache_of(vgg, folder, X):
    """The fitted single-layer transformer's cache in ``folder``, and the keys of images ``X``."""
    (key,) = stored_keys(vgg, X[:1])
    return FeatureCache(folder, key, vgg.n_features_out_), image_keys(as_image_source(X))


def entries(folder):
    return sorted(p for p in folder.rglob("*.f32"))


def test_subsets_orders_repeats_and_supersets(tmp_path, counted, rng):
    X = rng.integers(0, 256, (13, 32, 32, 3), dtype=np.uint8)
    reference = small(None).fit(X).transform(X)
    counted["images"] = 0
    vgg = small(tmp_path).fit(X)
    idx = [5, 2, 9, 2, 5]
    first = vgg.transform(X[idx])
    # computed in other batches than the reference: equal within float32 rounding
    assert_features_close(first, reference[idx])
    np.testing.assert_array_equal(first[3:], first[[1, 0]])  # a repeat is the same computed row
    assert counted["images"] == 3 and (vgg.cache_hits_, vgg.cache_misses_) == (0, 5)
    order = rng.permutation(13)
    second = vgg.transform(X[order])
    assert_features_close(second, reference[order])
    # the three cached images come back as the very bytes first computed
    where = {int(i): k for k, i in enumerate(order)}
    np.testing.assert_array_equal(second[[where[5], where[2], where[9]]], first[:3])
    assert counted["images"] == 13  # only the 10 new ones, in one batched pass
    assert (vgg.cache_hits_, vgg.cache_misses_) == (3, 10)
    by_image = second[np.argsort(order)]
    np.testing.assert_array_equal(vgg.transform(np.concatenate([X, X])), np.concatenate([by_image] * 2))
    assert counted["images"] == 13 and vgg.cache_hits_ == 26
    assert len(entries(tmp_path)) == 13


def test_learning_curve_computes_each_image_once(tmp_path, counted, labelled):
    X, y = labelled
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    pipe = Pipeline([("vgg", small(tmp_path)), ("head", LogisticRegression(max_iter=300))])
    scores = learning_curve(pipe, X, y, train_sizes=[6, 9, 12, 16], cv=cv, shuffle=True, random_state=0)[2]
    assert np.isfinite(scores).all()  # 4 sizes x 3 folds, all fitted
    assert counted["images"] == 24


def test_temperature_search_computes_each_image_once(tmp_path, fake_network, counted, labelled):
    """The cache holds the logits: a grid over T never recomputes an image (the 224 px top faked)."""
    X, y = labelled
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    vgg = VGG16FeatureTransformer(weights=None, layer="predictions", random_state=0,
                                  batch_size=8, memory=tmp_path)  # fmt: skip
    pipe = Pipeline([("vgg", vgg), ("head", SoftmaxHeadClassifier(max_iter=5, random_state=0))])
    search = GridSearchCV(pipe, {"vgg__temperature": [0.5, 1.0, 1.5, 3.0]}, cv=cv)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the 5-epoch head
        search.fit(X, y)
    assert counted["images"] == 24  # 4 temperatures x 3 folds + refit: each image once
    assert len(search.cv_results_["mean_test_score"]) == 4


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_cache_returns_the_stored_bytes(tmp_path, rng, precision):
    X = rng.integers(0, 256, (11, 40, 30, 3), dtype=np.uint8)
    for kw in (dict(layer="block2_pool", pooling=None), dict(layer="block5_conv3", pooling="max")):
        kw["precision"] = precision
        plain = small(None, **kw).fit(X).transform(X)
        # the same batches twice: bit-identical, with or without the cache
        np.testing.assert_array_equal(small(None, **kw).fit(X).transform(X), plain)
        np.testing.assert_array_equal(small(tmp_path / "same", **kw).fit(X).transform(X), plain)
        cached = small(tmp_path / "mixed", **kw).fit(X)
        partial = cached.transform(X[::3])
        full = cached.transform(X)  # 4 hits, 7 computed in other batches than `plain`
        assert (cached.cache_hits_, cached.cache_misses_) == (4, 7)
        assert_features_close(full, plain, precision)
        np.testing.assert_array_equal(full[::3], partial)
        # every later read, by any estimator on that folder, is the stored bytes
        np.testing.assert_array_equal(small(tmp_path / "mixed", **kw).fit(X).transform(X), full)
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
    vgg = small(memory).fit(paths)
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
    assert small(joblib.Memory(None)).fit(X).transform(X).shape == (4, 512)


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_damaged_entries_are_recomputed(tmp_path, rng, damage):
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = small(tmp_path).fit(X)
    expected = vgg.transform(X)
    victim = entries(tmp_path)[1]
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


def test_changed_weights_never_serve_stale_features(tmp_path, notop_weights_files, rng):
    import h5py

    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "w.weights.h5"
    shutil.copy(notop_weights_files["keras3"], path)
    vgg = small(tmp_path / "cache", weights=path, layer="block1_conv1").fit(X)
    before = vgg.transform(X)
    with h5py.File(path, "r+") as f:
        f["layers/conv2d/vars/1"][...] += 1.0
    after = vgg.transform(X)
    assert vgg.cache_misses_ == 3
    assert not np.allclose(after, before)
    np.testing.assert_array_equal(after, small(None, weights=path, layer="block1_conv1").fit(X).transform(X))


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_unwritable_cache_degrades_with_a_warning(tmp_path, rng, monkeypatch, err):
    import sklvgg._cache as cache_module

    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    expected = small(None).fit(X).transform(X)

    def refuse(*args, **kwargs):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(cache_module.FeatureCache, "_create_temporary", refuse)
    vgg = small(tmp_path).fit(X)
    with pytest.warns(CacheWarning, match="cannot be written.*Results are unchanged"):
        np.testing.assert_array_equal(vgg.transform(X), expected)
    assert entries(tmp_path) == [] and not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path, rng):
    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    tmp_path.chmod(0o500)
    try:
        with pytest.warns(CacheWarning):
            small(tmp_path).fit(X).transform(X)
    finally:
        tmp_path.chmod(0o700)


def test_directory_deleted_during_use(tmp_path, rng):
    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    vgg = small(tmp_path / "c").fit(X)
    expected = vgg.transform(X[:2])
    shutil.rmtree(tmp_path / "c")
    out = vgg.transform(X)
    assert_features_close(out[:2], expected)  # recomputed, in a batch of 4 this time
    assert vgg.cache_misses_ == 4 and len(entries(tmp_path)) == 4
    np.testing.assert_array_equal(vgg.transform(X), out)


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
    pipe = Pipeline([("vgg", small(tmp_path)), ("clf", LogisticRegression(max_iter=300))])
    search = GridSearchCV(pipe, {"clf__C": [0.1, 1.0, 10.0]}, cv=3, n_jobs=2).fit(X, y)
    # the workers filled the shared folder; this process computes nothing now
    assert len(entries(tmp_path)) == 24
    before = counted["images"]
    search.best_estimator_[0].transform(X)
    assert counted["images"] == before
    again = small(tmp_path).fit(X)
    again.transform(X)
    assert again.cache_hits_ == 24


# ------------------------------------------------------------------ issue 15: keys that cannot go stale


def _bmp(path, img):
    """An uncompressed file: the same size whatever the pixels."""
    from PIL import Image

    Image.fromarray(img).save(path, format="BMP")
    return path


def _fresh(paths):
    """Features computed now, without any cache, from what the paths hold."""
    return small(None).fit(paths).transform(paths)


def test_file_rewritten_in_place_with_its_mtime_restored_is_a_miss(tmp_path, rng):
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    paths = [_bmp(tmp_path / f"{i}.bmp", x) for i, x in enumerate(X)]
    vgg = small(tmp_path / "cache").fit(paths)
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
    vgg = small(tmp_path / "cache").fit([a, b])
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
    vgg = small(tmp_path / "cache").fit([link])
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
    vgg = small(tmp_path / "cache").fit(paths)
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
    vgg = small(tmp_path / "cache").fit(inputs)
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


# ------------------------------------------------------------------ issue 15: entries bound to their key


def test_an_entry_copied_to_another_key_is_detected(tmp_path, rng):
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = small(tmp_path).fit(X)
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
    vgg = small(tmp_path).fit(X)
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


# ------------------------------------------------------------------ issue 15: failure modes


def test_memory_naming_a_regular_file_computes_with_one_warning(tmp_path, rng):
    X = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    plain = small(None).fit(X).transform(X)
    not_a_folder = tmp_path / "cache.txt"
    not_a_folder.write_text("a file, not a folder")
    vgg = small(not_a_folder).fit(X)
    with pytest.warns(CacheWarning, match="cannot be written.*Results are unchanged") as record:
        np.testing.assert_array_equal(vgg.transform(X), plain)
    assert len(record) == 1 and vgg.cache_misses_ == 4
    assert not_a_folder.read_text() == "a file, not a folder"


def test_directory_at_an_entry_path_degrades_with_one_warning(tmp_path, rng):
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = small(tmp_path).fit(X)
    expected = vgg.transform(X)
    victim = entries(tmp_path)[0]
    victim.unlink()
    victim.mkdir()
    (victim / "something").write_text("kept")
    with pytest.warns(CacheWarning, match="not a regular file but a directory") as record:
        got = vgg.transform(X)
    assert len(record) == 1 and vgg.cache_misses_ == 1
    assert_features_close(got, expected)
    assert (victim / "something").read_text() == "kept"  # nothing of the user's is deleted


@pytest.mark.parametrize("umask", [0o002, 0o022, 0o077])
def test_entries_are_created_with_the_umask_permissions(tmp_path, rng, umask):
    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    previous = os.umask(umask)
    try:
        small(tmp_path).fit(X).transform(X)
    finally:
        os.umask(previous)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in entries(tmp_path)}
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
            expected = small(shared).fit(X).transform(X)  # the first user computes
        finally:
            os.umask(previous)

        def second_user():
            vgg = small(shared).fit(X)

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


# ----------------------------------------------------------------------------- several layers (issue 17)


@pytest.fixture
def cuts(counted, monkeypatch):
    """``counted``, plus the layers each compiled cut was asked for, in order."""
    seen = dict(counted, layers=[])
    inner = transformer_module.get_feature_function

    def recording(source, layer, *args):
        function = inner(source, layer, *args)
        layers = (layer,) if isinstance(layer, str) else tuple(layer)

        def wrapper(batch):
            seen["layers"].append(layers)
            return function(batch)

        return wrapper

    monkeypatch.setattr(transformer_module, "get_feature_function", recording)
    seen["counted"] = counted
    return seen


def _computed(cuts):
    """Images and per-batch layer tuples computed since the last call, then reset."""
    images, layers = cuts["counted"]["images"], list(cuts["layers"])
    cuts["counted"]["images"], cuts["layers"][:] = 0, []
    return images, layers


def test_layers_are_cached_apart_subsets_and_supersets_reuse_them(tmp_path, cuts, rng):
    X = rng.integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    pair = small(tmp_path, layer=["block5_pool", "block3_pool"]).fit(X)
    first = pair.transform(X)
    assert _computed(cuts) == (8, [("block5_pool", "block3_pool")] * 2)  # one pass, batches of 5
    assert (pair.cache_hits_, pair.cache_misses_) == (0, 8)
    # one entry per image and layer, under the key a single-layer transformer uses
    for name in ("block5_pool", "block3_pool"):
        (key,) = stored_keys(small(None, layer=name), X[:1])
        folder = tmp_path / "sklvgg-features" / key
        assert len(entries(folder)) == 8
    _computed(cuts)  # forget the image stored_keys computed per layer

    # a subset, a reordering: nothing computed, the stored bytes back
    for layer, columns in (("block3_pool", slice(512, 768)), (["block3_pool", "block5_pool"], None)):
        vgg = small(tmp_path, layer=layer).fit(X)
        out = vgg.transform(X)
        assert _computed(cuts) == (0, []) and (vgg.cache_hits_, vgg.cache_misses_) == (8, 0)
        expected = first[:, columns] if columns else np.hstack([first[:, 512:], first[:, :512]])
        np.testing.assert_array_equal(out, expected)

    # a superset: only the missing layer, for every image, in one pass
    triple = small(tmp_path, layer=["block3_pool", "block4_pool", "block5_pool"]).fit(X)
    out = triple.transform(X)
    assert _computed(cuts) == (8, [("block4_pool",)] * 2)
    assert (triple.cache_hits_, triple.cache_misses_) == (0, 8)  # a hit needs every layer
    np.testing.assert_array_equal(out[:, triple.feature_slices_["block3_pool"]], first[:, 512:])
    np.testing.assert_array_equal(out[:, triple.feature_slices_["block5_pool"]], first[:, :512])
    reference = small(None, layer="block4_pool").fit(X).transform(X)
    _computed(cuts)
    assert_features_close(out[:, triple.feature_slices_["block4_pool"]], reference)
    np.testing.assert_array_equal(triple.transform(X), out)
    assert _computed(cuts) == (0, []) and triple.cache_hits_ == 8


def test_images_missing_different_layers_go_through_one_pass(tmp_path, cuts, rng):
    X = rng.integers(0, 256, (9, 32, 32, 3), dtype=np.uint8)
    stored4 = small(tmp_path, layer="block4_pool").fit(X).transform(X[:3])  # 0-2: block4_pool
    stored5 = small(tmp_path, layer="block5_pool").fit(X).transform(X[3:5])  # 3-4: block5_pool
    _computed(cuts)

    def stamps():
        return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in entries(tmp_path)}

    before = stamps()
    vgg = small(tmp_path, layer=["block5_pool", "block4_pool"]).fit(X)
    out = vgg.transform(X[[8, 0, 3, 0, 5]])  # 8, 5: neither; 0: block4_pool only; 3: block5_pool only
    assert _computed(cuts) == (4, [("block5_pool", "block4_pool")])  # 4 distinct images, one batch
    assert (vgg.cache_hits_, vgg.cache_misses_) == (0, 5)
    # the entries already there are kept and served as stored, not replaced by the new pass
    after = stamps()
    assert len(after) == len(before) + 6 and all(after[p] == stamp for p, stamp in before.items())
    np.testing.assert_array_equal(out[1, 512:], stored4[0])
    np.testing.assert_array_equal(out[2, :512], stored5[0])
    np.testing.assert_array_equal(out[3], out[1])
    separate = np.hstack([small(None, layer=name).fit(X).transform(X[[8, 0, 3, 0, 5]])
                          for name in ("block5_pool", "block4_pool")])  # fmt: skip
    assert_features_close(out, separate)
    _computed(cuts)
    vgg = small(tmp_path, layer=["block4_pool", "block5_pool"]).fit(X)
    again = vgg.transform(X)  # 0, 3, 5, 8 now have both layers; 1, 2, 4, 6, 7 neither
    assert _computed(cuts) == (5, [("block4_pool", "block5_pool")])
    assert (vgg.cache_hits_, vgg.cache_misses_) == (4, 5)
    np.testing.assert_array_equal(again[[8, 0, 3, 5], :512], out[[0, 1, 2, 4], 512:])


def test_grid_search_over_layer_lists_shares_the_per_layer_cache(tmp_path, labelled, cuts):
    X, y = labelled
    small(tmp_path, layer=["block3_pool", "block4_pool", "block5_pool"]).fit(X).transform(X)
    assert _computed(cuts)[0] == 24
    pipe = Pipeline([("vgg", small(tmp_path)), ("clf", LogisticRegression(max_iter=300))])
    grid = {"vgg__layer": [["block4_pool", "block5_pool"], ["block3_pool"], ("block5_pool", "block3_pool")]}
    search = GridSearchCV(pipe, grid, cv=StratifiedKFold(3)).fit(X, y)
    assert _computed(cuts) == (0, [])  # every candidate, fold and the refit: from the cache
    assert search.best_estimator_["vgg"].cache_hits_ == 24


# ------------------------------------------------------------------ the key: one declaration, every field


#: For each parameter that changes the features, another value of it (the base is ``small``'s).
_OTHER_VALUE = {
    "weights": "file",  # the notop weights file instead of random weights
    "layer": "block3_pool",
    "pooling": "max",
    "input_size": 48,
    "precision": "bfloat16",
    "preprocessing": "samplewise",
    "resize": "crop",
}


def test_every_feature_parameter_changes_the_key(tmp_path, rng, notop_weights_files):
    """Walk the declaration: a transformer differing in any one field never reads the others' entries."""
    assert set(_OTHER_VALUE) == set(FEATURE_PARAMS)
    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    base = small(tmp_path).fit(X)
    base.transform(X)
    assert base.cache_misses_ == 3
    for name, value in _OTHER_VALUE.items():
        value = str(notop_weights_files["keras3"]) if value == "file" else value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bfloat16 emulated on this CPU
            other = small(tmp_path, **{name: value}).fit(X)
            other.transform(X)
        assert (other.cache_hits_, other.cache_misses_) == (0, 3), name
        again = small(tmp_path, **{name: value}).fit(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            again.transform(X)
        assert again.cache_hits_ == 3, name  # ... and reads its own back


def test_environment_fields_of_the_key(tmp_path, rng, monkeypatch):
    import sklvgg._cache as cache_module

    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    small(tmp_path).fit(X).transform(X)
    for seam, value in (("_backend_version", lambda: "jax 0.0"), ("_pkg_version", lambda name: "0.0"),
                        ("FORMAT_VERSION", 99), ("_INPUT_PIPELINE", "another")):  # fmt: skip
        with monkeypatch.context() as patch:
            patch.setattr(cache_module, seam, value)
            vgg = small(tmp_path).fit(X)
            vgg.transform(X)
            assert vgg.cache_hits_ == 0, seam


@pytest.mark.parametrize("change", ["longer", "shorter", "header length", "payload", "empty"])
def test_entries_of_the_wrong_length_or_checksum_are_warned_and_recomputed(tmp_path, rng, change):
    import struct

    X = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vgg = small(tmp_path).fit(X)
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
        again = small(tmp_path).fit(X).transform(X)
    np.testing.assert_array_equal(again[[0, 2]], good[[0, 2]])
    assert_features_close(again[1:2], good[1:2])
    # rewritten whole: read back without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        np.testing.assert_array_equal(small(tmp_path).fit(X).transform(X), again)


def test_every_declared_parameter_invalidates_what_the_transformer_was_fitted_for(images):
    """Walk the declaration again: changing any declared field after fit is refused by transform."""
    from sklvgg._feature_spec import FEATURE_PARAMS, VIEW_PARAMS

    other = dict(_OTHER_VALUE, weights="hed-bsds500", flip=True, scales=[32, 48])
    assert set(other) == set(FEATURE_PARAMS) | set(VIEW_PARAMS)
    for name, value in other.items():
        vgg = small(None).fit(images)
        vgg.set_params(**{name: value})
        with pytest.raises(ValueError, match=f"changed since fit: {name} "):
            vgg.transform(images)


#: The parameters outside the declaration, each with another valid value: neither the cache key
#: nor what the transformer was fitted for depends on them (``random_state`` acts through the
#: identity of the random weights, ``temperature`` and ``temperature_on`` on the stored logits).
_UNDECLARED = {"batch_size": 2, "verbose": 1, "memory": "elsewhere", "n_jobs": 2, "max_image_pixels": 10**6}


def test_parameters_outside_the_declaration_change_neither_the_key_nor_the_fit(images, tmp_path):
    from sklvgg._feature_spec import FEATURE_PARAMS, VIEW_PARAMS

    declared = set(FEATURE_PARAMS) | set(VIEW_PARAMS)
    acting_elsewhere = {"random_state", "temperature", "temperature_on"}
    assert set(small(None).get_params()) == declared | set(_UNDECLARED) | acting_elsewhere
    base = small(None).fit(images)
    keys = stored_keys(base, images[:1])
    for name, value in _UNDECLARED.items():
        value = tmp_path / value if name == "memory" else value
        other = small(None).set_params(**{name: value}).fit(images)
        if name != "memory":  # stored_keys transforms into a memory of its own
            assert stored_keys(other, images[:1]) == keys, name
        assert other._fit_params == base._fit_params, name
        base.set_params(**{name: value})
        base._check_unchanged_since_fit()  # nothing to refit
    seeded = small(None, random_state=1).fit(images)
    assert stored_keys(seeded, images[:1]) != keys


# ----------------------------------------------------------------------------- the feature store alone


class _Network:
    """A stand-in ``compute``: image k (filled with k) gives k + 1000 * (block's place) in its columns."""

    widths = {"a": 2, "b": 3}

    def __init__(self, source):
        self.source, self.calls = source, []

    def __call__(self, rows, names, on_batch):
        self.calls.append((list(rows), names))
        out = np.hstack([self.block(rows, name) for name in names])
        for start in range(0, len(rows), 2):  # batches of two
            done = slice(start, min(start + 2, len(rows)))
            if on_batch is not None:
                on_batch(done, out[done])
        return out

    def block(self, rows, name):
        values = [float(self.source.item(row)[0, 0, 0]) + 1000 * "ab".index(name) for row in rows]
        return np.repeat(np.asarray(values, np.float32)[:, None], self.widths[name], axis=1)


def _blocks(names):
    return {name: ({"layer": name, "stand-in": True}, _Network.widths[name]) for name in names}


def _source(values):
    return as_image_source(np.stack([np.full((4, 4, 3), v, np.uint8) for v in values]))


def test_store_without_memory_computes_every_row_in_one_call():
    from sklvgg._cached_features import CachedFeatures

    source = _source([3, 1, 3])
    store, network = CachedFeatures(None, source), _Network(source)
    out = store.features(_blocks("ab"), network)
    assert network.calls == [([0, 1, 2], ("a", "b"))]
    expected = np.hstack([network.block(range(3), "a"), network.block(range(3), "b")])
    np.testing.assert_array_equal(out, expected)
    assert expected[0].tolist() == [3, 3, 1003, 1003, 1003]
    assert (store.rows, store.hits, store.misses, store.computed, store.folders) == (3, 0, 3, 3, [])


def test_store_computes_only_the_missing_images_and_blocks(tmp_path):
    from sklvgg._cached_features import CachedFeatures

    source = _source([5, 6, 5, 7])  # image 5 twice
    store, network = CachedFeatures(tmp_path, source), _Network(source)
    first = store.features(_blocks("a"), network)
    assert network.calls == [([0, 1, 3], ("a",))]  # each distinct image once, at its first row
    assert (store.hits, store.misses, store.computed) == (0, 4, 3)
    np.testing.assert_array_equal(first[:, 0], [5, 6, 5, 7])

    more = _source([7, 8, 5])  # 7 and 5 have block a; 8 has nothing
    store, network = CachedFeatures(tmp_path, more), _Network(more)
    out = store.features(_blocks("ba"), network)
    # every image misses b: one pass at b, plus a only where some image misses it
    assert network.calls == [([0, 1, 2], ("b", "a"))]
    np.testing.assert_array_equal(out[:, 0], [1007, 1008, 1005])
    np.testing.assert_array_equal(out[:, 3:], [[7, 7], [8, 8], [5, 5]])
    assert (store.hits, store.misses, store.computed, store.computed_blocks) == (0, 3, 3, ("b", "a"))

    store, network = CachedFeatures(tmp_path, more), _Network(more)
    again = store.features(_blocks("ab"), network)
    assert network.calls == [] and (store.rows, store.hits, store.misses, store.computed) == (3, 3, 0, 0)
    np.testing.assert_array_equal(again, np.hstack([out[:, 3:], out[:, :3]]))
    assert len(store.folders) == 2 and all(folder.is_dir() for folder in store.folders)


def test_store_counts_images_over_every_view_and_reports_them(tmp_path, capsys):
    from sklvgg import collect_transforms
    from sklvgg._cached_features import CachedFeatures

    source = _source([1, 2, 3])
    store, network = CachedFeatures(tmp_path, source), _Network(source)
    store.features(_blocks("a"), network)
    store.features(_blocks("a"), network)  # a second view with the same key: read back
    store.features(_blocks("b"), network)
    # images, each once: none was read back whole, each computed (for some view) once
    assert (store.rows, store.hits, store.misses, store.computed) == (3, 0, 3, 3)
    store.report(verbose=1, name="Tester")
    line = capsys.readouterr().out
    assert line.startswith("[Tester] cache ") and "0 hits, 3 misses (3 images computed at a, b)" in line
    with collect_transforms(progress=False) as tally:
        store.report(verbose=1, name="Tester")
    assert capsys.readouterr().out == ""
    assert (tally.rows, tally.rows_read_back, tally.images_computed) == (3, 0, 3)

    store = CachedFeatures(tmp_path, source)
    for names in ("a", "a", "b"):  # every view read back
        store.features(_blocks(names), _Network(source))
    assert (store.rows, store.hits, store.misses, store.computed) == (3, 3, 0, 0)
    store.report(verbose=1, name="Tester")
    assert capsys.readouterr().out.rstrip().endswith(": 3 hits, 0 misses (0 images computed)")

    store = CachedFeatures(None, source)
    for names in ("a", "b"):
        store.features(_blocks(names), _Network(source))
    assert (store.rows, store.hits, store.misses, store.computed) == (3, 0, 3, 3)


def test_a_random_top_seed_keys_only_the_cuts_that_use_the_top(tmp_path, fake_network, notop_weights_files):
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    weights = {"conv": str(notop_weights_files["keras3"]), "top": "random"}

    def run(layer, seed, **kw):
        vgg = VGG16FeatureTransformer(
            weights=weights, layer=layer, pooling="avg", random_state=seed, memory=tmp_path, **kw
        )
        vgg.fit_transform(images)
        return vgg.cache_hits_

    assert run("block5_pool", 0, input_size=32) == 0
    assert run("block5_pool", 1, input_size=32) == 3  # the top is unused: its seed changes nothing
    assert run("block5_pool", None, input_size=32) == 3
    assert run("fc2", 0) == 0
    assert run("fc2", 1) == 0  # another random top: other features
    assert run("fc2", 1) == 3
    assert run(["block5_pool", "fc2"], 2) == 0
    assert run("block5_pool", 3) == 3  # the list's conv block, written under the conv layers' key


def test_an_unwritable_cache_is_warned_about_once_at_the_callers_line(tmp_path, rng):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = rng.integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    not_a_folder = tmp_path / "cache.txt"
    not_a_folder.write_text("a file, not a folder")
    params = dict(layer=["block4_pool", "block5_pool"], scales=(32, 40), flip=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vgg = small(not_a_folder, **params).fit(X)
        vgg.transform(X)  # 2 layers x 4 views, transformed three times
        vgg.transform(X[:2])
        make_pipeline(small(not_a_folder, **params), StandardScaler()).fit(X)
    unwritable = [w for w in caught if "cannot be written" in str(w.message)]
    assert len(unwritable) == 1 and str(not_a_folder) in str(unwritable[0].message)
    assert unwritable[0].filename == __file__


@pytest.mark.slow  # a dense cut: 224 px
def test_two_random_top_seeds_sharing_one_cache_miss_each_other(images, tmp_path, notop_weights_files):
    """The same conv weights, random tops of two seeds, one cache folder: the second computes its own rows."""
    weights = {"conv": str(notop_weights_files["keras3"]), "top": "random"}
    X = images[:2]

    def fitted(seed):
        vgg = VGG16FeatureTransformer(weights=weights, layer="fc1", random_state=seed, batch_size=2,
                                      memory=str(tmp_path / "cache"))  # fmt: skip
        return vgg, vgg.fit(X).transform(X)

    first, seven = fitted(7)
    assert (first.cache_hits_, first.cache_misses_) == (0, 2)
    second, eight = fitted(8)
    assert (second.cache_hits_, second.cache_misses_) == (0, 2)  # computed, not read from seed 7's entries
    assert not np.allclose(seven, eight, rtol=1e-3, atol=1e-3)
    again, seven_again = fitted(7)
    assert (again.cache_hits_, again.cache_misses_) == (2, 0)  # each seed still finds its own
    np.testing.assert_array_equal(seven_again, seven)


def test_every_view_parameter_keys_its_own_entries(images, tmp_path):
    """Walk the views' declaration: another value of each, on one cache folder, computes its own rows."""
    from sklvgg._feature_spec import VIEW_PARAMS

    other = {"flip": True, "scales": [32, 48]}
    assert set(other) == set(VIEW_PARAMS)  # a new view parameter needs its value here
    memory = str(tmp_path / "cache")
    base = small(memory).fit(images)
    plain = base.transform(images)
    for name, value in other.items():
        changed = small(memory, **{name: value}).fit(images)
        features = changed.transform(images)
        assert changed.cache_misses_ > 0, name  # its view's entries are not the plain view's
        same_shape = features.shape == plain.shape
        assert not (same_shape and np.allclose(features, plain, rtol=1e-3, atol=1e-3)), name
        again = small(memory, **{name: value}).fit(images)
        np.testing.assert_array_equal(again.transform(images), features)
        assert again.cache_misses_ == 0, name  # and it finds them again

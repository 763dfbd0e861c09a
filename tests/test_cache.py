import errno
import multiprocessing
import os
import shutil

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, learning_curve
from sklearn.pipeline import Pipeline

import sklvgg._transformer as transformer_module
from sklvgg import CacheWarning, SoftmaxHeadClassifier, VGG16FeatureTransformer
from sklvgg._cache import FeatureCache


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


def entries(folder):
    return sorted(p for p in folder.rglob("*.f32"))


def test_subsets_orders_repeats_and_supersets(tmp_path, counted, rng):
    X = rng.integers(0, 256, (13, 32, 32, 3), dtype=np.uint8)
    reference = small(None).fit(X).transform(X)
    counted["images"] = 0
    vgg = small(tmp_path).fit(X)
    idx = [5, 2, 9, 2, 5]
    np.testing.assert_array_equal(vgg.transform(X[idx]), reference[idx])
    assert counted["images"] == 3 and (vgg.cache_hits_, vgg.cache_misses_) == (0, 5)
    order = rng.permutation(13)
    np.testing.assert_array_equal(vgg.transform(X[order]), reference[order])
    assert counted["images"] == 13  # only the 10 new ones, in one batched pass
    assert (vgg.cache_hits_, vgg.cache_misses_) == (3, 10)
    np.testing.assert_array_equal(vgg.transform(np.concatenate([X, X])), np.concatenate([reference] * 2))
    assert counted["images"] == 13 and vgg.cache_hits_ == 26
    assert len(entries(tmp_path)) == 13


def test_learning_curve_and_temperature_search_compute_each_image_once(tmp_path, counted, labelled):
    X, y = labelled
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    pipe = Pipeline([("vgg", small(tmp_path)), ("head", LogisticRegression(max_iter=300))])
    scores = learning_curve(pipe, X, y, train_sizes=[6, 9, 12, 16], cv=cv, shuffle=True, random_state=0)[2]
    assert np.isfinite(scores).all()  # 4 sizes x 3 folds, all fitted
    assert counted["images"] == 24

    counted["images"] = 0
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


def test_cached_results_are_bit_identical(tmp_path, rng):
    X = rng.integers(0, 256, (11, 40, 30, 3), dtype=np.uint8)
    for kw in (dict(layer="block2_pool", pooling=None), dict(layer="block5_conv3", pooling="max")):
        plain = small(None, **kw).fit(X).transform(X)
        cached = small(tmp_path, **kw).fit(X)
        cached.transform(X[::3])
        np.testing.assert_array_equal(cached.transform(X), plain)
        np.testing.assert_array_equal(small(tmp_path, **kw).fit(X).transform(X), plain)


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
        np.testing.assert_array_equal(vgg.transform(X), expected)
    assert vgg.cache_misses_ == 1
    # rewritten: read cleanly now
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        np.testing.assert_array_equal(vgg.transform(X), expected)
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

    monkeypatch.setattr(cache_module.tempfile, "mkstemp", refuse)
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
    np.testing.assert_array_equal(out[:2], expected)
    assert vgg.cache_misses_ == 4 and len(entries(tmp_path)) == 4


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
    cache = FeatureCache(tmp_path, "model", 64)
    for key in keys:
        np.testing.assert_array_equal(cache.read(key), np.full(64, int(key, 16) % 1000, np.float32))
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

"""``sklvgg._cached_features``: an image source's features through the on-disk cache.

Hits are read, misses computed (each distinct image once, in one pass through
the blocks some image misses) and written, and the counts reported; a layer
list is cached one layer at a time, so subsets and supersets reuse entries.
"""

import numpy as np
import pytest
from conftest import assert_features_close, cache_entries, cached_transformer, stored_keys
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, learning_curve
from sklearn.pipeline import Pipeline

import sklvgg._transformer as transformer_module
from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer
from sklvgg._images import as_image_source

# ----------------------------------------------------------- the cached features alone, on a stand-in network


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


# ----------------------------------------------------------------------------- each image computed once


def test_subsets_orders_repeats_and_supersets(tmp_path, counted, rng):
    X = rng.integers(0, 256, (13, 32, 32, 3), dtype=np.uint8)
    reference = cached_transformer(None).fit(X).transform(X)
    counted["images"] = 0
    vgg = cached_transformer(tmp_path).fit(X)
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
    assert len(cache_entries(tmp_path)) == 13


def test_learning_curve_computes_each_image_once(tmp_path, counted, labelled):
    X, y = labelled
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    pipe = Pipeline([("vgg", cached_transformer(tmp_path)), ("head", LogisticRegression(max_iter=300))])
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


# ----------------------------------------------------------------- several layers: cached one layer at a time


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
    pair = cached_transformer(tmp_path, layer=["block5_pool", "block3_pool"]).fit(X)
    first = pair.transform(X)
    assert _computed(cuts) == (8, [("block5_pool", "block3_pool")] * 2)  # one pass, batches of 5
    assert (pair.cache_hits_, pair.cache_misses_) == (0, 8)
    # one entry per image and layer, under the key a single-layer transformer uses
    for name in ("block5_pool", "block3_pool"):
        (key,) = stored_keys(cached_transformer(None, layer=name), X[:1])
        folder = tmp_path / "sklvgg-features" / key
        assert len(cache_entries(folder)) == 8
    _computed(cuts)  # forget the image stored_keys computed per layer

    # a subset, a reordering: nothing computed, the stored bytes back
    for layer, columns in (("block3_pool", slice(512, 768)), (["block3_pool", "block5_pool"], None)):
        vgg = cached_transformer(tmp_path, layer=layer).fit(X)
        out = vgg.transform(X)
        assert _computed(cuts) == (0, []) and (vgg.cache_hits_, vgg.cache_misses_) == (8, 0)
        expected = first[:, columns] if columns else np.hstack([first[:, 512:], first[:, :512]])
        np.testing.assert_array_equal(out, expected)

    # a superset: only the missing layer, for every image, in one pass
    triple = cached_transformer(tmp_path, layer=["block3_pool", "block4_pool", "block5_pool"]).fit(X)
    out = triple.transform(X)
    assert _computed(cuts) == (8, [("block4_pool",)] * 2)
    assert (triple.cache_hits_, triple.cache_misses_) == (0, 8)  # a hit needs every layer
    np.testing.assert_array_equal(out[:, triple.feature_slices_["block3_pool"]], first[:, 512:])
    np.testing.assert_array_equal(out[:, triple.feature_slices_["block5_pool"]], first[:, :512])
    reference = cached_transformer(None, layer="block4_pool").fit(X).transform(X)
    _computed(cuts)
    assert_features_close(out[:, triple.feature_slices_["block4_pool"]], reference)
    np.testing.assert_array_equal(triple.transform(X), out)
    assert _computed(cuts) == (0, []) and triple.cache_hits_ == 8


def test_images_missing_different_layers_go_through_one_pass(tmp_path, cuts, rng):
    X = rng.integers(0, 256, (9, 32, 32, 3), dtype=np.uint8)
    stored4 = cached_transformer(tmp_path, layer="block4_pool").fit(X).transform(X[:3])  # 0-2: block4_pool
    stored5 = cached_transformer(tmp_path, layer="block5_pool").fit(X).transform(X[3:5])  # 3-4: block5_pool
    _computed(cuts)

    def stamps():
        return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache_entries(tmp_path)}

    before = stamps()
    vgg = cached_transformer(tmp_path, layer=["block5_pool", "block4_pool"]).fit(X)
    out = vgg.transform(X[[8, 0, 3, 0, 5]])  # 8, 5: neither; 0: block4_pool only; 3: block5_pool only
    assert _computed(cuts) == (4, [("block5_pool", "block4_pool")])  # 4 distinct images, one batch
    assert (vgg.cache_hits_, vgg.cache_misses_) == (0, 5)
    # the entries already there are kept and served as stored, not replaced by the new pass
    after = stamps()
    assert len(after) == len(before) + 6 and all(after[p] == stamp for p, stamp in before.items())
    np.testing.assert_array_equal(out[1, 512:], stored4[0])
    np.testing.assert_array_equal(out[2, :512], stored5[0])
    np.testing.assert_array_equal(out[3], out[1])
    separate = np.hstack([cached_transformer(None, layer=name).fit(X).transform(X[[8, 0, 3, 0, 5]])
                          for name in ("block5_pool", "block4_pool")])  # fmt: skip
    assert_features_close(out, separate)
    _computed(cuts)
    vgg = cached_transformer(tmp_path, layer=["block4_pool", "block5_pool"]).fit(X)
    again = vgg.transform(X)  # 0, 3, 5, 8 now have both layers; 1, 2, 4, 6, 7 neither
    assert _computed(cuts) == (5, [("block4_pool", "block5_pool")])
    assert (vgg.cache_hits_, vgg.cache_misses_) == (4, 5)
    np.testing.assert_array_equal(again[[8, 0, 3, 5], :512], out[[0, 1, 2, 4], 512:])


def test_grid_search_over_layer_lists_shares_the_per_layer_cache(tmp_path, labelled, cuts):
    X, y = labelled
    cached_transformer(tmp_path, layer=["block3_pool", "block4_pool", "block5_pool"]).fit(X).transform(X)
    assert _computed(cuts)[0] == 24
    pipe = Pipeline([("vgg", cached_transformer(tmp_path)), ("clf", LogisticRegression(max_iter=300))])
    grid = {"vgg__layer": [["block4_pool", "block5_pool"], ["block3_pool"], ("block5_pool", "block3_pool")]}
    search = GridSearchCV(pipe, grid, cv=StratifiedKFold(3)).fit(X, y)
    assert _computed(cuts) == (0, [])  # every candidate, fold and the refit: from the cache
    assert search.best_estimator_["vgg"].cache_hits_ == 24

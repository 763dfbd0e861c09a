"""Tests of ``sklvgg._feature_spec``: what the declared parameters make of an image's columns."""

import warnings

import numpy as np
import pytest
from conftest import cached_transformer, small_transformer, stored_keys

from sklvgg import VGG16FeatureTransformer
from sklvgg._feature_spec import (
    FEATURE_PARAMS,
    block_slices,
    feature_blocks,
    feature_names,
    layer_width,
    views,
)


@pytest.mark.parametrize(("flip", "n_blocks"), [(False, 1), (True, 1), ("concat", 2)])
def test_feature_blocks_is_two_only_when_the_mirror_is_concatenated(flip, n_blocks):
    assert feature_blocks(flip) == n_blocks


def test_block_slices_follow_each_other_at_each_layers_width():
    slices = block_slices(["block1_pool", "block2_pool"], 32, "avg")
    assert slices == {"block1_pool": slice(0, 64), "block2_pool": slice(64, 192)}
    assert layer_width("block1_pool", 32, None) == 16 * 16 * 64


@pytest.mark.parametrize("flip", [False, True, "concat"])
def test_feature_names_one_block_per_view_layout(flip):
    slices = block_slices(["block1_pool"], 32, "avg")
    names = feature_names(slices, flip)
    plain = [f"block1_pool_{i}" for i in range(64)]
    if flip == "concat":
        assert list(names) == plain + [f"{name}_mirrored" for name in plain]
    else:
        assert list(names) == plain


@pytest.mark.parametrize("flip", [False, True, "concat"])
def test_fitted_width_matches_names_and_views(flip):
    vgg = VGG16FeatureTransformer(
        layer="block1_pool", weights=None, input_size=32, pooling="avg", flip=flip, scales=[32, 48]
    ).fit(np.zeros((1, 32, 32, 3), np.uint8))
    assert vgg.n_features_out_ == 64 * feature_blocks(flip)
    assert len(vgg.get_feature_names_out()) == vgg.n_features_out_
    mirrors = [False, True] if flip else [False]
    assert vgg.views_ == views(vgg) == [(size, m) for size in (32, 48) for m in mirrors]


def test_pooling_on_a_dense_layer_is_a_no_op(fake_network, images):
    """Features, width, the cache key and the "fitted for" record: pooling on ``fc2`` changes none."""
    pooled, plain = (VGG16FeatureTransformer(weights=None, layer="fc2", pooling=p, random_state=0).fit(images)
                     for p in ("avg", None))  # fmt: skip
    assert pooled.n_features_out_ == plain.n_features_out_ == 4096
    assert pooled._fit_params == plain._fit_params
    assert stored_keys(pooled, images[:1]) == stored_keys(plain, images[:1])
    np.testing.assert_array_equal(pooled.transform(images), plain.transform(images))
    # ... while on a list that mixes kinds, it pools the conv and pool layers
    mixed = VGG16FeatureTransformer(weights=None, layer=["block5_pool", "fc2"], pooling="max", random_state=0)
    assert mixed.fit(images).n_features_out_ == 512 + 4096


# ---------------------------------------------------------------------- the key: one declaration, every field


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
    base = cached_transformer(tmp_path).fit(X)
    base.transform(X)
    assert base.cache_misses_ == 3
    for name, value in _OTHER_VALUE.items():
        value = str(notop_weights_files["keras3"]) if value == "file" else value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bfloat16 emulated on this CPU
            other = cached_transformer(tmp_path, **{name: value}).fit(X)
            other.transform(X)
        assert (other.cache_hits_, other.cache_misses_) == (0, 3), name
        again = cached_transformer(tmp_path, **{name: value}).fit(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            again.transform(X)
        assert again.cache_hits_ == 3, name  # ... and reads its own back


def test_every_view_parameter_keys_its_own_entries(images, tmp_path):
    """Walk the views' declaration: another value of each, on one cache folder, computes its own rows."""
    from sklvgg._feature_spec import VIEW_PARAMS

    other = {"flip": True, "scales": [32, 48]}
    assert set(other) == set(VIEW_PARAMS)  # a new view parameter needs its value here
    memory = str(tmp_path / "cache")
    base = cached_transformer(memory).fit(images)
    plain = base.transform(images)
    for name, value in other.items():
        changed = cached_transformer(memory, **{name: value}).fit(images)
        features = changed.transform(images)
        assert changed.cache_misses_ > 0, name  # its view's entries are not the plain view's
        same_shape = features.shape == plain.shape
        assert not (same_shape and np.allclose(features, plain, rtol=1e-3, atol=1e-3)), name
        again = cached_transformer(memory, **{name: value}).fit(images)
        np.testing.assert_array_equal(again.transform(images), features)
        assert again.cache_misses_ == 0, name  # and it finds them again


def test_a_numpy_integer_input_size_keys_as_the_plain_int(tmp_path, rng):
    """A size from a NumPy grid (``np.int64``) goes into the cache key as the int it equals."""
    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    vgg = small_transformer(input_size=np.int64(32), memory=tmp_path / "c").fit(X)
    plain = small_transformer(memory=tmp_path / "c").fit(X)
    np.testing.assert_array_equal(vgg.transform(X), plain.transform(X))


# ------------------------------------------------------------------------ what the transformer was fitted for


def test_every_declared_parameter_invalidates_what_the_transformer_was_fitted_for(images):
    """Walk the declaration again: changing any declared field after fit is refused by transform."""
    from sklvgg._feature_spec import FEATURE_PARAMS, VIEW_PARAMS

    other = dict(_OTHER_VALUE, weights="hed-bsds500", flip=True, scales=[32, 48])
    assert set(other) == set(FEATURE_PARAMS) | set(VIEW_PARAMS)
    for name, value in other.items():
        vgg = cached_transformer(None).fit(images)
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
    assert set(cached_transformer(None).get_params()) == declared | set(_UNDECLARED) | acting_elsewhere
    base = cached_transformer(None).fit(images)
    keys = stored_keys(base, images[:1])
    for name, value in _UNDECLARED.items():
        value = tmp_path / value if name == "memory" else value
        other = cached_transformer(None).set_params(**{name: value}).fit(images)
        if name != "memory":  # stored_keys transforms into a memory of its own
            assert stored_keys(other, images[:1]) == keys, name
        assert other._fit_params == base._fit_params, name
        base.set_params(**{name: value})
        base._check_unchanged_since_fit()  # nothing to refit
    seeded = cached_transformer(None, random_state=1).fit(images)
    assert stored_keys(seeded, images[:1]) != keys

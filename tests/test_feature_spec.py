"""Tests of ``sklvgg._feature_spec``: what the declared parameters make of an image's columns."""

import numpy as np
import pytest
from conftest import stored_keys

from sklvgg import VGG16FeatureTransformer
from sklvgg._feature_spec import block_slices, feature_blocks, feature_names, layer_width, views


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

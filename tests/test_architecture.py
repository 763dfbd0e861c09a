"""``sklvgg._architecture``: VGG16 as data: output and kernel shapes, the cut rules, preprocessing."""

import numpy as np
import pytest

from sklvgg import LAYER_NAMES
from sklvgg._architecture import imagenet_class_names, kernel_shape, layer_output_shape


def test_layer_output_shapes_match_keras():
    import keras

    for size in (32, 64, 224):
        model = keras.applications.VGG16(weights=None, include_top=size == 224, input_shape=(size, size, 3))
        for layer in model.layers[1:]:
            assert layer_output_shape(layer.name, size) == tuple(layer.output.shape[1:]), (
                layer.name,
                size,
            )
            # the weight shapes the files are checked against, from the same table
            expected = tuple(layer.kernel.shape) if layer.weights else None
            assert kernel_shape(layer.name, size) == expected, (layer.name, size)
    assert LAYER_NAMES[0] == "block1_conv1" and LAYER_NAMES[-1] == "predictions"


def test_pooling_acts_on_conv_and_pool_layers_only():
    """The one rule of ``pooling``: the library's no-op on flatten and dense layers, and its reason."""
    from sklvgg._architecture import TOP_LAYERS, ignored_pooling, layer_pooling

    for layer in LAYER_NAMES:
        for pooling in (None, "avg", "max"):
            assert layer_pooling(layer, pooling) == (None if layer in TOP_LAYERS else pooling), layer
    assert ignored_pooling(["fc2"], "avg") == (
        "pooling='avg' has no effect on layer 'fc2': its output is a vector, with no spatial maps to pool"
    )
    assert ignored_pooling(["fc1", "flatten"], "max").startswith(
        "pooling='max' has no effect on the layers ['fc1', 'flatten']: their outputs are vectors"
    )
    assert ignored_pooling(["block5_pool", "fc2"], "avg") is None  # it acts on block5_pool
    assert ignored_pooling(["fc2"], None) is None


def test_only_the_top_needs_its_input_size():
    from sklvgg._architecture import TOP_INPUT_SIZE, needs_top_input_size

    assert TOP_INPUT_SIZE == 224
    assert needs_top_input_size(["block5_pool", "fc2", "flatten"], 112) == ["fc2", "flatten"]
    assert needs_top_input_size(["block5_pool", "fc2", "predictions"], 224) == []
    assert needs_top_input_size(["block1_conv1", "block5_pool"], 48) == []
    assert needs_top_input_size(["fc1", "block5_pool"], None) == ["fc1"]  # any size but 224 (scales)


def test_imagenet_class_names():
    names = imagenet_class_names()
    assert len(names) == 1000 == len(set(names))
    assert names[:3] == ["tench", "goldfish", "great_white_shark"]
    assert names[-1] == "toilet_tissue"


@pytest.mark.parametrize("preprocessing", ["caffe", "none"])
def test_preprocess_ops_is_keras_preprocess_input(rng, preprocessing):
    """The one "caffe" step every backend runs: exactly ``keras.applications.vgg16.preprocess_input``."""
    from keras.applications.vgg16 import preprocess_input

    from sklvgg._architecture import preprocess_ops

    x = rng.integers(0, 256, (2, 8, 8, 3)).astype(np.float32)
    expected = preprocess_input(x.copy()) if preprocessing == "caffe" else x
    np.testing.assert_array_equal(np.asarray(preprocess_ops(x, preprocessing)), expected)


def test_top_layer_names_the_layer_that_needs_the_top():
    from sklvgg._architecture import LAYER_NAMES, SPATIAL_LAYERS, TOP_LAYERS, top_layer

    assert TOP_LAYERS == ("flatten", "fc1", "fc2", "predictions")
    assert set(TOP_LAYERS) | set(SPATIAL_LAYERS) == set(LAYER_NAMES)
    assert top_layer(["block5_pool", "fc2", "fc1"]) == "fc2"
    assert top_layer(["block1_conv1", "block5_pool"]) is None

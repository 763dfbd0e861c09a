import numpy as np
import pytest

from sklvgg.summary import format_summary, model_summary, temperature_model_summary


def test_the_reports_temperature_model_for_256_classes():
    summary = temperature_model_summary(256)
    assert (summary["total"], summary["trainable"], summary["frozen"]) == (4_353_256, 256_256, 4_097_000)
    text = format_summary(summary)
    assert "Total parameters: 4,353,256; trainable: 256,256; frozen: 4,097,000." in text
    assert "| predictions | Dense (frozen, softmax) | (None, 1000) | 4,097,000 | no |" in text


@pytest.mark.parametrize("layer, pooling", [("block5_pool", None), ("block4_pool", "avg"), ("fc2", None)])
def test_counts_equal_keras(layer, pooling):
    import keras

    size = 224 if layer == "fc2" else 64
    full = keras.applications.VGG16(weights=None, include_top=layer == "fc2", input_shape=(size, size, 3))
    cut = keras.Model(full.inputs, full.get_layer(layer).output)
    summary = model_summary(layer, 10, input_size=size, pooling=pooling)
    width = int(np.prod(cut.output.shape[1:])) if pooling is None else cut.output.shape[-1]
    assert summary["frozen"] == cut.count_params()
    assert summary["trainable"] == width * 10 + 10
    shapes = {r["layer"]: r["output_shape"] for r in summary["rows"]}
    for keras_layer in cut.layers[1:]:
        assert shapes[keras_layer.name] == tuple(keras_layer.output.shape[1:]), keras_layer.name

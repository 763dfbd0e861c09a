"""``sklvgg._weights``: a random fully connected top under given conv layers; which weights hold a top."""

import numpy as np
import pytest

from sklvgg import VGG16FeatureTransformer
from sklvgg._architecture import TOP_LAYERS, random_top_arrays
from sklvgg._weights import has_top, resolve_weights


def test_random_top_under_given_conv_layers(notop_weights_files):
    path = str(notop_weights_files["keras3"])
    source = resolve_weights({"conv": path, "top": "random"}, "predictions", seed=7)
    conv = resolve_weights(path, "block5_pool", seed=7)
    assert source.key == f"{conv.key}+random-top:7"
    parts = source.parts(include_top=True)
    assert path in parts["conv layers"] and parts["fully connected top"].startswith("random (seed 7")
    bias = source.predictions_bias()
    assert bias.shape == (1000,) and bias.std() > 0.5  # non-zero: the two temperature forms differ
    np.testing.assert_array_equal(
        bias, resolve_weights({"conv": None, "top": "random"}, "fc2", 7).predictions_bias()
    )
    assert not np.array_equal(
        bias, resolve_weights({"conv": path, "top": "random"}, "fc2", 8).predictions_bias()
    )
    arrays = source.arrays(include_top=False)
    assert not set(arrays) & set(TOP_LAYERS)
    top = source.arrays(include_top=True)  # the network is built with the bias the fc2 form is told of
    np.testing.assert_array_equal(top["predictions"][1], bias)
    assert top["fc1"][0].shape == (25088, 4096)
    del top
    for layer, (kernel, b) in conv.arrays(include_top=False).items():  # the file's conv layers, untouched
        np.testing.assert_array_equal(arrays[layer][0], kernel)
        np.testing.assert_array_equal(arrays[layer][1], b)


def test_random_top_arrays_keep_the_bias_they_report():
    top = random_top_arrays(3)
    assert [top[name][0].shape for name in ("fc1", "fc2", "predictions")] == [(25088, 4096), (4096, 4096),
                                                                                (4096, 1000)]  # fmt: skip
    assert not top["fc1"][1].any() and not top["fc2"][1].any()
    np.testing.assert_array_equal(top["predictions"][1], resolve_weights(
        {"conv": None, "top": "random"}, "predictions", 3).predictions_bias())  # fmt: skip


@pytest.mark.parametrize(
    "weights",
    [{"conv": None}, {"conv": None, "top": "imagenet"},
     {"conv": {"conv": None, "top": "random"}, "top": "random"}, {"conv": None, "top": "random", "extra": 1}],
)  # fmt: skip
def test_a_malformed_weights_dict_is_refused(weights):
    with pytest.raises(ValueError, match="dict 'weights' parameter .* must be"):
        resolve_weights(weights, "predictions", 0)
    with pytest.raises(ValueError, match="must be"):
        VGG16FeatureTransformer(weights=weights, layer="predictions").fit(np.zeros((1, 32, 32, 3)))


def test_has_top(notop_weights_files, tmp_path):
    assert has_top("imagenet") and not has_top("hed-bsds500") and not has_top(None)
    assert not has_top(str(notop_weights_files["keras3"]))
    assert not has_top(notop_weights_files["legacy"])
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(ValueError):
        has_top(junk)


def test_the_two_temperature_forms_differ_under_a_random_top(fake_network, rng):
    """A zero bias (weights=None): fc2 / T and logits / T coincide; a random top's bias tells them apart."""
    X = rng.integers(0, 256, (4, 32, 32, 3)).astype(np.uint8)

    def forms(weights):
        common = dict(weights=weights, layer="predictions", input_size=224, temperature=2.0, random_state=0)
        return [
            VGG16FeatureTransformer(temperature_on=on, **common).fit_transform(X) for on in ("fc2", "logits")
        ]

    fc2, logits = forms(None)
    np.testing.assert_allclose(fc2, logits, rtol=1e-6)
    fc2, logits = forms({"conv": None, "top": "random"})
    assert np.abs(fc2 - logits).max() > 1e-3
    np.testing.assert_allclose(fc2.sum(axis=1), 1, rtol=1e-5)

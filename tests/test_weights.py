"""``sklvgg._weights``: a random fully connected top under given conv layers; which weights hold a top."""

import os

import numpy as np
import pytest
from conftest import stored_keys

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


def _rewrite_kernel(path, factor):
    """Multiply block1_conv1's kernel by ``factor`` in place (same size), putting the mtime back."""
    import os

    import h5py

    before = os.stat(path)
    with h5py.File(path, "r+") as f:
        kernels = []
        f.visititems(lambda name, obj: kernels.append(name) if name.endswith("vars/0") else None)
        first = next(name for name in kernels if f[name].shape == (3, 3, 3, 64))
        f[first][...] = f[first][...] * factor
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_a_weights_file_rewritten_with_its_mtime_put_back_is_a_new_network(notop_weights_files, tmp_path):
    """The weights' identity is as strict as an image's: ``cp -p`` / ``os.utime`` do not hide a rewrite."""
    import shutil

    original = tmp_path / "original.weights.h5"
    shutil.copyfile(notop_weights_files["keras3"], original)
    path = tmp_path / "vgg16.weights.h5"
    shutil.copyfile(original, path)
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    params = dict(layer="block5_pool", pooling="avg", input_size=32, memory=tmp_path / "cache")
    vgg = VGG16FeatureTransformer(weights=str(path), **params).fit(images)
    before = vgg.transform(images)
    old_keys = os.listdir(tmp_path / "cache" / "sklvgg-features")

    _rewrite_kernel(path, 3.0)
    rewritten = tmp_path / "rewritten.weights.h5"
    shutil.copyfile(path, rewritten)
    expected = VGG16FeatureTransformer(weights=str(rewritten), **{**params, "memory": None})
    expected = expected.fit_transform(images)
    assert not np.allclose(expected, before, rtol=1e-3)
    # the fitted transformer, and a new one, use the new weights under a new key
    after = vgg.transform(images)
    np.testing.assert_allclose(after, expected, rtol=1e-4, atol=1e-5)
    new_keys = set(os.listdir(tmp_path / "cache" / "sklvgg-features")) - set(old_keys)
    assert len(old_keys) == len(new_keys) == 1
    fresh = VGG16FeatureTransformer(weights=str(path), **params).fit(images)
    np.testing.assert_allclose(fresh.transform(images), expected, rtol=1e-4, atol=1e-5)
    # another user of the untouched original file (same content, same key) reads its own features
    other = VGG16FeatureTransformer(weights=str(original), **params).fit(images)
    assert stored_keys(other, images) == old_keys
    np.testing.assert_allclose(other.transform(images), before, rtol=1e-4, atol=1e-5)
    assert other.cache_hits_ == 2


def test_a_weights_file_that_changes_while_read_is_not_built_under_its_old_key(notop_weights_files, tmp_path):
    import shutil

    from sklvgg.exceptions import WeightsUnavailableError

    path = tmp_path / "vgg16.weights.h5"
    shutil.copyfile(notop_weights_files["keras3"], path)
    source = resolve_weights(str(path), "block5_pool", seed=0)
    _rewrite_kernel(path, 2.0)
    with pytest.raises(WeightsUnavailableError, match="changed while it was being read"):
        source.arrays(include_top=False)
    assert source.refreshed().key != source.key
    assert source.refreshed().arrays(include_top=False)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda k: k.__setitem__((0, 0, 0, 0), np.nan), r"kernel of layer 'block2_conv1' holds a non-finite"),
        (lambda k: k.__setitem__((1, 2, 3, 4), np.inf), r"non-finite value \(inf\) at index \(1, 2, 3, 4\)"),
        (lambda k: k.reshape(-1).__setitem__(slice(5000, 7047), 0), r"1024 or more consecutive exact zeros"),
        (lambda k: k.fill(0), "is all zeros"),
    ],
    ids=["nan", "inf", "zeroed-run", "all-zeros"],
)  # fmt: skip
def test_weights_with_non_finite_values_or_a_zeroed_region_are_refused(
    notop_weights_files, tmp_path, damage, message
):
    import shutil

    import h5py

    path = tmp_path / "damaged.weights.h5"
    shutil.copyfile(notop_weights_files["legacy"], path)
    with h5py.File(path, "r+") as f:
        group = f["block2_conv1"]
        name = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]][0]
        kernel = group[name][...]
        damage(kernel)
        group[name][...] = kernel
    images = np.zeros((1, 32, 32, 3), np.uint8)
    vgg = VGG16FeatureTransformer(weights=str(path), layer="block5_pool", pooling="avg", input_size=32)
    with pytest.raises(ValueError, match=message) as info:
        vgg.fit_transform(images)
    assert str(path) in str(info.value) and "block2_conv1" in str(info.value)


def test_a_small_kernel_all_zeros_is_refused():
    from sklvgg._weights import check_weight_values

    with pytest.raises(ValueError, match="'block1_conv1' is all zeros"):
        check_weight_values("w.h5", "block1_conv1", np.zeros((3, 3, 3, 64), np.float32), np.ones(64))
    check_weight_values("w.h5", "block1_conv1", np.ones((3, 3, 3, 64), np.float32), np.zeros(64))

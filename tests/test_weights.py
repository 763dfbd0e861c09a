"""``sklvgg._weights``: where weights come from.

Weights files (read, checked, followed when they change), hed-bsds500, ImageNet, and a random
fully connected top under given conv layers; which weights hold a top.
"""

import os
import shutil

import numpy as np
import pytest
from conftest import small_transformer, stored_keys

from sklvgg import VGG16FeatureTransformer, WeightsUnavailableError, _weights
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


# ---------------------------------------------------- weights files: read, checked, followed when they change


def _keras_features(model, images, layer):
    import keras
    from keras.applications.vgg16 import preprocess_input

    cut = keras.Model(model.inputs, model.get_layer(layer).output)
    out = cut(preprocess_input(images.astype(np.float32)), training=False)
    return np.asarray(out).reshape(len(images), -1)


@pytest.mark.parametrize("fmt", ["keras3", "legacy"])
@pytest.mark.parametrize("layer", ["block1_conv2", "block3_pool", "block5_pool"])
def test_weights_path_reproduces_the_saved_model(notop_model, notop_weights_files, images, fmt, layer):
    vgg = VGG16FeatureTransformer(weights=notop_weights_files[fmt], layer=layer, input_size=32)
    ours = vgg.fit_transform(images)
    expected = _keras_features(notop_model, images, layer)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert vgg.weights_id_.startswith("file:")


@pytest.mark.slow
def test_weights_path_with_top_reproduces_logits(tmp_path, rng):
    """Full size: a legacy file with the fully connected top, as Keras publishes."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(2)
    model = keras.applications.VGG16(weights=None, classifier_activation=None)
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    images = rng.integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    logits = _keras_features(model, images, "predictions")
    for layer in ("fc2", "predictions"):
        got = VGG16FeatureTransformer(weights=path, layer=layer).fit_transform(images)
        expected = _keras_features(model, images, layer)
        if layer == "predictions":
            e = np.exp(logits - logits.max(1, keepdims=True))
            expected = e / e.sum(1, keepdims=True)
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-5)
    # The same file serves conv layers, without building the top.
    conv = VGG16FeatureTransformer(weights=path, layer="block5_pool", pooling="avg")
    np.testing.assert_allclose(
        conv.fit_transform(images),
        _keras_features(model, images, "block5_pool").reshape(3, 7, 7, 512).mean((1, 2)),
        rtol=1e-3,
        atol=1e-5,
    )


def test_conv_only_file_refuses_top_layers(notop_weights_files, rng):
    images = rng.integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    vgg = VGG16FeatureTransformer(weights=notop_weights_files["keras3"], layer="fc2")
    with pytest.raises(ValueError, match="holds only VGG16's conv layers"):
        vgg.fit(images)  # at fit, not in the middle of transform


def test_weights_file_that_is_not_vgg16(tmp_path, images):
    bad = tmp_path / "notes.h5"
    bad.write_text("not hdf5")
    with pytest.raises(ValueError, match="notes.h5.*not an HDF5"):
        VGG16FeatureTransformer(weights=bad, layer="block1_conv1", input_size=32).fit_transform(images)
    with pytest.raises(ValueError, match="no such file"):
        VGG16FeatureTransformer(weights=tmp_path / "absent.h5").fit(images)


def test_changed_weights_file_changes_its_id(notop_weights_files, tmp_path, images):
    import shutil

    path = tmp_path / "w.weights.h5"
    shutil.copy(notop_weights_files["keras3"], path)
    kw = dict(weights=path, layer="block1_conv1", pooling="avg", input_size=32)
    first = VGG16FeatureTransformer(**kw).fit(images)
    before = first.transform(images)
    import h5py

    with h5py.File(path, "r+") as f:
        f["layers/conv2d/vars/1"][...] += 1.0  # block1_conv1 bias
    second = VGG16FeatureTransformer(**kw).fit(images)
    assert second.weights_id_ != first.weights_id_
    assert not np.allclose(second.transform(images), before)
    # a transformer fitted before the change follows the file too
    np.testing.assert_array_equal(first.transform(images), second.transform(images))


def _not_vgg16(path):
    import h5py

    with h5py.File(path, "w") as f:  # a valid HDF5 weights file of another network
        f.create_dataset("layers/dense/vars/0", data=np.zeros((10, 3), np.float32))
        f.create_dataset("layers/dense/vars/1", data=np.zeros(3, np.float32))


def _truncated(path, source):
    path.write_bytes(source.read_bytes()[: source.stat().st_size // 2])


def _renamed_layers(path, source):
    """A legacy file whose layer names do not match the order of their shapes."""
    import h5py

    shutil.copy(source, path)
    with h5py.File(path, "r+") as f:
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        i, j = names.index("block3_conv2"), names.index("block3_conv3")
        names[i], names[j] = names[j], names[i]
        f.attrs["layer_names"] = [n.encode() for n in names]
        f.move("block3_conv2", "tmp")
        f.move("block3_conv3", "block3_conv2")
        f.move("tmp", "block3_conv3")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p, src: p.write_bytes(b""), "not an HDF5"),
        (_truncated, "not an HDF5.*truncated"),
        (lambda p, src: _not_vgg16(p), "does not hold VGG16's layers"),
        (_renamed_layers, "not hold VGG16's layers in order.*block3_conv3"),
    ],
    ids=["empty", "truncated", "another-network", "layers-out-of-order"],
)
def test_unusable_weights_files_fail_at_fit(tmp_path, notop_weights_files, images, make, match):
    path = tmp_path / "weights.h5"
    make(path, notop_weights_files["legacy"])
    vgg = VGG16FeatureTransformer(weights=path, layer="block1_conv1", input_size=32)
    with pytest.raises(ValueError, match=match) as info:
        vgg.fit(images)
    assert str(path) in str(info.value)


def test_a_layer_is_read_alone(notop_weights_files, notop_model):
    """The predictions bias (1,000 numbers) never loads the 553 MB of the rest: only named layers load."""
    from sklvgg._weights import WeightSource, _weight_pairs

    pairs = _weight_pairs(notop_weights_files["legacy"], load={"block1_conv1"})
    kernel, bias = pairs["block1_conv1"]
    np.testing.assert_array_equal(kernel, notop_model.get_layer("block1_conv1").get_weights()[0])
    assert pairs["block5_conv3"] == [(3, 3, 512, 512), (512,)]  # shapes only
    with pytest.raises(ValueError, match="holds only VGG16's conv layers"):
        WeightSource("file", notop_weights_files["keras3"]).predictions_bias()
    np.testing.assert_array_equal(WeightSource("random", seed=0).predictions_bias(), np.zeros(1000))


def test_relative_weights_path_is_the_file_chosen_at_fit(tmp_path, notop_weights_files, rng, monkeypatch):
    import shutil

    from sklvgg import WeightsUnavailableError

    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir(), elsewhere.mkdir()
    shutil.copy(notop_weights_files["keras3"], here / "w.weights.h5")
    monkeypatch.chdir(here)
    vgg = small_transformer(weights="w.weights.h5").fit(X)
    before = vgg.transform(X)
    # another network under the same relative name in the new working folder
    import keras

    keras.utils.set_random_seed(9)
    keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)).save_weights(
        elsewhere / "w.weights.h5"
    )
    monkeypatch.chdir(elsewhere)
    np.testing.assert_array_equal(vgg.transform(X), before)  # still the file chosen at fit
    monkeypatch.chdir(tmp_path)  # a folder without any such file
    np.testing.assert_array_equal(vgg.transform(X), before)
    (here / "w.weights.h5").unlink()
    with pytest.raises(WeightsUnavailableError, match="chosen at fit is missing since fit"):
        vgg.transform(X)


def test_a_symlinked_weights_file_repointed_is_followed(tmp_path, rng, notop_weights_files):
    """A symlinked weights file, re-pointed after fit: followed, as a file rewritten in place."""
    import shutil

    import keras

    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    a, b = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    shutil.copy(notop_weights_files["keras3"], a)
    keras.utils.set_random_seed(4)
    keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3)).save_weights(b)
    link = tmp_path / "best.weights.h5"
    link.symlink_to(a)
    linked = small_transformer(weights=str(link)).fit(X)
    first = linked.transform(X)
    link.unlink()
    link.symlink_to(b)
    np.testing.assert_array_equal(linked.transform(X), small_transformer(weights=str(b)).fit(X).transform(X))
    assert not np.allclose(linked.transform(X), first)


# ----------------------------------------------------------------------------- hed-bsds500 and ImageNet


def test_hed_weights_load_and_differ_from_random(images):
    kw = dict(layer="block5_pool", pooling="avg", input_size=32)
    hed = VGG16FeatureTransformer(weights="hed-bsds500", **kw).fit(images)
    rand = VGG16FeatureTransformer(weights=None, random_state=0, **kw).fit(images)
    assert hed.weights_id_.startswith("hed-bsds500:")
    a, b = hed.transform(images), rand.transform(images)
    assert a.shape == b.shape == (6, 512)
    assert not np.allclose(a, b)
    # the kernels are the bundled ones, not an initialisation
    kernel, bias = hed.get_layer_weights("block1_conv1")
    assert kernel.shape == (3, 3, 3, 64) and bias.shape == (64,)
    assert hed.get_layer_weights("block5_conv3")[0].shape == (3, 3, 512, 512)
    assert np.abs(kernel).max() > 0.3  # Glorot limit here is ~0.27


@pytest.mark.parametrize("layer", ["fc1", "fc2", "flatten", "predictions"])
def test_hed_weights_refuse_top_layers(layer, rng):
    images = rng.integers(0, 256, (1, 224, 224, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="hed-bsds500.*13 conv layers"):
        VGG16FeatureTransformer(weights="hed-bsds500", layer=layer).fit(images)


def test_imagenet_without_network_gives_a_clear_error(monkeypatch, tmp_path, images):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    unreachable = {
        top: ("http://127.0.0.1:9/" + url.rsplit("/", 1)[1], md5)
        for top, (url, md5) in _weights.IMAGENET_FILES.items()
    }
    monkeypatch.setattr(_weights, "IMAGENET_FILES", unreachable)
    vgg = VGG16FeatureTransformer(weights="imagenet", layer="block5_pool", input_size=32)
    with pytest.raises(WeightsUnavailableError) as info:
        vgg.fit(images)
    message = str(info.value)
    expected = tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert str(expected) in message
    assert "weights='/path/to/" in message
    assert not list((tmp_path / "models").glob("*.part"))


def test_imagenet_conv_file_holds_the_published_network(imagenet_conv_weights, shared_photos):
    """Published values (the file's README: Keras' and MatConvNet's releases), then Keras' own loader."""
    import keras
    from keras.applications.vgg16 import preprocess_input

    from sklvgg._images import read_image, resize_rgb

    photo = sorted((shared_photos / "airplanes").glob("*.jpg"))[0]
    vgg = VGG16FeatureTransformer(weights=imagenet_conv_weights, layer=["block1_pool", "block5_pool"],
                                  pooling="avg", input_size=64).fit([photo])  # fmt: skip
    kernel, bias = vgg.get_layer_weights("block1_conv1")
    np.testing.assert_allclose(bias[:3], [0.73429835, 0.09340367, 0.06775674], rtol=1e-6)
    np.testing.assert_allclose(kernel[0, 0, 0, :3], [0.42947057, 0.11727387, 0.03401296], rtol=1e-6)
    # the first filter's weights on the B, G and R input channels, in that order
    np.testing.assert_allclose(kernel[1, 1, :, 0], [0.03868078, 0.04063221, 0.05020237], rtol=1e-6)
    block5_bias = vgg.get_layer_weights("block5_conv3")[1]
    np.testing.assert_allclose(block5_bias[:3], [0.18837857, -0.50036746, 0.5422234], rtol=1e-6)
    # the features: Keras' own VGG16 loading the same file, on a real photo
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=(64, 64, 3))
    model.load_weights(imagenet_conv_weights)
    x = preprocess_input(resize_rgb(read_image(photo), 64)[None])
    for layer in ("block1_pool", "block5_pool"):
        cut = keras.Model(model.inputs, model.get_layer(layer).output)
        expected = np.asarray(cut(x)).mean(axis=(1, 2))
        got = vgg.transform([photo])[:, vgg.feature_slices_[layer]]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # the file lacks the fully connected top: one clear error for a cut that needs it
    for layer in ("fc1", "fc2", "predictions", "flatten"):
        with pytest.raises(ValueError, match=r"holds only VGG16's conv layers.*fully connected top"):
            VGG16FeatureTransformer(weights=imagenet_conv_weights, layer=layer).fit([photo])


# ------------------------------------------ a random top's seed: in the key of the cuts that use the top only


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

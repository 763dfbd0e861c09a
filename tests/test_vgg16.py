import shutil

import numpy as np
import pytest

from sklvgg import LAYER_NAMES, VGG16FeatureTransformer, WeightsUnavailableError, _weights
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


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu sse2 avx avx2 fma", False),
        ("fpu avx2 avx512f avx512_vnni", False),
        ("fpu avx2 avx512f avx512_bf16", True),
        ("fpu avx2 amx_bf16 amx_tile", True),
    ],
)
def test_native_bfloat16_read_from_cpu_flags(tmp_path, flags, expected):
    from sklvgg._backends import has_native_bfloat16

    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n")
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU counts as native bfloat16 whatever the CPU")
    assert has_native_bfloat16(info) is expected
    assert has_native_bfloat16(tmp_path / "absent") is None


def test_emulated_bfloat16_warns_once(monkeypatch, images):
    import warnings

    import sklvgg._backends as backends_module

    monkeypatch.setattr(backends_module, "_BFLOAT16_WARNED", False)
    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: False)
    kw = dict(weights=None, layer="block1_pool", pooling="avg", input_size=32, random_state=0)
    with pytest.warns(UserWarning, match="no faster than float32"):
        VGG16FeatureTransformer(precision="bfloat16", **kw).fit_transform(images)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VGG16FeatureTransformer(precision="bfloat16", **kw).fit_transform(images)  # once only
        VGG16FeatureTransformer(precision="float32", **kw).fit_transform(images)
    monkeypatch.setattr(backends_module, "_BFLOAT16_WARNED", False)
    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        VGG16FeatureTransformer(precision="bfloat16", **kw).fit_transform(images)


# ----------------------------------------------------------------------- the ImageNet conv file (issue 25)


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


def test_model_store_is_bounded_and_drops_the_cuts_of_a_dropped_backbone(monkeypatch):
    """At most MAX_CACHED_MODELS backbones and MAX_CACHED_CUTS cuts; each built once while kept."""
    from types import SimpleNamespace

    from sklvgg import _network_store
    from sklvgg._store import BoundedStore

    built = []
    monkeypatch.setattr(
        _network_store, "build_vgg16", lambda arrays, top, size, precision: built.append(size) or size
    )
    monkeypatch.setattr(_network_store, "compile_cut", lambda backbone, layer, *args: (backbone, layer))
    monkeypatch.setattr(_network_store, "_CUTS", BoundedStore(maxsize=3))
    monkeypatch.setattr(
        _network_store, "_BACKBONES", BoundedStore(maxsize=2, on_evict=_network_store._forget_cuts)
    )
    source = SimpleNamespace(key="fake", arrays=lambda include_top: {})

    def cut(layer, size):
        return _network_store.get_feature_function(source, layer, size, "float32", "avg")

    def kept():  # (input size, layer) of the cuts kept, least recently used first
        return [(backbone_key[2], cut_key[0]) for backbone_key, cut_key in _network_store._CUTS.keys()]

    assert cut("block1_pool", 32) == (32, "block1_pool")
    assert cut(["block1_pool"], 32) is cut("block1_pool", 32)  # one layer: the same cut
    cut("block2_pool", 32)
    cut("block2_pool", 64)
    assert built == [32, 64] and len(_network_store._CUTS) == 3
    cut("block3_pool", 32)  # a fourth cut pushes out the least recently used one
    assert kept() == [(32, "block2_pool"), (64, "block2_pool"), (32, "block3_pool")]
    cut("block1_pool", 96)  # a third backbone pushes out the one of size 64, and its cut with it
    assert built == [32, 64, 96] and len(_network_store._BACKBONES) == 2
    assert kept() == [(32, "block2_pool"), (32, "block3_pool"), (96, "block1_pool")]

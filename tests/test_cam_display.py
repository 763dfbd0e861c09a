"""ClassActivationDisplay: the maps on the object, drawn over their images with class and probability."""

import matplotlib as mpl
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer
from sklvgg.inspection import class_activation_maps
from sklvgg.plotting import ClassActivationDisplay

mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    y = np.array(["cat", "dog", "owl"] * 2)
    vgg = VGG16FeatureTransformer(
        weights=None, random_state=0, layer="block5_conv3", pooling="avg", input_size=32
    )
    pipe = make_pipeline(vgg, SoftmaxHeadClassifier(max_iter=20, random_state=0)).fit(X, y)
    return pipe, X, y


def test_display_from_estimator_holds_the_maps_and_titles_class_and_probability(fitted):
    pipe, X, y = fitted
    display = ClassActivationDisplay.from_estimator(pipe, X[:4], y=y[:4])
    np.testing.assert_allclose(display.maps, class_activation_maps(pipe, X[:4]))
    np.testing.assert_array_equal(display.labels, pipe.predict(X[:4]))
    proba = pipe.predict_proba(X[:4])
    expected = proba[np.arange(4), np.searchsorted(pipe.classes_, display.labels)]
    np.testing.assert_allclose(display.probabilities, expected, rtol=1e-4)
    assert display.images.shape == (4, 32, 32, 3) and display.method == "cam"
    assert display.axes_.shape == (4,) and len(display.overlays_) == 4
    for i, ax in enumerate(display.axes_):
        title = ax.get_title()
        assert title.startswith(f"{display.labels[i]} ({expected[i]:.0%})")
        assert ("true: " in title) == (display.labels[i] != y[i])
        np.testing.assert_allclose(display.overlays_[i].get_array(), display.maps[i])
    plt.close("all")


def test_display_plots_on_given_axes_and_a_chosen_class(fitted):
    pipe, X, _ = fitted
    fig, axes = plt.subplots(1, 2)
    display = ClassActivationDisplay.from_estimator(pipe, X[:2], target="owl", ax=axes, method="grad-cam")
    assert display.figure_ is fig and list(display.axes_) == list(axes)
    assert list(display.labels) == ["owl", "owl"] and display.method == "grad-cam"
    assert display.maps.min() >= 0
    with pytest.raises(ValueError, match="draws 2 axes; ax holds 1"):
        display.plot(ax=axes[:1])
    plt.close("all")


def test_display_without_predict_proba_and_bad_shapes(fitted):
    pipe, X, y = fitted
    svc = make_pipeline(pipe[0], LinearSVC()).fit(X, y)
    display = ClassActivationDisplay.from_estimator(svc, X[:2])
    assert display.probabilities is None and display.axes_[0].get_title() == str(display.labels[0])
    with pytest.raises(ValueError, match="labels must hold one entry per map"):
        ClassActivationDisplay(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8)), ["a"]).plot()
    with pytest.raises(ValueError, match="probabilities must hold one entry per map"):
        ClassActivationDisplay(np.zeros((2, 8, 8, 3)), np.zeros((2, 8, 8)), ["a", "b"], [0.5]).plot()
    with pytest.raises(ValueError, match="must agree"):
        ClassActivationDisplay(np.zeros((2, 8, 8, 3)), np.zeros((2, 4, 4)), ["a", "b"]).plot()
    binary = make_pipeline(pipe[0], LogisticRegression()).fit(X[:4], [0, 1, 0, 1])
    d = ClassActivationDisplay.from_estimator(binary, X[:3], target=0)
    assert list(d.labels) == [0, 0, 0]
    plt.close("all")

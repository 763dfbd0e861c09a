import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer
from sklvgg.plotting import (
    plot_activation_maps,
    plot_conv_filters,
    plot_learning_curve_per_class,
    plot_temperature_sweep,
    plot_training_curves,
)

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402


def test_training_curves(rng):
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] > 0).astype(int)
    head = SoftmaxHeadClassifier(max_iter=12, n_iter_no_change=20, random_state=0)
    head.fit(X[:80], y[:80], X_val=X[80:], y_val=y[80:])
    fig = plot_training_curves(head, title="t")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert [len(line.get_xdata()) for line in fig.axes[0].lines] == [12, 12]
    with pytest.raises(ValueError, match="SoftmaxHeadClassifier"):
        plot_training_curves(object())


def test_learning_curve_and_reference():
    fig = plot_learning_curve_per_class(
        [10, 20, 40], [[0.2, 0.3], [0.4, 0.5], [0.6, 0.6]], 10,
        reference={"study": {1: 0.1, 2: 0.2, 4: 0.5}},
    )  # fmt: skip
    ax = fig.axes[0]
    assert list(ax.get_xticks()) == [1, 2, 4]
    assert any(line.get_label() == "study" for line in ax.lines)


def test_temperature_sweep(rng):
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int)
    search = GridSearchCV(SoftmaxHeadClassifier(max_iter=5), {"alpha": [0.1, 1.0, 10.0]}, cv=2)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    fig = plot_temperature_sweep(search, param="alpha", note="random weights")
    assert "random weights" in [t.get_text() for t in fig.axes[0].texts]


def test_filters_and_activation_maps(rng):
    img = rng.integers(0, 256, (1, 40, 40, 3), dtype=np.uint8)
    vgg = VGG16FeatureTransformer(weights="hed-bsds500", layer="block5_pool", input_size=32).fit(img)
    fig = plot_conv_filters(vgg)
    assert sum(ax.images != [] for ax in fig.axes) == 64
    maps = vgg.activation_maps(img, layer="block5_conv3")
    assert maps.shape == (1, 2, 2, 512)
    first = vgg.activation_maps(img, layer="block1_conv1")
    assert first.shape == (1, 32, 32, 64)
    fig = plot_activation_maps(vgg, img, layer="block1_conv1")
    assert sum(ax.images != [] for ax in fig.axes) == 64
    np.testing.assert_allclose(fig.axes[5].images[0].get_array(), first[0, ..., 5])
    with pytest.raises(ValueError, match="conv or pool layer"):
        vgg.activation_maps(img, layer="fc2")


def test_all_512_maps_as_one_image(rng):
    from sklvgg.plotting import draw_reference, plot_curves_by

    img = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    vgg = VGG16FeatureTransformer(weights=None, layer="block5_conv3", input_size=32, random_state=0).fit(img)
    fig = plot_activation_maps(vgg, img, layer="block5_conv3")
    (ax,) = fig.axes  # 512 tiles: one mosaic, not 512 axes
    assert "512 activation maps" in fig._suptitle.get_text()
    mosaic = ax.images[0].get_array()
    assert mosaic.shape == (23 * 3 - 1, 23 * 3 - 1)  # 23 x 23 tiles of 2 x 2, 1 pixel apart
    fig = plot_conv_filters(vgg, layer="block5_conv3")
    assert len(fig.axes) == 1 and "512 filters" in fig._suptitle.get_text()
    fig = plot_curves_by({1.0: [0.1, 0.2], 1.49: [0.2, 0.3]}, legend_title="T")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["T = 1", "T = 1.49"]
    draw_reference(fig.axes[0], y=0.45, label="report: ~45%", comparable=False)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[-1] == "report: ~45%\nnot comparable with this run"
    import matplotlib.pyplot as plt

    plt.close("all")

"""The study's figures as functions returning a Figure; the curves are drawn by the Displays."""

import numpy as np

from ._base import _figure
from ._displays import (
    CurvesBySettingDisplay,
    ImagesPerClassDisplay,
    TemperatureSweepDisplay,
    TrainingCurvesDisplay,
)


def plot_training_curves(estimator, *, title=None):
    """Training and validation loss and accuracy against epochs.

    Parameters
    ----------
    estimator : SoftmaxHeadClassifier or Pipeline
        Fitted; the validation curves are drawn when it has them.
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
        Two axes: loss (left) and accuracy (right).

    See Also
    --------
    TrainingCurvesDisplay : One quantity per axes, against epochs or iterations.
    """
    return TrainingCurvesDisplay.from_estimator(estimator, title=title).figure_


def plot_learning_curve_per_class(
    train_sizes, test_scores, n_classes, *, train_scores=None, reference=None, comparable=True,
    label="sklvgg", title=None,
):  # fmt: skip
    """Accuracy against training images per class, from ``learning_curve``.

    Parameters
    ----------
    train_sizes : array-like of shape (n_sizes,)
        Absolute training sizes, as returned by ``learning_curve``.
    test_scores : array-like of shape (n_sizes, n_folds)
    n_classes : int
        To turn sizes into images per class.
    train_scores : array-like of shape (n_sizes, n_folds), optional
    reference : dict, optional
        Published points to draw beside, ``{images_per_class: accuracy}`` or
        ``{label: {images_per_class: accuracy}}`` (see
        :func:`sklvgg.experiments.study_reference`).
    comparable : bool, default=True
        Whether ``reference`` was measured in this run's setting; if not, it
        is drawn in grey and marked "not comparable with this run".
    label : str, default="sklvgg"
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    See Also
    --------
    ImagesPerClassDisplay : The same on any axes, with a linear axis as an option.
    """
    display = ImagesPerClassDisplay.from_learning_curve(
        train_sizes, train_scores, test_scores, n_classes=n_classes, reference=reference,
        comparable=comparable, name=label, title=title,
    )  # fmt: skip
    return display.figure_


def plot_temperature_sweep(search, *, param="vgg__temperature", final_scores=None, title=None, note=None):
    """Maximum and final validation accuracy against the softmax temperature.

    Parameters
    ----------
    search : fitted GridSearchCV
        Over ``param``; its mean test scores are the final accuracies.
    param : str, default="vgg__temperature"
    final_scores : dict, optional
        ``{T: (max_val_accuracy, final_val_accuracy)}`` from the heads'
        validation curves; when given, both are drawn. Otherwise the search's
        mean test score is drawn as the final accuracy.
    title : str, optional
    note : str, optional
        Text drawn across the axes (e.g. that the weights are random).

    Returns
    -------
    fig : matplotlib.figure.Figure

    See Also
    --------
    TemperatureSweepDisplay : One quantity per axes, a baseline beside.
    """
    display = TemperatureSweepDisplay.from_search(
        search, param=param, final_scores=final_scores, note=note, title=title
    )
    return display.figure_


def plot_curves_by(curves, *, xlabel="epoch", ylabel="validation accuracy", legend_title=None, title=None):
    """One curve per setting against the epochs, e.g. validation accuracy per temperature.

    Parameters
    ----------
    curves : dict
        ``{setting: values}``, one value per epoch (``validation_accuracy_curve_``
        of a head fitted at that setting); drawn in the order of the keys.
    xlabel, ylabel : str
    legend_title : str, optional
        E.g. ``"T"``: the legend reads ``T = 1.49``.
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure

    See Also
    --------
    CurvesBySettingDisplay : The same on any axes.
    """
    display = CurvesBySettingDisplay(curves, setting_name=legend_title, x_label=xlabel, y_label=ylabel)
    return display.plot(title=title).figure_


def _tile_grid(n):
    cols = int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def _mosaic(tiles, pad=1):
    """One image of ``tiles`` (n, h, w[, 3]), each scaled to [0, 1], on a grid; NaN between."""
    n, h, w = tiles.shape[:3]
    rows, cols = _tile_grid(n)
    shape = (rows * (h + pad) - pad, cols * (w + pad) - pad) + tiles.shape[3:]
    mosaic = np.full(shape, np.nan)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        tile = np.asarray(tile, dtype=float)
        mosaic[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = (tile - tile.min()) / (
            np.ptp(tile) or 1.0
        )
    return mosaic


def _draw_tiles(tiles, *, mosaic, title, cmap, tile_inches):
    """Tiles on a grid of axes (``mosaic=False``) or as one image (faster for hundreds)."""
    n = len(tiles)
    rows, cols = _tile_grid(n)
    if mosaic:
        side = min(12.0, max(4.0, cols * tile_inches * 0.5))
        fig = _figure(figsize=(side, side * rows / cols + 0.5), layout="constrained")
        ax = fig.subplots()
        image = _mosaic(tiles)
        if image.ndim == 3:  # RGB: NaN gaps drawn white
            image = np.nan_to_num(image, nan=1.0)
        ax.imshow(image, cmap=cmap, interpolation="nearest")
        ax.set_axis_off()
    else:
        fig = _figure(figsize=(cols * tile_inches, rows * tile_inches), layout="constrained")
        axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
        for i, ax in enumerate(axes):
            ax.set_axis_off()
            if i < n:
                tile = np.asarray(tiles[i], dtype=float)
                if tile.ndim == 3:
                    tile = (tile - tile.min()) / (np.ptp(tile) or 1.0)
                ax.imshow(tile, interpolation="nearest", cmap=None if tile.ndim == 3 else cmap)
    fig.suptitle(title)
    return fig


def plot_conv_filters(transformer, *, layer="block1_conv1", mosaic=None, title=None):
    """The filters of a conv layer as tiles (first layer: 64 RGB tiles of 3 x 3).

    Parameters
    ----------
    transformer : fitted VGG16FeatureTransformer
        Its weights are used.
    layer : str, default="block1_conv1"
        For deeper layers the kernels are averaged over input channels and
        drawn in grey (512 tiles for ``block5_conv3``).
    mosaic : bool, optional
        Draw the tiles as one image instead of one axes each. Default: when
        there are more than 64 (hundreds of axes are slow to draw).
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    kernel = transformer.get_layer_weights(layer)[0]  # (3, 3, in, out)
    n = kernel.shape[-1]
    k = np.moveaxis(kernel, -1, 0)  # (out, 3, 3, in)
    tiles = k[..., ::-1] if k.shape[-1] == 3 else k.mean(axis=-1)  # BGR -> RGB
    return _draw_tiles(
        tiles, mosaic=n > 64 if mosaic is None else mosaic, cmap="gray", tile_inches=0.9,
        title=title or f"{layer}: {n} filters ({kernel.shape[0]} x {kernel.shape[1]})",
    )  # fmt: skip


def plot_activation_maps(transformer, image, *, layer="block1_conv1", max_maps=None, mosaic=None, title=None):
    """Activation maps of a conv layer for one image.

    Parameters
    ----------
    transformer : fitted VGG16FeatureTransformer
        Its weights, ``input_size`` and ``precision`` are used.
    image : array-like or path-like
        One image, in any form ``transform`` accepts for one row.
    layer : str, default="block1_conv1"
        Any conv or pool layer (64 maps of 224 x 224 for ``block1_conv1``,
        512 of 14 x 14 for ``block5_conv3``).
    max_maps : int, optional
        Draw only the first ``max_maps`` channels (default: all of them).
    mosaic : bool, optional
        Draw the maps as one image, each scaled to its own range, instead of
        one axes each. Default: when there are more than 64.
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    maps = transformer.activation_maps(image, layer=layer)[0]  # (H, W, C)
    n = maps.shape[-1] if max_maps is None else min(max_maps, maps.shape[-1])
    return _draw_tiles(
        np.moveaxis(maps[..., :n], -1, 0), mosaic=n > 64 if mosaic is None else mosaic, cmap="viridis",
        tile_inches=1.0, title=title or f"{layer}: {n} activation maps of {maps.shape[0]} x {maps.shape[1]}",
    )  # fmt: skip

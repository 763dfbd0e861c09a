"""Plotting helpers. matplotlib is imported inside each function."""

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support


def _figure(**kwargs):
    """A new pyplot figure (so notebooks and sphinx-gallery show it); never shown here."""
    check_matplotlib_support("sklvgg.plotting")
    import matplotlib.pyplot as plt

    return plt.figure(**kwargs)


def _head_of(estimator):
    """The fitted SoftmaxHeadClassifier of an estimator or of a pipeline's last step."""
    head = estimator[-1] if hasattr(estimator, "steps") else estimator
    if not hasattr(head, "loss_curve_"):
        raise ValueError(
            f"Expected a fitted SoftmaxHeadClassifier (or a pipeline ending in one); got "
            f"{type(head).__name__} without loss_curve_."
        )
    return head


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
    """
    head = _head_of(estimator)
    fig = _figure(figsize=(10, 4.5), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = np.arange(1, len(head.loss_curve_) + 1)
    ax_loss.plot(epochs, head.loss_curve_, label="training")
    ax_acc.plot(epochs, head.accuracy_curve_, label="training")
    if hasattr(head, "validation_loss_curve_"):
        ax_loss.plot(epochs, head.validation_loss_curve_, label="validation")
        ax_acc.plot(epochs, head.validation_accuracy_curve_, label="validation")
    if hasattr(head, "best_epoch_"):
        for ax in (ax_loss, ax_acc):
            ax.axvline(head.best_epoch_, color="grey", ls=":", label="best epoch")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0, 1.02))
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


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
    """
    per_class = np.asarray(train_sizes, dtype=float) / n_classes
    test_scores = np.atleast_2d(np.asarray(test_scores, dtype=float))
    fig = _figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    mean, std = test_scores.mean(axis=1), test_scores.std(axis=1)
    ax.errorbar(per_class, mean, yerr=std, marker="o", capsize=3, label=f"{label} (validation)")
    if train_scores is not None:
        ax.plot(
            per_class, np.asarray(train_scores).mean(axis=1), "o--", alpha=0.6, label=f"{label} (training)"
        )
    series = {}
    if reference:
        series = reference if isinstance(next(iter(reference.values())), dict) else {"reference": reference}
    for name, points in series.items():
        xs = sorted(points)
        if comparable:
            ax.plot(xs, [points[x] for x in xs], "s:", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(per_class, [f"{v:g}" for v in per_class])
    ax.set(xlabel="training images per class", ylabel="accuracy", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    if not comparable:
        for name, points in series.items():
            draw_reference(ax, label=name, points=points, comparable=False)
    ax.set_title(title or "Accuracy vs. training images per class")
    return fig


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
    """
    results = search.cv_results_
    temps = np.asarray(results[f"param_{param}"], dtype=float)
    order = np.argsort(temps)
    fig = _figure(figsize=(7, 5), layout="constrained")
    ax = fig.subplots()
    if final_scores:
        ts = sorted(final_scores)
        ax.plot(ts, [final_scores[t][0] for t in ts], "o-", label="maximum validation accuracy")
        ax.plot(ts, [final_scores[t][1] for t in ts], "s--", label="final validation accuracy")
    else:
        mean = np.asarray(results["mean_test_score"])[order]
        std = np.asarray(results["std_test_score"])[order]
        ax.errorbar(
            temps[order], mean, yerr=std, marker="o", capsize=3, label="final validation accuracy (CV mean)"
        )
    best = float(search.best_params_[param])
    ax.axvline(best, color="grey", ls=":", label=f"best T = {best:g}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(temps[order], [f"{t:g}" for t in temps[order]], rotation=90, fontsize="small")
    ax.minorticks_off()
    ax.set(xlabel="temperature T", ylabel="accuracy", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "Accuracy vs. softmax temperature")
    if note:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center",
                color="red", alpha=0.6, fontsize=11, wrap=True)  # fmt: skip
    return fig


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
    """
    import matplotlib as mpl

    fig = _figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    colours = mpl.colormaps["viridis"](np.linspace(0, 0.95, max(len(curves), 1)))
    for colour, (key, values) in zip(colours, curves.items()):
        label = f"{legend_title} = {key:g}" if legend_title and isinstance(key, float) else str(key)
        ax.plot(np.arange(1, len(values) + 1), values, "o-", ms=3, color=colour, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2 if len(curves) > 8 else 1)
    ax.set_title(title or f"{ylabel.capitalize()} per {xlabel}")
    return fig


def draw_reference(ax, *, label, y=None, x=None, points=None, comparable=True):
    """Draw a published value on ``ax``: a horizontal line, a vertical line or points.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    label : str
        What the value is and where it comes from (e.g. ``"report: ~65% (Fig. 2)"``).
    y : float, optional
        A horizontal line at ``y``.
    x : float, optional
        A vertical line at ``x``.
    points : dict, optional
        ``{x: y}`` drawn as squares.
    comparable : bool, default=True
        Whether the value was measured in the run's setting. If not, it is drawn
        in grey and the label says "not comparable with this run".

    Returns
    -------
    ax : matplotlib.axes.Axes
    """
    colour = "C3" if comparable else "0.6"
    if not comparable:
        label = f"{label}\nnot comparable with this run"
    if y is not None:
        ax.axhline(y, color=colour, ls="--", lw=1.2, alpha=0.9, label=label)
    elif x is not None:
        ax.axvline(x, color=colour, ls="--", lw=1.2, alpha=0.9, label=label)
    else:
        xs = sorted(points)
        ax.plot(xs, [points[k] for k in xs], "s", color=colour, alpha=0.9, label=label)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    return ax


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

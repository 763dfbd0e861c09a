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
    fig = _figure(figsize=(10, 4), layout="constrained")
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
    train_sizes, test_scores, n_classes, *, train_scores=None, reference=None, label="sklvgg", title=None
):
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
        ``{label: {images_per_class: accuracy}}``.
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
    ax.errorbar(per_class, mean, yerr=std, marker="o", capsize=3, label=f"{label} (test)")
    if train_scores is not None:
        ax.plot(per_class, np.asarray(train_scores).mean(axis=1), "o--", alpha=0.6, label=f"{label} (train)")
    if reference:
        series = reference if isinstance(next(iter(reference.values())), dict) else {"reference": reference}
        for name, points in series.items():
            xs = sorted(points)
            ax.plot(xs, [points[x] for x in xs], "s:", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(per_class, [f"{v:g}" for v in per_class])
    ax.set(xlabel="training images per class", ylabel="accuracy", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
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
    fig = _figure(figsize=(6, 4), layout="constrained")
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
    ax.set(xlabel="temperature T", ylabel="accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "Accuracy vs. softmax temperature")
    if note:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center",
                color="red", alpha=0.6, fontsize=11, wrap=True)  # fmt: skip
    return fig


def _tile_grid(n):
    cols = int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def plot_conv_filters(transformer, *, layer="block1_conv1", title=None):
    """The filters of a conv layer as RGB tiles (first layer: 64 tiles of 3 x 3).

    Parameters
    ----------
    transformer : fitted VGG16FeatureTransformer
        Its weights are used.
    layer : str, default="block1_conv1"
        For deeper layers the kernels are averaged over input channels and
        drawn in grey.
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    kernel = transformer.get_layer_weights(layer)[0]  # (3, 3, in, out)
    n = kernel.shape[-1]
    rows, cols = _tile_grid(n)
    fig = _figure(figsize=(cols * 0.9, rows * 0.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i >= n:
            continue
        k = kernel[..., i]
        tile = k[..., ::-1] if k.shape[-1] == 3 else k.mean(axis=-1)  # BGR -> RGB
        tile = (tile - tile.min()) / (np.ptp(tile) or 1.0)
        ax.imshow(tile, interpolation="nearest", cmap=None if tile.ndim == 3 else "gray")
    fig.suptitle(title or f"{layer}: {n} filters ({kernel.shape[0]} x {kernel.shape[1]})")
    return fig


def plot_activation_maps(transformer, image, *, layer="block1_conv1", max_maps=None, title=None):
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
        Draw only the first ``max_maps`` channels.
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    maps = transformer.activation_maps(image, layer=layer)[0]  # (H, W, C)
    n = maps.shape[-1] if max_maps is None else min(max_maps, maps.shape[-1])
    rows, cols = _tile_grid(n)
    fig = _figure(figsize=(cols * 1.0, rows * 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i < n:
            ax.imshow(maps[..., i], cmap="viridis", interpolation="nearest")
    fig.suptitle(title or f"{layer}: {n} activation maps of {maps.shape[0]} x {maps.shape[1]}")
    return fig

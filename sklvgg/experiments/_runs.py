"""The study's experiments, each a few lines of scikit-learn, returning plain results.

Every function takes a dataset :class:`~sklearn.utils.Bunch` (file paths and
labels) and a pipeline from :func:`~sklvgg.experiments.make_pipeline`, runs the
experiment with plain ``Pipeline``, ``learning_curve`` and ``GridSearchCV``, and
returns a dict of numbers and lists (JSON-ready; ``tables`` holds CSV rows). None
of them draws: the figures are :func:`~sklvgg.experiments.experiment_figures`'.
"""

import os

import numpy as np
import sklearn
from sklearn.model_selection import GridSearchCV, learning_curve

from ..model_selection import PerClassSplit
from ._protocol import (
    HOLDOUT_FRACTION,
    expected_warnings_ignored,
    first_classes,
    split_summary,
    train_test_indices,
)
from ._report import REPORT_TEMPERATURES
from ._setting import cut_pooling


def _best_of(temperatures, scores):
    """The temperature of the highest score, NaN scores skipped (a failed fit's); None if all are NaN."""
    scores = np.asarray(scores, dtype=float)
    return None if np.isnan(scores).all() else temperatures[int(np.nanargmax(scores))]


def _curves(head):
    """The per-epoch numbers of a fitted head, for JSON and CSV."""
    curves = {
        "epochs": int(head.n_iter_),
        "iterations_per_epoch": int(head.n_batches_per_epoch_),  # of the last fit
        "batches_per_epoch": [int(v) for v in head.n_batches_curve_],  # of each epoch of the curves
        "loss_curve": [float(v) for v in head.loss_curve_],
        "accuracy_curve": [float(v) for v in head.accuracy_curve_],
    }
    if hasattr(head, "best_epoch_"):
        curves["best_epoch"] = int(head.best_epoch_)
    if hasattr(head, "validation_loss_curve_"):
        curves["validation_loss_curve"] = [float(v) for v in head.validation_loss_curve_]
        curves["validation_accuracy_curve"] = [float(v) for v in head.validation_accuracy_curve_]
    return curves


def _curve_rows(curves, **columns):
    """One CSV row per epoch."""
    names = ["loss_curve", "accuracy_curve", "validation_loss_curve", "validation_accuracy_curve"]
    present = [n for n in names if n in curves]
    return [
        {**columns, "epoch": e + 1, **{n.removesuffix("_curve"): curves[n][e] for n in present}}
        for e in range(len(curves["loss_curve"]))
    ]


def training_and_learning_curves(
    data, pipe, *, n_train=16, n_test=4, per_class=(1, 2, 4, 8, 16), reference=None, comparable=True,
    split="per-class", holdout=HOLDOUT_FRACTION, random_state=0,
):  # fmt: skip
    """Training curves, and accuracy vs. images per class (the report's Figures 1-3, 6-11).

    Parameters
    ----------
    data : Bunch
        From a :mod:`sklvgg.datasets` loader.
    pipe : Pipeline
        From :func:`make_pipeline`.
    n_train, n_test : int, default=16, 4
        With ``split="per-class"``, the report's Caltech-256 protocol: the
        first 16 images of each class train, the next 4 validate.
    per_class : sequence of int
        Training images per class for the learning curve (at most ``n_train``,
        or, with ``split="holdout"``, the smallest class's training images).
    reference : dict, optional
        Published ``{label: {images_per_class: accuracy}}`` to draw beside
        (see :func:`study_reference`); a bare ``{images_per_class: accuracy}``
        is labelled "reference".
    comparable : bool, default=True
        Whether ``reference`` was measured in this run's setting (dataset,
        weights, layer). If not, it is drawn in grey and labelled "not
        comparable with this run".
    split : {"per-class", "holdout"}, default="per-class"
        ``"holdout"``: the report's Urban Tribes protocol (:func:`holdout_split`),
        the training curves on all the rest.
    holdout : float, default=HOLDOUT_FRACTION
        Fraction held out with ``split="holdout"``.
    random_state : int, default=0
        Seeds the holdout split.

    Returns
    -------
    results : dict
        ``test_accuracy`` (validation accuracy after the last epoch),
        ``max_test_accuracy``, the last epoch's training loss and accuracy and
        validation loss, the epoch curves, ``split`` (sizes and fractions),
        ``per_class``, ``per_class_accuracy`` and ``per_class_train_accuracy``;
        ``reference`` (``{"series": reference, "comparable": comparable}``,
        or None); ``tables``: ``curves`` (one row per epoch) and
        ``images_per_class``.

    Notes
    -----
    At one image per class a fit has as many classes as samples, which
    scikit-learn warns about (``y`` "could represent a regression problem");
    that warning is silenced here, where it is expected. Others pass.
    """
    X, y = data.filenames, data.target
    train, test = train_test_indices(y, split, n_train, n_test, holdout, random_state)
    n_classes = len(np.unique(y))
    largest = (
        n_train
        if split == "per-class"
        else int(np.bincount(np.unique(y[train], return_inverse=True)[1]).min())
    )
    if reference and not isinstance(next(iter(reference.values())), dict):
        reference = {"reference": reference}
    with sklearn.config_context(enable_metadata_routing=True), expected_warnings_ignored():
        pipe.fit(X[train], y[train], X_val=X[test], y_val=y[test])
        head = pipe[-1]
        sizes = [k * n_classes for k in per_class if k <= largest]
        _, train_scores, test_scores = learning_curve(
            pipe, X, y, train_sizes=sizes, cv=[(train, test)], shuffle=False
        )
    curves = _curves(head)
    trained = len(train) // n_classes if split == "per-class" else round(len(train) / n_classes, 1)
    per_class_rows = [
        {"images_per_class": s // n_classes, "train_accuracy": float(a), "validation_accuracy": float(b)}
        for s, a, b in zip(sizes, train_scores.mean(axis=1), test_scores.mean(axis=1))
    ]
    return {
        "n_classes": n_classes,
        "split": split_summary(y, train, test, split, holdout),
        "images_per_class_trained": trained,
        "reference": {"series": reference, "comparable": bool(comparable)} if reference else None,
        "test_accuracy": curves["validation_accuracy_curve"][-1],
        "max_test_accuracy": max(curves["validation_accuracy_curve"]),
        "final_training_loss": curves["loss_curve"][-1],
        "final_training_accuracy": curves["accuracy_curve"][-1],
        "final_validation_loss": curves["validation_loss_curve"][-1],
        **curves,
        "per_class": [s // n_classes for s in sizes],
        "per_class_accuracy": test_scores.mean(axis=1).tolist(),
        "per_class_train_accuracy": train_scores.mean(axis=1).tolist(),
        "tables": {"curves": _curve_rows(curves), "images_per_class": per_class_rows},
    }


def layer_cuts(
    data, pipe, *, layers=("block4_pool", "block5_pool"), pooling=None, n_classes=32, n_train=16, n_test=4,
    split="per-class", holdout=HOLDOUT_FRACTION, random_state=0,
):  # fmt: skip
    """The report's layer cuts: a softmax head on each (flattened) cut, with its epoch curves.

    The report trained its head on flattened ``block4_pool`` and
    ``block5_pool`` with 32 Caltech-256 classes and 16 images per class
    ("not able to achieve any learning", section 1.5) and on flattened
    ``block3_pool`` on Urban Tribes (9% validation accuracy, section 2.5).

    Parameters
    ----------
    data : Bunch
    pipe : Pipeline
        From :func:`make_pipeline`; its ``vgg`` step is re-cut for each layer.
    layers : sequence of str, default=("block4_pool", "block5_pool")
    pooling : {None, "avg", "max"}, default=None
        ``None`` flattens, as the report did.
    n_classes : int or None, default=32
        The first ``n_classes`` classes (see :func:`first_classes`).
    n_train, n_test, split, holdout, random_state
        As for :func:`training_and_learning_curves`.

    Returns
    -------
    results : dict
        ``rows``: one per cut, ``{"layer", "pooling", "n_features",
        "n_classes", "chance", "epochs", "final_training_accuracy",
        "final_validation_accuracy", "max_validation_accuracy"}``; ``cuts``:
        each cut's epoch curves; ``tables``: ``curves`` (one row per cut and
        epoch).
    """
    data = first_classes(data, n_classes)
    X, y = data.filenames, data.target
    train, test = train_test_indices(y, split, n_train, n_test, holdout, random_state)
    k = len(np.unique(y))
    rows, cuts, curve_rows = [], {}, []
    for layer in layers:
        model = sklearn.base.clone(pipe).set_params(vgg__layer=layer, vgg__pooling=pooling)
        with sklearn.config_context(enable_metadata_routing=True), expected_warnings_ignored():
            model.fit(X[train], y[train], X_val=X[test], y_val=y[test])
        how = cut_pooling(layer, pooling)
        curves = _curves(model[-1])
        cuts[layer] = curves
        curve_rows += _curve_rows(curves, layer=layer, pooling=how)
        rows.append({
            "layer": layer, "pooling": how, "n_features": int(model[0].n_features_out_), "n_classes": k,
            "chance": 1 / k, "epochs": curves["epochs"],
            "final_training_accuracy": curves["accuracy_curve"][-1],
            "final_validation_accuracy": curves["validation_accuracy_curve"][-1],
            "max_validation_accuracy": max(curves["validation_accuracy_curve"]),
        })  # fmt: skip
    return {"rows": rows, "cuts": cuts, "split": split_summary(y, train, test, split, holdout),
            "tables": {"curves": curve_rows}}  # fmt: skip


def temperature_sweep(
    data, pipe, *, temperatures=REPORT_TEMPERATURES, class_counts=(64, 256), n_train=16, n_test=4,
    baseline=None, note=None,
):  # fmt: skip
    """``GridSearchCV`` over ``vgg__temperature`` on the 1000 ImageNet outputs (Figures 18-21).

    For each number of classes (the first ``k`` classes of ``data``; all of
    them when it has fewer), the search scores every temperature on the
    study's split; then the head is refitted per temperature with the
    validation images, for its validation accuracy per epoch (Figures 18-19)
    and its maximum and final values (Figures 20-21). The logits come from
    the cache, so the whole sweep costs one VGG16 pass.

    Parameters
    ----------
    data : Bunch
    pipe : Pipeline
        From :func:`make_pipeline` with ``layer="predictions"`` (and, for the
        report's form, ``temperature_on="fc2"``).
    temperatures : sequence of float, default=REPORT_TEMPERATURES
    class_counts : sequence of int, default=(64, 256)
    n_train, n_test : int, default=16, 4
    baseline : Pipeline, optional
        Fitted on the same split for each ``k`` (the report compares the
        temperature head with the one on ``fc2``).
    note : str, optional
        Kept as ``results["note"]``, which the figures write across their axes
        (e.g. that the weights are random).

    Returns
    -------
    results : dict
        ``{"sweeps": {k: {"best_temperature", "best_max_temperature",
        "best_final_temperature", "temperatures", "max", "final", "curves",
        "baseline", "n_train", "n_test"}}, "rows", "tables"}``; ``curves``
        holds the validation accuracy per epoch for each T, ``max`` and
        ``final`` its maximum and last value; ``best_temperature`` is the
        search's (by final accuracy); a ``best_*`` is None where every score
        is NaN (every fit failed), ``baseline`` the ``baseline``
        pipeline's ``{"layer", "max", "final", "curve"}`` (or None).
    """
    available = len(np.unique(data.target))
    counts = sorted({min(k, available) for k in class_counts})
    sweeps, rows, curve_rows = {}, [], []
    temperatures = [float(t) for t in temperatures]
    for k in counts:
        subset = first_classes(data, k)
        X, y = subset.filenames, subset.target
        cv = PerClassSplit(n_train, n_test)
        with sklearn.config_context(enable_metadata_routing=True), expected_warnings_ignored():
            search = GridSearchCV(pipe, {"vgg__temperature": temperatures}, cv=cv)
            search.fit(X, y)
            train, test = next(cv.split(X, y))
            curves = {}
            for t in temperatures:
                model = sklearn.base.clone(pipe).set_params(vgg__temperature=t)
                model.fit(X[train], y[train], X_val=X[test], y_val=y[test])
                curves[t] = [float(a) for a in model[-1].validation_accuracy_curve_]
            base = None
            if baseline is not None:
                model = sklearn.base.clone(baseline).fit(X[train], y[train], X_val=X[test], y_val=y[test])
                acc = [float(a) for a in model[-1].validation_accuracy_curve_]
                base = {"layer": model[0].layer, "max": max(acc), "final": acc[-1], "curve": acc}
        maxima, finals = [max(curves[t]) for t in temperatures], [curves[t][-1] for t in temperatures]
        sweeps[str(k)] = {
            "best_temperature": _best_of(temperatures, search.cv_results_["mean_test_score"]),
            "best_max_temperature": _best_of(temperatures, maxima),
            "best_final_temperature": _best_of(temperatures, finals),
            "temperatures": temperatures,
            "max": maxima,
            "final": finals,
            "curves": {f"{t:g}": curves[t] for t in temperatures},
            "baseline": base,
            "n_train": n_train,
            "n_test": n_test,
        }
        rows += [
            {"n_classes": k, "temperature": t, "max_validation_accuracy": m, "final_validation_accuracy": f}
            for t, m, f in zip(temperatures, maxima, finals)
        ]
        curve_rows += [{"n_classes": k, "temperature": t, "epoch": e + 1, "validation_accuracy": a}
                       for t in temperatures for e, a in enumerate(curves[t])]  # fmt: skip
    return {"sweeps": sweeps, "rows": rows, "tables": {"curves": curve_rows}, "note": note}


def filters_and_activations(vgg, image, *, layers=("block1_conv1", "block5_conv3")):
    """The numbers behind Figures 4-5 and 12-13: each activation map's shape, mean and maximum.

    Parameters
    ----------
    vgg : fitted VGG16FeatureTransformer
        Cut at (or below) the deepest of ``layers``.
    image : array-like or path-like
        The one image whose maps are measured.
    layers : pair of str, default=("block1_conv1", "block5_conv3")
        The first and last conv layers.

    Returns
    -------
    results : dict
        ``shapes``: the maps' shapes; ``rows``: the mean and maximum of every
        map (the figures: :func:`~sklvgg.experiments.filter_figures`).
    """
    X = [image] if isinstance(image, (str, os.PathLike)) else np.asarray(image)[None]
    shapes, rows = {}, []
    for layer in layers:
        maps = vgg.activation_maps(X, layer=layer)[0]
        shapes[layer] = list(maps.shape)
        rows += [
            {
                "layer": layer,
                "channel": c,
                "mean": float(maps[..., c].mean()),
                "max": float(maps[..., c].max()),
            }
            for c in range(maps.shape[-1])
        ]
    return {"shapes": shapes, "rows": rows}

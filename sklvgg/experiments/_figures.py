"""The figures of an experiment's results, drawn by :mod:`sklvgg.plotting`'s Displays.

Two styles. ``"combined"`` (the default of ``reproduce``): a few figures per
experiment, several quantities side by side, accuracy against images per class on
a log2 axis. ``"report"``: one file per figure of the report, named after it
(:data:`~sklvgg.experiments.REPORT_FIGURES`), with the report's axes: iterations
(mini-batch steps) where it plots iterations, its linear sample axis, one
quantity per figure. Either way the report's values are drawn where they belong
(:func:`draw_report_references`).
"""

import os

import numpy as np

from ..exceptions import InputError
from ..plotting import (
    CurvesBySettingDisplay,
    ImagesPerClassDisplay,
    LayerCutsDisplay,
    TemperatureSweepDisplay,
    TrainingCurvesDisplay,
    draw_reference,
    plot_activation_maps,
    plot_conv_filters,
)
from ._report import REPORT_FIGURES, TEMPERATURE_CLASS_COUNTS

#: Where each report figure's quantity lies among the combined figures: ``number
#: -> (figure name, axes index)``; the temperature ones are filled per class count.
_COMBINED_PLACE = {1: ("training_curves", 0), 2: ("training_curves", 1), 3: ("images_per_class", 0),
                   6: ("training_curves", 0), 7: ("training_curves", 0), 8: ("training_curves", 1),
                   9: ("training_curves", 1), 10: ("images_per_class", 0), 11: ("images_per_class", 0),
                   14: ("cut_block3_pool", 1), 15: ("cut_block3_pool", 1), 16: ("cut_block3_pool", 0),
                   17: ("cut_block3_pool", 0)}  # fmt: skip


#: Which training accuracy each figure shows: the two are different measures of one fit.
_BATCH_MEAN = "training: mean over each epoch's mini-batches (Keras' history)"
_AFTER_FIT = "training: accuracy on the training images after the fit"


def _training_display(curves):
    """A :class:`TrainingCurvesDisplay` of a ``_curves`` dict."""
    return TrainingCurvesDisplay(
        curves["loss_curve"], curves["accuracy_curve"], curves.get("validation_loss_curve"),
        curves.get("validation_accuracy_curve"), best_epoch=curves.get("best_epoch"),
        batches_per_epoch=curves.get("batches_per_epoch", curves.get("iterations_per_epoch")),
    )  # fmt: skip


def _sweep_displays(sweep, note):
    curves = {float(t): c for t, c in sweep["curves"].items()}
    return (
        CurvesBySettingDisplay(curves, setting_name="T", note=note),
        TemperatureSweepDisplay(
            sweep["temperatures"], sweep["max"], sweep["final"], best_temperature=sweep["best_temperature"],
            baseline=sweep.get("baseline"), note=note,
        ),
    )  # fmt: skip


def _combined(experiment, results):
    figures = {}
    if experiment in ("caltech256", "urban-tribes"):
        title = (
            f"{results['n_classes']} classes, {results['images_per_class_trained']} training images per class"
        )
        figures["training_curves"] = _training_display(results).plot(title=f"{title}\n{_BATCH_MEAN}").figure_
        figures["images_per_class"] = ImagesPerClassDisplay.from_results(
            results, xscale="log2", title=f"Accuracy vs. training images per class\n{_AFTER_FIT}"
        ).figure_
    cut = results.get("cut") if experiment == "urban-tribes" else results if experiment == "layers" else None
    for row in (cut or {}).get("rows", []):
        title = (
            f"{row['layer']} ({row['pooling']}, {row['n_features']:,} features), {row['n_classes']} classes"
        )
        figures[f"cut_{row['layer']}"] = (
            _training_display(cut["cuts"][row["layer"]]).plot(title=title).figure_
        )
    if experiment == "layers":
        figures["layers"] = LayerCutsDisplay.from_results(results).figure_
    for k, sweep in results.get("sweeps", {}).items() if experiment == "temperature" else ():
        curves, sweep_display = _sweep_displays(sweep, results.get("note"))
        title = f"{k} classes, {sweep['n_train']} images per class"
        figures[f"temperature_curves_{k}"] = curves.plot(
            title=f"Validation accuracy per epoch and temperature, {title}"
        ).figure_
        figures[f"temperature_{k}"] = sweep_display.plot(title=f"Temperature sweep, {title}").figure_
    return figures


def temperature_stand_ins(class_counts):
    """Which of a run's class counts stands for the report's 64 and 256 classes.

    Parameters
    ----------
    class_counts : iterable of int or str
        The class counts of the run's sweeps.

    Returns
    -------
    stand_ins : dict
        ``{64: k, 256: k}``: the report's count itself when it ran, else the
        smallest count for 64 and the largest other one for 256 (absent when
        there is none).
    """
    counts = sorted({int(k) for k in class_counts})
    stand_ins = {}
    for report_k in TEMPERATURE_CLASS_COUNTS:
        if report_k in counts:
            stand_ins[report_k] = report_k
    rest = [k for k in counts if k not in stand_ins.values()]
    for report_k in TEMPERATURE_CLASS_COUNTS:
        if report_k not in stand_ins and rest:
            stand_ins[report_k] = rest.pop(0) if report_k == 64 else rest.pop()
    return stand_ins


def _report_style(experiment, results):
    figures = {}
    stems = {n: stem for n, (exp, stem, _, _) in REPORT_FIGURES.items() if exp == experiment}
    if experiment == "caltech256":
        display = _training_display(results)
        figures[stems[1]] = display.plot(quantities="loss", x_unit="iteration").figure_
        figures[stems[2]] = display.plot(
            quantities="accuracy", x_unit="iteration", title=f"Accuracy\n{_BATCH_MEAN}"
        ).figure_
        figures[stems[3]] = ImagesPerClassDisplay.from_results(
            results, xscale="linear", title=f"Accuracy vs. training images per class\n{_AFTER_FIT}"
        ).figure_
    elif experiment == "urban-tribes":
        display = _training_display(results)
        for n, quantity, subset in [(6, "loss", "training"), (7, "loss", "validation"),
                                    (8, "accuracy", "training"), (9, "accuracy", "validation")]:  # fmt: skip
            title = f"Training accuracy\n{_BATCH_MEAN}" if n == 8 else None
            figures[stems[n]] = display.plot(
                quantities=quantity, x_unit="iteration", curves=subset, title=title
            ).figure_
        per_class = ImagesPerClassDisplay.from_results(
            results,
            xscale="linear",
            curves="training",
            title=f"Training accuracy vs. images per class\n{_AFTER_FIT}",
        )
        figures[stems[10]] = per_class.figure_
        figures[stems[11]] = per_class.plot(xscale="linear", curves="validation").figure_
        cuts = results.get("cut", {}).get("cuts", {})
        name = (
            "block3_pool" if "block3_pool" in cuts else next(iter(cuts), None)
        )  # the report's, or the run's
        if name:
            display = _training_display(cuts[name])
            for n, quantity, subset in [(14, "accuracy", "training"), (15, "accuracy", "validation"),
                                        (16, "loss", "training"), (17, "loss", "validation")]:  # fmt: skip
                title = f"Flattened {name}: {subset} {quantity}" + (
                    "" if name == "block3_pool" else " (the report's: block3_pool)"
                )
                if (quantity, subset) == ("accuracy", "training"):
                    title += f"\n{_BATCH_MEAN}"
                figures[stems[n]] = display.plot(
                    quantities=quantity, x_unit="iteration", curves=subset, title=title
                ).figure_
    elif experiment == "temperature":
        sweeps = results["sweeps"]
        for report_k, k in temperature_stand_ins(sweeps).items():
            curves, sweep_display = _sweep_displays(sweeps[str(k)], results.get("note"))
            first = 18 if report_k == 64 else 19
            suffix = f", {k} classes" + ("" if k == report_k else f" (the report's has {report_k})")
            figures[stems[first]] = curves.plot(title=f"Validation accuracy per epoch{suffix}").figure_
            figures[stems[first + 2]] = sweep_display.plot(
                title=f"Max and final accuracy vs. T{suffix}"
            ).figure_
    return figures


def experiment_figures(experiment, results, *, style="combined", table=None):
    """The figures of an experiment's results.

    Parameters
    ----------
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}
    results : dict
        From the experiment's function (for ``"urban-tribes"`` with the
        flattened cut in ``results["cut"]``; for ``"temperature"`` with an
        optional ``note`` written across its figures).
    style : {"combined", "report"}, default="combined"
        ``"combined"``: ``training_curves`` and ``images_per_class``
        (``cut_<layer>`` for the cuts, ``layers``, ``temperature_curves_<k>``
        and ``temperature_<k>``); ``"report"``: one figure per report figure,
        keyed by its file stem (``figure_01_loss``, ...).
    table : dict, optional
        From :func:`~sklvgg.experiments.compare_with_report`: its reference
        lines are drawn on the figures (see :func:`draw_report_references`).

    Returns
    -------
    figures : dict of str to matplotlib.figure.Figure
    """
    if style not in ("combined", "report"):
        raise InputError(f"style must be 'combined' or 'report'; got {style!r}.")
    figures = _combined(experiment, results) if style == "combined" else _report_style(experiment, results)
    if table is not None:
        draw_report_references(figures, experiment, results, table, style=style)
    return figures


def _place(number, experiment, results, style):
    """``(figure name, axes index)`` of a report figure's quantity in ``style``, or None."""
    if experiment == "temperature":
        report_k = TEMPERATURE_CLASS_COUNTS[(number - 18) % 2]
        if str(report_k) not in results.get("sweeps", {}):
            return None  # the report's value is for its own class count only
        return (REPORT_FIGURES[number][1], 0) if style == "report" else (f"temperature_{report_k}", 0)
    if style == "report":
        return REPORT_FIGURES[number][1], 0
    return _COMBINED_PLACE.get(number)


def draw_report_references(figures, experiment, results, table, *, style="combined"):
    """Draw the report's values (``table["references"]``) on the figures that show them.

    A reference is drawn red and dashed when the run has the report's setting,
    grey and marked "not comparable with this run" otherwise; a report value
    for 64 or 256 classes only on that class count's figures.

    Parameters
    ----------
    figures : dict of str to Figure
        From :func:`experiment_figures` with the same ``style``.
    experiment : str
    results : dict
    table : dict
        From :func:`~sklvgg.experiments.compare_with_report`.
    style : {"combined", "report"}, default="combined"
    """
    for reference in table.get("references", []):
        number = reference.get("figure")
        place = _place(number, experiment, results, style) if number else None
        if place is None or place[0] not in figures:
            continue
        name, axis = place
        spec = dict(reference["spec"], label=f"{reference['spec']['label']} (Fig. {number})")
        draw_reference(figures[name].axes[axis], comparable=table["comparable"], **spec)


def filter_figures(vgg, image, *, layers=("block1_conv1", "block5_conv3"), experiment=None, style="combined"):
    """Filters and activation maps of the first and last conv layers (Figures 4-5, 12-13).

    Parameters
    ----------
    vgg : fitted VGG16FeatureTransformer
    image : array-like or path-like
        One image.
    layers : pair of str, default=("block1_conv1", "block5_conv3")
    experiment : {"caltech256", "urban-tribes"}, optional
        With ``style="report"``: whose report figures the maps are.
    style : {"combined", "report"}, default="combined"
        ``"combined"``: ``filters_<layer>`` and ``activations_<layer>`` for
        both layers (every channel; hundreds of tiles drawn as one image);
        ``"report"``: the activation maps alone, as the report's Figures 4-5
        (Caltech-256) or 12-13 (Urban Tribes).

    Returns
    -------
    figures : dict of str to matplotlib.figure.Figure
    """
    X = [image] if isinstance(image, (str, os.PathLike)) else np.asarray(image)[None]
    if style == "report":
        first = {"caltech256": 4, "urban-tribes": 12}[experiment]
        return {REPORT_FIGURES[first + i][1]: plot_activation_maps(vgg, X, layer=layer)
                for i, layer in enumerate(layers)}  # fmt: skip
    figures = {}
    for layer in layers:
        figures[f"filters_{layer}"] = plot_conv_filters(vgg, layer=layer)
        figures[f"activations_{layer}"] = plot_activation_maps(vgg, X, layer=layer)
    return figures


def report_figure_files(experiment, results, figures, *, style="combined"):
    """Which written figure stands for each of the report's figures of ``experiment``.

    Parameters
    ----------
    experiment : str
    results : dict
    figures : iterable of str
        The names of the figures written (from :func:`experiment_figures` and
        :func:`filter_figures`).
    style : {"combined", "report"}, default="combined"

    Returns
    -------
    files : dict
        ``{number: name or None}`` for every report figure of the experiment
        (None: this run drew nothing for it, e.g. a class count not run).
    """
    figures = set(figures)
    files = {}
    for number, (exp, stem, _, _) in REPORT_FIGURES.items():
        if exp != experiment:
            continue
        if style == "report":
            files[number] = stem if stem in figures else None
            continue
        if number in (4, 5, 12, 13):
            name = f"activations_{'block1_conv1' if number in (4, 12) else 'block5_conv3'}"
        elif experiment == "temperature":
            k = temperature_stand_ins(results.get("sweeps", {})).get(
                TEMPERATURE_CLASS_COUNTS[(number - 18) % 2]
            )
            name = None if k is None else f"temperature{'_curves' if number < 20 else ''}_{k}"
        else:
            name = _COMBINED_PLACE[number][0]
            cut = [row["layer"] for row in results.get("cut", {}).get("rows", [])]
            if name == "cut_block3_pool" and cut:
                name = f"cut_{cut[0]}"  # the run's one cut stands for the report's block3_pool
        files[number] = name if name in figures else None
    return files

"""One experiment of the report, run end to end on a dataset: what ``reproduce`` calls.

:func:`run_experiment` builds the pipeline of the protocol, runs the experiment,
sets the report's numbers beside the run's and draws the figures; it returns
plain results (with the figures under ``"figures"``) and writes nothing. The
command line parses, calls this, prints and saves.
"""

from numbers import Integral

import numpy as np
from sklearn.base import clone

from .._architecture import SPATIAL_LAYERS
from .._weights import has_top
from ..exceptions import InputError
from ..summary import model_summary, temperature_model_summary
from ._comparison import compare_with_report, study_reference
from ._figures import experiment_figures, filter_figures, report_figure_files, temperature_stand_ins
from ._protocol import HOLDOUT_FRACTION, default_preprocessing, first_classes, make_pipeline
from ._report import REPORT_TEMPERATURES
from ._runs import filters_and_activations, layer_cuts, temperature_sweep, training_and_learning_curves

#: The learning curve's sizes (images per class), as many as the split allows.
PER_CLASS = (1, 2, 4, 8, 16, 32, 64, 128)


def _merge(results, part, key, keep_rows=True):
    """Nest ``part``'s numbers under ``key``; its tables (and rows, kept or CSV only) join ``results``'."""
    for name, rows in part.pop("tables", {}).items():
        results.setdefault("tables", {})[f"{key}_{name}"] = rows
    if part.get("rows"):
        results.setdefault("tables", {})[key] = part["rows"] if keep_rows else part.pop("rows")
    results[key] = part


def _learning(experiment, data, pipe, setting, split, cut_layer):
    reference, comparable = study_reference(
        dataset=setting["dataset"], weights=setting["weights_option"], layer=setting["layer"],
        experiment=experiment, protocol=setting["protocol"], input_size=setting["input_size"],
        preprocessing=setting["preprocessing"],
    )  # fmt: skip
    results = training_and_learning_curves(
        data, pipe, per_class=PER_CLASS, reference=reference, comparable=comparable, **split
    )
    if experiment == "urban-tribes" and cut_layer is not None:
        cut = layer_cuts(data, pipe, layers=[cut_layer], pooling=None, n_classes=None, **split)
        _merge(results, cut, "cut")
    return results


def temperature_weights(weights):
    """The weights of the temperature experiment, and a warning when they are not the report's.

    The experiment needs VGG16's 1000-way top. With ``"imagenet"`` (or a file
    that holds the top) that is the report's network. Otherwise (offline:
    ``"hed-bsds500"``, a file of conv layers, ``None``) the conv layers given
    run under a random fully connected top whose ``predictions`` layer has a
    non-zero random bias, so that the report's form (``fc2``) and the logits
    form still differ; its numbers mean nothing about ImageNet's classes.

    Parameters
    ----------
    weights : {"imagenet", "hed-bsds500"}, path-like or None

    Returns
    -------
    weights : str, path-like or dict
        As :class:`~sklvgg.VGG16FeatureTransformer` takes them.
    note : str or None
        The warning to print and to write on the figures.
    """
    if has_top(weights):
        return weights, None
    conv = "random conv layers" if weights is None else "the given conv layers"
    note = (f"a random 1000-way top (random non-zero bias) on {conv}: these numbers mean nothing until "
            f"--weights imagenet")  # fmt: skip
    return {"conv": weights, "top": "random"}, note


def _weights_label(weights):
    """``weights`` in words for the comparison, a random top said as such."""
    if not isinstance(weights, dict):
        return weights
    conv = "random" if weights["conv"] is None else weights["conv"]
    return f"{conv} conv layers under a random top"


def _class_counts(experiment, n_classes):
    """``n_classes`` checked: one count (or None) for all but the temperature sweep, one or more for it."""
    if experiment == "temperature":
        return (64, 256) if n_classes is None else [int(k) for k in np.atleast_1d(n_classes)]
    if n_classes is not None and not isinstance(n_classes, Integral):
        raise InputError(
            f"n_classes of the {experiment} experiment is one class count (or None: all); got {n_classes!r}. "
            f"Several counts are for the temperature sweep."
        )
    return n_classes


def _head_setting(head):
    """The head's settings that shape a fit, for the record."""
    names = ("solver", "learning_rate", "learning_rate_init", "batch_size", "max_iter", "tol", "alpha",
             "standardize", "init", "random_state")  # fmt: skip
    return {name: head.get_params()[name] for name in names}


def _model_summaries(experiment, results, setting):
    """``[(title, summary)]``: the network each part of the run trained, as ``model.summary()`` would say."""
    if experiment == "temperature":
        return [
            (f"Temperature model, {k} classes (the report's: fc2 / T, frozen predictions, new softmax)",
             temperature_model_summary(int(k)))
            for k in results["sweeps"]
        ]  # fmt: skip
    rows = results["rows"] if experiment == "layers" else [
        {"layer": setting["layer"], "pooling": setting["pooling"], "n_classes": results["n_classes"]}
    ]  # fmt: skip
    return [
        (f"{row['layer']} ({row['pooling']}), {row['n_classes']} classes",
         model_summary(row["layer"], row["n_classes"], input_size=setting["input_size"],
                       pooling=None if row["pooling"] in ("none", "flatten", "-") else row["pooling"]))
        for row in rows
    ]  # fmt: skip


def run_experiment(
    experiment, data, *, dataset, weights, protocol="study", epochs=None, preprocessing=None, memory=None,
    layer=None, pooling="avg", input_size=224, split="per-class", n_train=16, n_test=4,
    holdout=HOLDOUT_FRACTION, n_classes=None, layers=("block4_pool", "block5_pool"), cut_layer="block3_pool",
    temperatures=REPORT_TEMPERATURES, temperature_on=None, figures="combined", verbose=1,
):  # fmt: skip
    """Run one of the report's experiments and compare it with the report.

    Parameters
    ----------
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}
    data : Bunch
        From :mod:`sklvgg.datasets`.
    dataset : str
        What ``data`` is, for the comparison (``"caltech256"``,
        ``"urban-tribes"`` or anything else).
    weights : {"imagenet", "hed-bsds500"}, path-like, dict or None
        VGG16's weights, as :class:`~sklvgg.VGG16FeatureTransformer` takes them.
    protocol : {"study", "tuned"}, default="study"
    epochs : int, optional
    preprocessing : {"caffe", "none", "samplewise"}, optional
        Default: :func:`default_preprocessing` of ``protocol``.
    memory : path-like, optional
        The feature cache.
    layer, pooling, input_size
        The cut of ``"caltech256"`` and ``"urban-tribes"`` (``pooling`` also
        of ``"layers"``); ``input_size`` of all but ``"temperature"`` (224).
    split : {"per-class", "holdout"}, default="per-class"
    n_train, n_test : int, default=16, 4
    holdout : float, default=HOLDOUT_FRACTION
    n_classes : int or sequence of int, optional
        The first classes (a sequence: one temperature sweep each).
    layers : sequence of str
        The cuts of ``"layers"``.
    cut_layer : str or None, default="block3_pool"
        The flattened cut of ``"urban-tribes"`` (None: none).
    temperatures : sequence of float
    temperature_on : {"fc2", "logits"}, optional
        Default: ``"fc2"`` with the study protocol, ``"logits"`` otherwise.
    figures : {"combined", "report"}, default="combined"
        The figure style (see :func:`experiment_figures`).
    verbose : int, default=1
        Of the transformers.

    Returns
    -------
    results : dict
        The experiment's results, plus ``setting`` (what the run used),
        ``report_vs_run`` (:func:`compare_with_report`'s table),
        ``model_summary`` (``{title: summary}``), ``figures`` (name ->
        Figure) and ``report_figures`` (report figure number -> figure name).
    """
    preprocessing = preprocessing or default_preprocessing(protocol)
    n_classes = _class_counts(experiment, n_classes)
    common = dict(weights=weights, memory=memory, verbose=verbose, protocol=protocol, epochs=epochs,
                  preprocessing=preprocessing)  # fmt: skip
    setting = {"dataset": dataset, "weights_option": weights, "protocol": protocol,
               "preprocessing": preprocessing, "n_train": n_train, "n_test": n_test,
               "epochs": epochs}  # fmt: skip
    split_options = dict(n_train=n_train, n_test=n_test)
    if experiment == "temperature":
        results, pipe, image = _run_temperature(data, common, setting, split_options, temperatures,
                                                temperature_on, n_classes)  # fmt: skip
    else:
        split_options.update(split=split, holdout=holdout)
        setting.update(split=split, holdout=holdout, input_size=input_size, pooling=pooling or "none")
        common.update(input_size=input_size, pooling=pooling)
        if experiment == "layers":
            pipe, image = make_pipeline(**common), None
            setting.update(layer=None, layers=list(layers))
            results = layer_cuts(
                data, pipe, layers=layers, pooling=pooling, n_classes=n_classes, **split_options
            )
        else:
            results, pipe, image = _run_learning(experiment, data, common, setting, split_options, layer,
                                                 cut_layer, n_classes)  # fmt: skip
    _record(experiment, results, setting, pipe, data, layers if experiment == "layers" else None)
    form = {"temperature_on": setting["temperature_on"]} if "temperature_on" in setting else {}
    table = compare_with_report(
        results, experiment, dataset=dataset, layer=setting["layer"], protocol=protocol,
        weights=_weights_label(pipe[0].weights), input_size=setting["input_size"],
        preprocessing=preprocessing, setting=setting, **form,
    )  # fmt: skip
    results["report_vs_run"] = table
    results.setdefault("tables", {})["report_vs_run"] = table["rows"]
    results["model_summary"] = dict(_model_summaries(experiment, results, setting))
    drawn = experiment_figures(experiment, results, style=figures, table=table)
    if image is not None:
        vgg = clone(pipe[0]).set_params(layer="block5_conv3", pooling=None, verbose=0).fit([image])
        _merge(results, filters_and_activations(vgg, image), "activations", keep_rows=False)
        drawn.update(filter_figures(vgg, image, experiment=experiment, style=figures))
    results["report_figures"] = report_figure_files(experiment, results, drawn, style=figures)
    results["report_figure_notes"] = _report_figure_notes(experiment, results)
    results["figures"] = drawn
    return results


def _run_learning(experiment, data, common, setting, split_options, layer, cut_layer, n_classes):
    """The Caltech-256 and Urban Tribes experiments: ``(results, pipe, the image of the maps)``."""
    data = first_classes(data, n_classes)
    pipe = make_pipeline(layer=layer, **common)
    cut = pipe[0].layer
    setting.update(layer=cut, pooling=setting["pooling"] if cut in SPATIAL_LAYERS else "none")
    return _learning(experiment, data, pipe, setting, split_options, cut_layer), pipe, data.filenames[0]


def _run_temperature(data, common, setting, split_options, temperatures, temperature_on, n_classes):
    """The temperature sweep at 224 px, on a random top offline: ``(results, pipe, None)``."""
    common["weights"], note = temperature_weights(common["weights"])
    temperature_on = temperature_on or ("fc2" if common["protocol"] == "study" else "logits")
    setting.update(layer="predictions", temperature_on=temperature_on, input_size=224, pooling="none")
    common.update(pooling=None, input_size=224)
    pipe = make_pipeline(layer="predictions", temperature_on=temperature_on, **common)
    results = temperature_sweep(
        data, pipe, temperatures=temperatures, class_counts=n_classes, **split_options,
        baseline=make_pipeline(layer="fc2", **common), note=note,
    )  # fmt: skip
    return results, pipe, None


def _record(experiment, results, setting, pipe, data, layers):
    """What the run used (weights per part, head, seeds, classes) into ``setting``, then ``results``."""
    vgg = clone(pipe[0])
    if layers is not None:
        vgg.set_params(layer=list(layers))
    vgg.fit(data.filenames[:1])  # resolves the weights, reads no image
    seeds = {"transformer": vgg.random_state, "head": pipe[-1].random_state, "split": 0}
    setting.update(weights=vgg.weights_parts_, weights_id=vgg.weights_id_, head=_head_setting(pipe[-1]),
                   seeds=seeds, precision=vgg.precision_)  # fmt: skip
    if experiment == "temperature":
        setting["n_classes"] = sorted(int(k) for k in results["sweeps"])
    else:
        setting["n_classes"] = (
            results["rows"][0]["n_classes"] if experiment == "layers" else results["n_classes"]
        )
    results["setting"] = setting


def _report_figure_notes(experiment, results):
    """``{report figure: words}`` where this run's figure stands for another cut or class count."""
    cut = [row["layer"] for row in results.get("cut", {}).get("rows", [])]
    if experiment == "urban-tribes" and cut and cut[0] != "block3_pool":
        return {n: f"this run's flattened {cut[0]}; the report's block3_pool" for n in (14, 15, 16, 17)}
    if experiment != "temperature":
        return {}
    stand_ins = temperature_stand_ins(results["sweeps"])
    return {
        n: f"this run's {stand_ins[k]} classes; the report's {k}"
        for n, k in ((18, 64), (19, 256), (20, 64), (21, 256))
        if k in stand_ins and stand_ins[k] != k
    }
